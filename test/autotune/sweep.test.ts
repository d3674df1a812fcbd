// The tuner's bookkeeping, without a GPU: which keys a sweep still has to measure (it resumes, skipping what
// is tuned, and retunes what a kernel edit made stale), and which candidates a build log rules out.

import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { loadKernels } from "../../codegen/frontend/load.js";
import { TUNING_FORMAT, type TuningDatabase, type TuningMetadata } from "../../codegen/tuning/database.js";
import { kernelDigest } from "../../codegen/tuning/digest.js";
import { pendingKeys, rejectedVariants, type SweepOptions } from "../../autotune/sweep.js";
import { decodeAttentionCalls, randomFirstPicks, TOPK_SHAPES } from "../../autotune/problems.js";
import { budgetSplit, unionOfFirstPicks } from "../../reference/lessismore.js";
import { rng } from "../../reference/random.js";
import { decodeAttention } from "../../dsl/kernels/decode_attention.js";
import { topkKernel } from "../../dsl/kernels/topk.js";

const options = { matrix: { headDims: [128], groupSizes: [4], dtypes: ["bf16"] }, retune: false } as unknown as SweepOptions;

describe("lim tune", () => {
  it("measures only the keys the database lacks or holds for an earlier kernel", async () => {
    const sources = await loadKernels(PROJECT_ROOT, ["topk"]);
    const digest = kernelDigest(sources[0].fn);
    const matrix = { ...options.matrix, budgets: [2048] };
    const empty: TuningDatabase = { format: TUNING_FORMAT, metadata: {} as TuningMetadata, entries: {} };
    const all = pendingKeys(sources, { ...options, matrix }, empty).map((k) => k.key);
    expect(all).toEqual(["topk__k2048@length_per_row0-384", "topk__k2048@length_per_row384-2048", "topk__k2048@length_per_row2048-6144", "topk__k2048@length_per_row6144-"]);
    const tuned = { source: digest } as TuningDatabase["entries"][string];
    const db = { ...empty, entries: { [all[0]]: tuned, [all[1]]: { ...tuned, source: "edited-since" } } };
    expect(pendingKeys(sources, { ...options, matrix }, db).map((k) => k.key)).toEqual(all.slice(1));
    expect(pendingKeys(sources, { ...options, matrix, retune: true }, db).map((k) => k.key)).toEqual(all);
  });

  it("measures paged decode-attention keys of their own where --caches names paged", async () => {
    const sources = await loadKernels(PROJECT_ROOT, ["decode_attention"]);
    const empty: TuningDatabase = { format: TUNING_FORMAT, metadata: {} as TuningMetadata, entries: {} };
    const keys = (caches: string[]) => pendingKeys(sources, { ...options, matrix: { ...options.matrix, caches, kvDtypes: ["auto"] } }, empty).map((k) => k.key);
    const buckets = decodeAttention.spec.bucket.bounds.length + 1;
    expect(keys(["contiguous"])).toHaveLength(buckets);
    expect(keys(["contiguous"]).every((k) => k.startsWith("decode_attention__d128_g4_bf16_contiguous@"))).toBe(true);
    const both = keys(["contiguous", "paged"]);
    expect(both.filter((k) => k.startsWith("decode_attention__d128_g4_bf16_paged@"))).toHaveLength(buckets);
    expect(both).toHaveLength(2 * buckets);
  });

  it("times each top-k bucket on calls inside it", () => {
    const { bounds, tunedAt } = topkKernel.spec.bucket;
    const bucketOf = (measure: number) => bounds.filter((b) => measure >= b).length;
    expect(Object.keys(TOPK_SHAPES).map(Number)).toEqual([...tunedAt]);
    for (const point of tunedAt) {
      expect(TOPK_SHAPES[point].length).toBeGreaterThan(1);
      for (const [rows, length] of TOPK_SHAPES[point]) expect([rows, length, bucketOf(Math.floor(length / rows))]).toEqual([rows, length, bucketOf(point)]);
    }
  });

  it("times each decode_attention bucket on every kind of call it serves, inside it", () => {
    // The bucket is rows per block: max_seqlen for full attention, max_count for a list. A bucket of list
    // lengths (budgets up to 8192) serves full attention over as many tokens too, and is timed on both.
    const { bounds, tunedAt } = decodeAttention.spec.bucket;
    const bucketOf = (measure: number) => bounds.filter((b) => measure >= b).length;
    for (const point of tunedAt) {
      const calls = decodeAttentionCalls(point);
      const kinds = [...new Set(calls.map((c) => c.kind))];
      expect(kinds, `bucket at ${point}`).toEqual(point <= 8192 ? ["sparse", "full"] : ["full"]);
      for (const c of calls) {
        expect(c.batch === 1 || c.batch === 8).toBe(true);
        // Full attention reads the whole cache (its rows per block); a list reads `point` entries of a longer one.
        expect(bucketOf(c.kind === "full" ? c.cache : point), `${c.kind} at B ${c.batch} over ${c.cache}`).toBe(bucketOf(point));
        if (c.kind === "sparse") expect(c.cache).toBeGreaterThan(point);
      }
    }
  });

  it("checks the union on first-pick keys each request's own length could hold", () => {
    // Each request's picks lie in its candidates [sinks, n - recent), have distinct keys below middle x heads,
    // and number at least middle (else the kernel refuses the keys); past n, no pick.
    const lengths = [1025, 5000, 40000];
    const stride = 40000;
    const [budget, heads] = [1024, 8];
    const { middle, recent } = budgetSplit(budget, 0.25, 4);
    const keys = randomFirstPicks(rng(7), lengths, stride, budget, heads);
    lengths.forEach((n, b) => {
      const row = keys.subarray(b * stride, (b + 1) * stride);
      const picked = [...row.keys()].filter((j) => row[j] < middle * heads);
      expect(picked.every((j) => j >= 4 && j < n - recent), `request ${b}: picks inside its candidates`).toBe(true);
      expect(new Set(picked.map((j) => row[j])).size, `request ${b}: distinct keys`).toBe(picked.length);
      expect(picked.length, `request ${b}: at least middle picks`).toBeGreaterThanOrEqual(middle);
      expect(unionOfFirstPicks(row, n, budget, 0.25, 4, heads)).toHaveLength(budget);
    });
  });

  it("rules out candidates that fail to compile, spill or use a stack frame, from ninja's log", () => {
    const obj = (name: string) => `CMakeFiles/lim_objects.dir/tmp/gen/kernels/${name}.cu.o`;
    const log = [
      `[1/4] Building CUDA object ${obj("topk__k1024__t512_i8_c32768")}`,
      "ptxas info    : Function properties for _Z...topk__k1024__t512_i8_c32768_kernel",
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
      "ptxas info    : Used 64 registers, used 1 barriers, 20736 bytes smem",
      `[2/4] Building CUDA object ${obj("topk__k1024__t1024_i16_c16384")}`,
      "    48 bytes stack frame, 48 bytes spill stores, 84 bytes spill loads",
      "ptxas info    : Used 64 registers, used 1 barriers",
      `[3/4] Building CUDA object ${obj("topk__k1024__t256_i4_c16384")}`,
      `FAILED: [code=1] ${obj("topk__k1024__t256_i4_c16384")}`,
      "/usr/local/cuda/bin/nvcc ... -c kernels/topk__k1024__t256_i4_c16384.cu",
      "kernels/topk__k1024__t256_i4_c16384.cu(80): error: too many resources requested",
      "[4/4] Building CXX object CMakeFiles/lim_objects.dir/variants.cpp.o",
      "    8 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
      "ptxas info    : Used 8 registers",
    ];
    expect(rejectedVariants(log)).toEqual(
      new Map([
        ["topk__k1024__t1024_i16_c16384", "spills 48 bytes (stores) and 84 bytes (loads) to local memory"],
        ["topk__k1024__t256_i4_c16384", "does not compile: kernels/topk__k1024__t256_i4_c16384.cu(80): error: too many resources requested"],
      ]),
    );
  });
});
