// The selection kernels against the literal specification (reference/lessismore.ts), compared as
// exact index lists: top-k for every generated variant (ties, NaN and infinities included, 20 repeated runs
// for determinism), LessIsMore's shared set (budgets 64 to 8192; ties, NaN and infinities; every union
// schedule 20 times) and TidalDecode's per-head sets on ragged batches, attention
// recall, the selection layer's logits, and the argument errors. `bench/device/suite.sh topk-schedules`
// generates several top-k schedules per budget (every cluster size) and runs this file over all of them.

import { readFileSync } from "node:fs";
import { describe, expect, it, onTestFinished } from "vitest";
import type { NativeAddon } from "../../runtime/ts/native.js";
import { gpu, upload, withBuffers } from "../helpers/gpu.js";
import { testSeed } from "../helpers/seed.js";
import { randomInt, rng } from "../../reference/random.js";
import { attentionRecall, lessIsMoreSelect, logSumExp, perHeadSelect, topkRanked } from "../../reference/lessismore.js";

const manifest = JSON.parse(readFileSync(new URL("../../generated/manifest.json", import.meta.url), "utf8")) as {
  variants: { kernel: string; name: string; constants: Record<string, number>; schedule: Record<string, number> }[];
};
const topkVariants = manifest.variants.filter((v) => v.kernel === "topk");
const unionVariants = manifest.variants.filter((v) => v.kernel === "lessismore_union");
const budgets = [...new Set(topkVariants.map((v) => v.constants.K))].sort((a, b) => a - b);

/** Logits rows: uniform, or quantized to a few levels so that ties are everywhere. */
function logits(next: () => number, count: number, levels?: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const x = next() * 8 - 4;
    out[i] = levels ? Math.round(x * (levels / 8)) / (levels / 8) + 0 : x; // + 0 turns -0 into 0
  }
  return out;
}

/** `values` with about one element in 32 replaced by NaN, +infinity or -infinity (NaN ranks below every number). */
function withNonFinite(next: () => number, values: Float32Array): Float32Array {
  const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let i = 0; i < values.length; i++) if (next() < 1 / 32) values[i] = special[Math.floor(next() * 3)];
  return values;
}

const rowOf = (data: Float32Array, row: number, stride: number) => data.subarray(row * stride, (row + 1) * stride);

describe.skipIf(!gpu)("selection kernels on the GPU", () => {
  const native = gpu as NativeAddon;
  const seed = testSeed();
  const note = `(LIM_TEST_SEED=${seed} reproduces this run)`;

  it.each(topkVariants.map((v) => [v.name, v] as const))("%s: exact lists in rank and position order, ties, NaN and infinities", (name, v) => {
    const K = v.constants.K;
    const next = rng(seed + K);
    native.useVariant({ kernel: "topk", variant: name }); // whatever bucket the call falls in
    onTestFinished(() => native.useVariant({ kernel: "topk", variant: null }));
    // Longer than the variant's key caches (one per block of a row's cluster): the keys that do not fit take the uncached path.
    const length = Math.max(3 * K + 17, v.schedule.cluster * v.schedule.cache + 1001);
    const rows = 6;
    const k = K - 3;
    const values = new Float32Array(rows * length);
    values.set(logits(next, length), 0);
    values.set(logits(next, length, 16), length); // heavy ties
    const special = logits(next, length);
    for (let i = 0; i < 40; i++) special[randomInt(next, 0, length - 1)] = [NaN, Infinity, -Infinity, -0][i % 4];
    values.set(special, 2 * length);
    values.set(logits(next, length, 2), 3 * length); // two values only
    values.set(logits(next, length), 4 * length);
    values.set(logits(next, length), 5 * length);
    const lengths = new Int32Array([length, length - 5, length, length, k - 100, 0]); // short rows are padded with -1
    withBuffers(native, (alloc) => {
      const valuesBuf = upload(alloc, values);
      const lengthsBuf = upload(alloc, lengths);
      for (const order of ["rank", "position"] as const) {
        const indices = alloc(rows * k * 4);
        const outValues = alloc(rows * k * 4);
        indices.fill(0x7f);
        outValues.fill(0x7f);
        native.topk({ values: valuesBuf, valuesStride: length, lengths: lengthsBuf, indices, indicesStride: k, outValues, rows, length, k, order });
        native.checkDeviceStatus();
        const gotIdx = new Int32Array(rows * k);
        const gotVal = new Float32Array(rows * k);
        indices.download(gotIdx);
        outValues.download(gotVal);
        for (let r = 0; r < rows; r++) {
          const row = rowOf(values, r, length);
          let want = topkRanked(row, 0, lengths[r], k);
          if (order === "position") want = [...want].sort((a, b) => a - b);
          const padded = [...want, ...Array(k - want.length).fill(-1)];
          expect(Array.from(gotIdx.subarray(r * k, (r + 1) * k)), `row ${r}, ${order} order ${note}`).toEqual(padded);
          want.forEach((j, i) => {
            const v = gotVal[r * k + i];
            if (Number.isNaN(row[j])) expect(v).toBeNaN();
            else expect(v).toBe(row[j] === 0 ? 0 : row[j]);
          });
        }
        // Deterministic: the blocks of a row's cluster finish in any order, and ties cross their slices.
        const first = Array.from(gotIdx);
        for (let run = 0; run < 20; run++) {
          indices.fill(0x7f);
          native.topk({ values: valuesBuf, valuesStride: length, lengths: lengthsBuf, indices, indicesStride: k, outValues, rows, length, k, order });
          indices.download(gotIdx);
          expect(Array.from(gotIdx), `run ${run + 2} of the same ${order}-order top-k ${note}`).toEqual(first);
        }
      }
    });
  });

  /**
   * LessIsMore's set of each request of a ragged batch (logits z: [B, Hq, stride], each request's first
   * seqlens[b] entries of a row its own), computed on the GPU `runs` times (the output poisoned before each)
   * and each compared with the literal specification: the set must not depend on which block finishes first.
   */
  function expectSelection(z: Float32Array, seqlens: readonly number[], Hq: number, stride: number, budget: number, what: string, runs = 1): void {
    const B = seqlens.length;
    const maxSeqlen = Math.max(...seqlens);
    withBuffers(native, (alloc) => {
      const sel = { budget, recencyRatio: 0.25, sinks: 4 };
      const indices = alloc(B * budget * 4);
      const counts = alloc(B * 4);
      const wsBytes = native.selectLessismoreWorkspaceSize({ batch: B, numQHeads: Hq, maxSeqlen, ...sel });
      const args = {
        logits: upload(alloc, z), logitsStrideB: Hq * stride, logitsStrideH: stride, seqlens: upload(alloc, new Int32Array(seqlens)),
        indices, indicesStrideB: budget, counts, batch: B, numQHeads: Hq, maxSeqlen, workspace: alloc(wsBytes), ...sel,
      };
      const wants = seqlens.map((n, b) => lessIsMoreSelect(Array.from({ length: Hq }, (_, h) => z.subarray((b * Hq + h) * stride, (b * Hq + h) * stride + n)), n, budget, 0.25, 4));
      for (let run = 0; run < runs; run++) {
        indices.fill(0xff);
        counts.fill(0xff);
        native.selectLessismore(args);
        native.checkDeviceStatus();
        const got = new Int32Array(B * budget);
        const gotCounts = new Int32Array(B);
        indices.download(got);
        counts.download(gotCounts);
        seqlens.forEach((n, b) => {
          expect(gotCounts[b], `count of request ${b} (n ${n}, run ${run}) ${note}`).toBe(Math.min(budget, n));
          expect(Array.from(got.subarray(b * budget, b * budget + gotCounts[b])), `request ${b} (n ${n}${what}, run ${run}) ${note}`).toEqual(wants[b]);
        });
      }
    });
  }

  // Budgets below the smallest generated top-k budget (64, 256) take that top-k variant for their ranked part.
  it.each([64, 256, ...budgets])("LessIsMore selection with budget %i equals the rank-major walk on a ragged batch", (budget) => {
    const next = rng(seed ^ (budget * 31));
    const Hq = 8;
    const seqlens = [budget + 1, 3 * budget + 77, Math.max(1, budget - 5), 2 * budget, 1];
    const maxSeqlen = Math.max(...seqlens);
    const stride = maxSeqlen + 3;
    const count = seqlens.length * Hq * stride;
    expectSelection(logits(next, count), seqlens, Hq, stride, budget, ", random");
    expectSelection(logits(next, count, 8), seqlens, Hq, stride, budget, ", ties");
    expectSelection(withNonFinite(next, logits(next, count, 8)), seqlens, Hq, stride, budget, ", ties, NaN and infinities");
  });

  it.each(unionVariants.map((v) => [v.name, v] as const))("%s: the shared set of requests whose warps' runs of positions fit their registers and of longer ones", (name, v) => {
    // A warp holds `items` rounds of 32 positions of its block's slice in registers; longer runs read their keys again.
    native.useVariant({ kernel: "lessismore_union", variant: name });
    onTestFinished(() => native.useVariant({ kernel: "lessismore_union", variant: null }));
    const budget = budgets[0];
    const next = rng(seed ^ 0x5e7);
    const Hq = 4;
    const held = v.schedule.threads * v.schedule.items * v.schedule.cluster;
    const seqlens = [2 * held + 333, held, 3 * budget + 77, budget + 1];
    const maxSeqlen = Math.max(...seqlens);
    expectSelection(logits(next, seqlens.length * Hq * maxSeqlen), seqlens, Hq, maxSeqlen, budget, `, ${name}`);
    // Ties everywhere, 20 runs: the same set every time (the union's blocks race for nothing that changes it).
    expectSelection(logits(next, seqlens.length * Hq * maxSeqlen, 8), seqlens, Hq, maxSeqlen, budget, `, ${name}, ties`, 20);
  });

  it.each([2, 4, 8])("tensor parallel over %i simulated GPUs: local keys merged by an element-wise minimum give the single-GPU set", (ranks) => {
    const budget = budgets[0];
    const next = rng(seed ^ (ranks * 977));
    const Hq = 8;
    const local = Hq / ranks;
    const seqlens = [3 * budget + 77, budget + 1, 2 * budget, Math.max(1, budget - 5), 5 * budget + 3];
    const B = seqlens.length;
    const maxSeqlen = Math.max(...seqlens);
    const sel = { budget, recencyRatio: 0.25, sinks: 4 };
    const NO_PICK = 0x7f7f7f7f;
    for (const levels of [undefined, 8]) {
      const z = logits(next, B * Hq * maxSeqlen, levels);
      withBuffers(native, (alloc) => {
        const seqlensBuf = upload(alloc, new Int32Array(seqlens));
        // What each GPU would hold: its own heads' logits rows, [B, local, maxSeqlen].
        const merged = new Uint32Array(B * maxSeqlen).fill(0xffffffff);
        for (let r = 0; r < ranks; r++) {
          const mine = new Float32Array(B * local * maxSeqlen);
          for (let b = 0; b < B; b++) mine.set(z.subarray((b * Hq + r * local) * maxSeqlen, (b * Hq + (r + 1) * local) * maxSeqlen), b * local * maxSeqlen);
          const keys = alloc(B * maxSeqlen * 4);
          keys.fill(0); // key 0 is a pick (rank 0 of head 0): an entry left unwritten changes the set
          native.selectLessismoreLocalKeys({
            logits: upload(alloc, mine), logitsStrideB: local * maxSeqlen, logitsStrideH: maxSeqlen, seqlens: seqlensBuf, keys, keysStrideB: maxSeqlen,
            batch: B, numQHeads: local, headOffset: r * local, totalQHeads: Hq, maxSeqlen, ...sel,
          });
          native.checkDeviceStatus();
          const got = new Uint32Array(B * maxSeqlen);
          keys.download(got);
          const strange = got.findIndex((key) => key !== NO_PICK && (key % Hq < r * local || key % Hq >= (r + 1) * local));
          expect(strange, `rank ${r}: a key that is neither one of its heads' picks nor ${NO_PICK.toString(16)} ${note}`).toBe(-1);
          for (let i = 0; i < got.length; i++) merged[i] = Math.min(merged[i], got[i]); // the MIN all-reduce
        }
        const indices = alloc(B * budget * 4);
        const counts = alloc(B * 4);
        indices.fill(0xff);
        native.selectLessismoreUnion({
          keys: upload(alloc, merged), keysStrideB: maxSeqlen, seqlens: seqlensBuf, indices, indicesStrideB: budget, counts, batch: B, totalQHeads: Hq, maxSeqlen, ...sel,
        });
        native.checkDeviceStatus();
        const got = new Int32Array(B * budget);
        const gotCounts = new Int32Array(B);
        indices.download(got);
        counts.download(gotCounts);
        seqlens.forEach((n, b) => {
          const heads = Array.from({ length: Hq }, (_, h) => z.subarray((b * Hq + h) * maxSeqlen, (b * Hq + h) * maxSeqlen + n));
          const want = lessIsMoreSelect(heads, n, budget, 0.25, 4);
          expect(gotCounts[b], `count of request ${b} (n ${n}) ${note}`).toBe(Math.min(budget, n));
          expect(Array.from(got.subarray(b * budget, b * budget + gotCounts[b])), `request ${b} (n ${n}, ${ranks} ranks, ${levels ? "ties" : "random"}) ${note}`).toEqual(want);
        });
      });
    }
  });

  it("TidalDecode per-head selection equals each head's own top-K, ascending", () => {
    const next = rng(seed ^ 0x5eed);
    const Hq = 4;
    const budget = budgets[0];
    const seqlens = [budget * 3, budget - 10, budget + 1];
    const maxSeqlen = Math.max(...seqlens);
    const z = logits(next, seqlens.length * Hq * maxSeqlen, 32);
    withBuffers(native, (alloc) => {
      const B = seqlens.length;
      const indices = alloc(B * Hq * budget * 4);
      const counts = alloc(B * Hq * 4);
      native.selectPerHead({
        logits: upload(alloc, z), logitsStrideB: Hq * maxSeqlen, logitsStrideH: maxSeqlen, seqlens: upload(alloc, new Int32Array(seqlens)),
        indices, indicesStrideB: Hq * budget, indicesStrideH: budget, counts, batch: B, numQHeads: Hq, maxSeqlen, budget,
      });
      native.checkDeviceStatus();
      const got = new Int32Array(B * Hq * budget);
      const gotCounts = new Int32Array(B * Hq);
      indices.download(got);
      counts.download(gotCounts);
      seqlens.forEach((n, b) => {
        const heads = Array.from({ length: Hq }, (_, h) => z.subarray((b * Hq + h) * maxSeqlen, (b * Hq + h) * maxSeqlen + n));
        perHeadSelect(heads, n, budget).forEach((want, h) => {
          const row = b * Hq + h;
          expect(gotCounts[row]).toBe(Math.min(budget, n));
          expect(Array.from(got.subarray(row * budget, row * budget + want.length)), `request ${b} head ${h} ${note}`).toEqual(want);
        });
      });
    });
  });

  it("attention recall of shared and per-head sets matches the reference; the full set has recall 1", () => {
    const next = rng(seed ^ 0xabc);
    const Hq = 4;
    const B = 2;
    const N = 3000;
    const K = 600;
    const z = logits(next, B * Hq * N);
    const lse = new Float32Array(B * Hq);
    for (let r = 0; r < B * Hq; r++) lse[r] = logSumExp(z.subarray(r * N, (r + 1) * N), N);
    // Shared sets: request 0 a random set, request 1 every token; per-head sets: random per head.
    const shared = new Int32Array(B * N).fill(-1);
    const sharedCounts = new Int32Array([K, N]);
    const pick = () => [...new Set(Array.from({ length: K * 2 }, () => randomInt(next, 0, N - 1)))].slice(0, K).sort((a, b) => a - b);
    shared.set(pick(), 0);
    shared.set(Array.from({ length: N }, (_, j) => j), N);
    const perHead = new Int32Array(B * Hq * K);
    const perHeadSets: number[][] = [];
    for (let r = 0; r < B * Hq; r++) {
      const s = pick();
      perHeadSets.push(s);
      perHead.set(s, r * K);
    }
    withBuffers(native, (alloc) => {
      const common = { logits: upload(alloc, z), logitsStrideB: Hq * N, logitsStrideH: N, logitsCapacity: N, lse: upload(alloc, lse), batch: B, numQHeads: Hq };
      const recall = alloc(B * Hq * 4);
      native.attentionRecall({ ...common, indices: upload(alloc, shared), indicesStrideB: N, indicesStrideS: 0, counts: upload(alloc, sharedCounts), recall, sets: 1, maxCount: N });
      native.checkDeviceStatus();
      const got = new Float32Array(B * Hq);
      recall.download(got);
      for (let h = 0; h < Hq; h++) {
        const want = attentionRecall(z.subarray(h * N, (h + 1) * N), lse[h], Array.from(shared.subarray(0, K)));
        expect(Math.abs(got[h] - want) / want).toBeLessThan(1e-5);
        expect(got[Hq + h]).toBeCloseTo(1, 5);
      }
      native.attentionRecall({ ...common, indices: upload(alloc, perHead), indicesStrideB: Hq * K, indicesStrideS: K, counts: upload(alloc, new Int32Array(B * Hq).fill(K)), recall, sets: Hq, maxCount: K });
      native.checkDeviceStatus();
      recall.download(got);
      for (let r = 0; r < B * Hq; r++) {
        const want = attentionRecall(z.subarray(r * N, (r + 1) * N), lse[r], perHeadSets[r]);
        expect(Math.abs(got[r] - want) / want).toBeLessThan(1e-5);
      }
    });
  });

  describe("bad input", () => {
    const call = (change: Record<string, unknown>) =>
      withBuffers(native, (alloc) => {
        const z = alloc(2 * 4 * 100 * 4);
        const seqlens = upload(alloc, new Int32Array([100, 50]));
        // The output list holds the rows the call says it has: otherwise it would overlap the next buffer,
        // which the C ABI refuses before it looks at anything else.
        const stride = (change.indicesStrideB as number | undefined) ?? 64;
        const args = {
          logits: z, logitsStrideB: 400, logitsStrideH: 100, seqlens, indices: alloc(2 * stride * 4), indicesStrideB: 64, counts: alloc(8),
          batch: 2, numQHeads: 4, maxSeqlen: 100, budget: 64, recencyRatio: 0.25, sinks: 4, workspace: alloc(1 << 20), ...change,
        };
        native.selectLessismore(args as never);
        native.checkDeviceStatus();
      });

    it.each([
      ["a budget below sinks + 2", { budget: 5 }, /budget 5 must be at least sinks \+ 2 = 6/],
      ["a recency ratio of 1", { recencyRatio: 1 }, /recency_ratio must be in \[0, 1\), got 1/],
      ["a negative recency ratio", { recencyRatio: -0.1 }, /recency_ratio must be in \[0, 1\)/],
      ["no room for the current token", { budget: 10, recencyRatio: 0.05 }, /leaves -3 recent tokens; the current token must stay in the set/],
      ["a ranked part beyond every supported top-k budget", { budget: 40000, indicesStrideB: 40000 }, /needs a top-k variant of budget >= 30000 \(the largest generated is 8192\); no supported budget holds that many \(the largest is 8192\)/],
      ["a missing workspace", { workspace: null }, /needs \d+ bytes of 16-byte aligned workspace, got 0 \(NULL\)/],
      ["heads that are not consecutive rows", { logitsStrideB: 500 }, /logits_stride_b \(500\) must equal num_q_heads \* logits_stride_h \(100\)/],
    ])("%s is refused with a message", (_label, change, message) => {
      expect(() => call(change)).toThrow(message);
    });

    it("a request with no tokens is reported by the device, naming it", () => {
      expect(() =>
        withBuffers(native, (alloc) => {
          call({ seqlens: upload(alloc, new Int32Array([100, 0])) });
        }),
      ).toThrow(/lessismore_union: seqlens\[1\] = 0 is outside \[1, max_seqlen = 100\]/);
    });

    // Keys the host cannot check: never reduced (every entry "no pick"), or shared by several tokens (keys of
    // one GPU's heads reused as if they were the model's). The union reports them and writes nothing past a
    // request's row: a guard of 64 entries after each row keeps its poison.
    it.each([
      ["keys never reduced", () => 0x7f7f7f7f, /lessismore_union: the keys of request 0 mark 0 picks, fewer than middle = \d+/],
      ["keys several tokens share", (j: number) => j % 256, /lessismore_union: the keys of request 0 keep \d+ tokens, more than budget = 256: two tokens share a first-occurrence key/],
    ])("%s are reported through the device status, nothing written past the row", (_label, key, message) => {
      const budget = 256, guard = 64, n = 4096, Hq = 8;
      const sel = { budget, recencyRatio: 0.25, sinks: 4 };
      withBuffers(native, (alloc) => {
        const indices = alloc((budget + guard) * 4);
        indices.fill(0xff);
        const counts = alloc(4);
        native.selectLessismoreUnion({
          keys: upload(alloc, Uint32Array.from({ length: n }, (_, j) => key(j))), keysStrideB: n, seqlens: upload(alloc, new Int32Array([n])),
          indices, indicesStrideB: budget + guard, counts, batch: 1, totalQHeads: Hq, maxSeqlen: n, ...sel,
        });
        expect(() => native.checkDeviceStatus()).toThrow(message);
        const got = new Int32Array(budget + guard);
        indices.download(got);
        expect(Array.from(got.subarray(budget)), "the guard after the row").toEqual(new Array(guard).fill(-1));
        const count = new Int32Array(1);
        counts.download(count);
        expect(count[0], "the count never exceeds the row").toBeLessThanOrEqual(budget);
      });
    });

    it("top-k refuses k = 0 and an unknown order", () => {
      withBuffers(native, (alloc) => {
        const base = { values: alloc(400), valuesStride: 100, lengths: null, indices: alloc(400), indicesStride: 10, outValues: null, rows: 1, length: 100 };
        expect(() => native.topk({ ...base, k: 0, order: "rank" })).toThrow(/lim_topk: k = 0 must be at least 1/);
        expect(() => native.topk({ ...base, k: 5, order: "sideways" as never })).toThrow(/'order' must be "rank" or "position"/);
      });
    });
  });
});
