// Generation from tuning databases: tuned schedules per shape bucket reach the dispatch tables, adjacent
// buckets with one schedule merge, and databases of another device or toolkit version, stale entries and
// broken files are refused with a reason; entries carried across an edit say so wherever they are used.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import type { KernelSource } from "../../codegen/types.js";
import { loadKernels } from "../../codegen/frontend/load.js";
import { planGeneration } from "../../codegen/generate.js";
import { carryTuning } from "../../codegen/tuning/carry.js";
import { tunedSchedules } from "../../codegen/tuning/chooser.js";
import { readTuning, TUNING_FORMAT, tuningKey, writeTuning, type TuningDatabase, type TuningEntry } from "../../codegen/tuning/database.js";
import { kernelDigest } from "../../codegen/tuning/digest.js";
import { bucketRanges } from "../../codegen/variants.js";
import { TOOLKIT_VERSION } from "../../codegen/version.js";

const DEVICE = "NVIDIA H100 80GB HBM3";
const constants = { D: 128, G: 4, dtype: "bf16", cache: "contiguous", kv: "bf16" };
const matrix = { headDims: [128], groupSizes: [4], dtypes: ["bf16"], caches: ["contiguous"], kvDtypes: ["auto"] };

let attention: KernelSource;
let digest: string;
const dir = mkdtempSync(join(tmpdir(), "lim-tuning-"));

beforeAll(async () => {
  [attention] = await loadKernels(PROJECT_ROOT, ["decode_attention"]);
  digest = kernelDigest(attention.fn);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function entry(range: readonly [number, number], best: string, overrides: Partial<TuningEntry> = {}): [string, TuningEntry] {
  const spec = attention.definition.spec;
  return [
    tuningKey(spec, constants, range),
    {
      kernel: "decode_attention", constants, bucket: { name: "rows", lo: range[0], hi: range[1] >= Number.MAX_SAFE_INTEGER ? null : range[1] },
      shapes: ["B1", "B8"], source: digest, heuristic: "t128_r1_s4_m1", best, speedup: 1.1, tuned: "2026-11-22T00:00:00Z",
      candidates: [{ schedule: best, status: "ok", us: [10, 20] }], ...overrides,
    },
  ];
}

function database(entries: [string, TuningEntry][], device = DEVICE, toolkit = `lim ${TOOLKIT_VERSION}`): TuningDatabase {
  return {
    format: TUNING_FORMAT,
    metadata: { device, computeCapability: "9.0", multiprocessors: 132, cudaDriver: "13.0", cudaRuntime: "13.0", nvcc: "13.0.88", toolkit, created: "x", updated: "x" },
    entries: Object.fromEntries(entries),
  };
}

describe("tuning databases", () => {
  it("names keys by kernel, constants and bucket", () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    expect(ranges[0]).toEqual([0, 1536]);
    expect(tuningKey(attention.definition.spec, constants, ranges[1])).toBe("decode_attention__d128_g4_bf16_contiguous@rows1536-3072");
    expect(tuningKey(attention.definition.spec, constants, ranges.at(-1)!)).toBe("decode_attention__d128_g4_bf16_contiguous@rows49152-");
  });

  it("round-trips through an atomic write and rejects a broken file naming the field", () => {
    const path = join(dir, "db.json");
    const db = database([entry([0, 1536], "t64_r1_s3_m1")]);
    writeTuning(path, db);
    expect(readTuning(path)).toEqual(db);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    writeFileSync(path, JSON.stringify({ ...db, metadata: { ...db.metadata, multiprocessors: "many" } }));
    expect(() => readTuning(path)).toThrow(/db\.json: not a lim-tuning\/1 tuning database: metadata\.multiprocessors/);
    writeFileSync(path, "{ half");
    expect(() => readTuning(path)).toThrow(/db\.json: not a readable JSON tuning database/);
  });

  it("puts each bucket's tuned schedule in the dispatch table, merging neighbours that agree", async () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const db = database([entry(ranges[0], "t64_r1_s3_m1"), entry(ranges[1], "t64_r1_s3_m1"), entry(ranges[4], "t256_r1_s2_m1")]);
    const tuned = tunedSchedules([{ path: "tuning/h100.json", db }], DEVICE);
    const plan = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: ["decode_attention"], choose: tuned.choose });
    expect(tuned.warnings).toEqual([]);
    expect(tuned.used.size).toBe(3);
    expect(plan.groups[0].dispatch.map((d) => [d.variant.split("__")[2], d.bucket])).toEqual([
      ["t64_r1_s3_m1", [0, 3072]],
      ["t128_r1_s4_m1", [3072, 12288]],
      ["t256_r1_s2_m1", [12288, 49152]],
      ["t128_r1_s4_m1", [49152, Number.MAX_SAFE_INTEGER]],
    ]);
    const table = plan.files.get("variants.cpp")!;
    expect(table).toContain("{&lim_decode_attention__d128_g4_bf16_contiguous__t64_r1_s3_m1_info, 0, 3072 },");
    expect(table).toContain("{&lim_decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1_info, 49152, INT64_MAX },");
    expect(table).toContain("if ((v->constants[0] == D && v->constants[1] == G && v->constants[2] == (int32_t)dtype && v->constants[3] == (int32_t)cache && v->constants[4] == (int32_t)kv) && rows >= e->lo && rows < e->hi) return v;");
    expect(plan.files.get("kernels/decode_attention__d128_g4_bf16_contiguous__t64_r1_s3_m1.cu")).toContain("tuned in tuning/h100.json (1.10x over the heuristic)");
  });

  it("gives a paged variant the schedule measured for its contiguous twin unless it was tuned itself, and says whose", async () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const spec = attention.definition.spec;
    const paged = (best: string): [string, TuningEntry] => {
      const [, e] = entry(ranges[4], best);
      return [tuningKey(spec, { ...constants, cache: "paged" }, ranges[4]), { ...e, constants: { ...constants, cache: "paged" } }];
    };
    const plan = async (entries: [string, TuningEntry][]) => {
      const tuned = tunedSchedules([{ path: "tuning/h100.json", db: database(entries) }], DEVICE);
      const p = await planGeneration({ root: PROJECT_ROOT, matrix: { ...matrix, caches: ["paged"] }, kernels: ["decode_attention"], choose: tuned.choose });
      expect(tuned.warnings).toEqual([]);
      return p.groups[0].variants;
    };
    const twin = (await plan([entry(ranges[4], "t256_r1_s2_m1")])).find((v) => v.name === "decode_attention__d128_g4_bf16_paged__t256_r1_s2_m1");
    expect(twin?.scheduleOrigin).toMatch(/the entry of decode_attention__d128_g4_bf16_contiguous@rows12288-49152/);
    const own = (await plan([entry(ranges[4], "t256_r1_s2_m1"), paged("t128_r2_s3_m1")])).find((v) => v.name === "decode_attention__d128_g4_bf16_paged__t128_r2_s3_m1");
    expect(own?.scheduleOrigin).toMatch(/tuned in tuning\/h100.json \(1.10x over the heuristic\)/);
  });

  it("gives an E5M2 variant the schedule measured for E4M3 unless it was tuned itself", async () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const spec = attention.definition.spec;
    const fp8 = (kv: string, best: string): [string, TuningEntry] => {
      const [, e] = entry(ranges[4], best);
      return [tuningKey(spec, { ...constants, kv }, ranges[4]), { ...e, constants: { ...constants, kv } }];
    };
    const fp8Matrix = { ...matrix, kvDtypes: ["e5m2"] };
    const names = async (entries: [string, TuningEntry][]) => {
      const tuned = tunedSchedules([{ path: "tuning/h100.json", db: database(entries) }], DEVICE);
      const plan = await planGeneration({ root: PROJECT_ROOT, matrix: fp8Matrix, kernels: ["decode_attention"], choose: tuned.choose });
      return plan.groups[0].variants.map((v) => v.name);
    };
    expect(await names([fp8("e4m3", "t256_r2_s2_m1")])).toContain("decode_attention__d128_g4_bf16_contiguous_e5m2__t256_r2_s2_m1");
    expect(await names([fp8("e4m3", "t256_r2_s2_m1"), fp8("e5m2", "t128_r1_s3_m1")])).toContain("decode_attention__d128_g4_bf16_contiguous_e5m2__t128_r1_s3_m1");
  });

  it("ignores another device's or toolkit's database, and stale entries, with the reason", async () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const other = tunedSchedules([{ path: "tuning/h200.json", db: database([entry(ranges[0], "t64_r1_s3_m1")], "NVIDIA H200"), named: true }], DEVICE);
    const otherFound = tunedSchedules([{ path: "tuning/h200.json", db: database([entry(ranges[0], "t64_r1_s3_m1")], "NVIDIA H200") }], DEVICE);
    expect(otherFound.warnings).toEqual([]); // a database of another GPU found in tuning/ is simply for that GPU
    const old = tunedSchedules([{ path: "tuning/old.json", db: database([entry(ranges[0], "t64_r1_s3_m1")], DEVICE, "lim 0.0.9") }], DEVICE);
    const stale = tunedSchedules([{ path: "tuning/stale.json", db: database([entry(ranges[0], "t64_r1_s3_m1", { source: "0123456789abcdef" })]) }], DEVICE);
    for (const t of [other, old, stale]) {
      const plan = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: ["decode_attention"], choose: t.choose });
      expect(plan.groups[0].variants.map((v) => v.name)).toEqual(["decode_attention__d128_g4_bf16_contiguous__t128_r1_s4_m1"]);
      expect(t.used.size).toBe(0);
    }
    expect(other.warnings).toEqual([`tuning/h200.json: measured on NVIDIA H200, not the target ${DEVICE}; ignored (pass --device "NVIDIA H200" to generate for it)`]);
    expect(old.warnings[0]).toMatch(/tuning\/old\.json: tuned with lim 0\.0\.9, this is lim .*; ignored \(run `lim tune` again\)/);
    expect(stale.warnings[0]).toMatch(/decode_attention__d128_g4_bf16_contiguous@rows0-1536 was tuned for an earlier dsl\/kernels\/decode_attention\.ts; using the heuristic/);
  });

  it("refuses to carry entries naming schedules of an earlier schedule space, changing nothing", () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const db = database([entry(ranges[0], "t64_r1_s3", { source: "0123456789abcdef" }), entry(ranges[1], "t64_r1_s3_m1", { source: "0123456789abcdef" })]);
    const before = JSON.stringify(db);
    expect(() => carryTuning(db, attention.definition.spec, digest, "a knob was added", "2026-12-02")).toThrow(
      /--carry: 1 entries of decode_attention name schedules outside its current schedule space, so they cannot be carried: decode_attention__d128_g4_bf16_contiguous@rows0-1536 \(schedule 't64_r1_s3' for decode_attention: expected t<n>_r<n>_s<n>_m<n>\)\. Measure them again \(`lim tune --kernels decode_attention --retune`\)/,
    );
    expect(JSON.stringify(db)).toBe(before);
  });

  it("carries stale entries of one kernel to the current code, keeping the digest they were measured on, and says so in the variant", async () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const measured = "0123456789abcdef";
    const db = database([
      entry(ranges[0], "t64_r1_s3_m1", { source: measured }),
      entry(ranges[1], "t64_r1_s3_m1"), // already for the current code: untouched
      ["topk@x", { ...entry(ranges[2], "t64_r1_s3_m1", { source: measured })[1], kernel: "topk" }], // another kernel: untouched
    ]);
    expect(carryTuning(db, attention.definition.spec, digest, "only the epilogue changed", "2026-12-01")).toEqual({ carried: 1, restated: 0 });
    const [first, second, other] = Object.values(db.entries);
    expect(first.source).toBe(digest);
    expect(first.carried).toEqual({ from: measured, reason: "only the epilogue changed", date: "2026-12-01" });
    expect(second.carried).toBeUndefined();
    expect(other.source).toBe(measured);
    // Carried again after another edit: still the digest it was measured on.
    first.source = "fedcba9876543210";
    expect(carryTuning(db, attention.definition.spec, digest, "again", "2026-12-02")).toEqual({ carried: 1, restated: 0 });
    expect(first.carried).toEqual({ from: measured, reason: "again", date: "2026-12-02" });
    // Carried once more to the same code: the reason is restated; the measured entry stays as it is.
    expect(carryTuning(db, attention.definition.spec, digest, "measured at these schedules", "2026-12-03")).toEqual({ carried: 0, restated: 1 });
    expect(first.carried).toEqual({ from: measured, reason: "measured at these schedules", date: "2026-12-03" });
    expect(second.carried).toBeUndefined();
    first.carried = { from: measured, reason: "again", date: "2026-12-02" };
    const t = tunedSchedules([{ path: "tuning/h100.json", db }], DEVICE);
    const plan = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: ["decode_attention"], choose: t.choose });
    expect(t.warnings).toEqual([]);
    expect(plan.groups[0].variants[0].scheduleOrigin).toBe(`tuned in tuning/h100.json (1.10x over the heuristic; measured on an earlier source (${measured}) and carried: again)`);
  });

  it("names entries keyed by a bucket measure the kernel no longer has, once per database and kernel", async () => {
    const ranges = bucketRanges(attention.definition.spec).map((b) => b.range);
    const retired = (lo: number): [string, TuningEntry] => [
      `decode_attention__d128_g4_bf16_contiguous@length${lo}-`,
      { ...entry(ranges[0], "t64_r1_s3_m1")[1], bucket: { name: "length", lo, hi: null } },
    ];
    const t = tunedSchedules([{ path: "tuning/h100.json", db: database([entry(ranges[0], "t64_r1_s3_m1"), retired(0), retired(8192)]) }], DEVICE);
    expect(t.retiredBuckets()).toEqual([]); // nothing chosen yet: no kernel to speak of
    await planGeneration({ root: PROJECT_ROOT, matrix, kernels: ["decode_attention"], choose: t.choose });
    expect(t.used.size).toBe(1); // the current bucket's entry still serves
    expect(t.retiredBuckets()).toEqual([
      "tuning/h100.json: 2 decode_attention entries are keyed by length, which decode_attention no longer buckets by (it buckets by rows now); unused (run `lim tune --kernels decode_attention` again)",
    ]);
  });
});
