// Every supported model shape generates with the default (heuristic) schedules: each head dim x GQA group
// size plans and lowers in memory, and each variant's schedule obeys its kernel's rules. The matrix is
// defined once (dsl/lang/matrix.ts, checked by codegen/matrix.ts): the kernels' default lists are its default matrix, and a request
// outside the supported lists is refused naming the nearest supported values.

import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { loadKernels } from "../../codegen/frontend/load.js";
import { lowerSources } from "../../codegen/generate.js";
import { nearestSupported, unsupportedMessage, validateMatrix } from "../../codegen/matrix.js";
import { DEFAULT_MATRIX, SUPPORTED_MATRIX } from "../../dsl/lang/matrix.js";
import type { KernelSource } from "../../codegen/types.js";
import { heuristicSchedule, MATRIX_CONSTANTS } from "../../codegen/variants.js";

let sources: KernelSource[];
beforeAll(async () => {
  sources = await loadKernels(PROJECT_ROOT); // the front end is the slow part: load once, lower many times
});

const dependsOn = (s: KernelSource, constant: string) => constant in s.definition.spec.constants;

describe("every supported shape", () => {
  it("plans with the heuristic schedules, each satisfying its kernel's rules", () => {
    const shaped = sources.filter((s) => dependsOn(s, "D") || dependsOn(s, "G"));
    expect(shaped.map((s) => s.definition.spec.name)).toEqual(expect.arrayContaining(["decode_attention", "gather_kv", "append_kv"]));
    const matrix = { headDims: SUPPORTED_MATRIX.headDims, groupSizes: SUPPORTED_MATRIX.groupSizes, dtypes: ["bf16"] };
    const plan = lowerSources(PROJECT_ROOT, shaped, matrix, heuristicSchedule);
    for (const source of shaped) {
      const spec = source.definition.spec;
      const group = plan.groups.find((g) => g.spec.name === spec.name);
      const variants = group?.variants ?? [];
      // Caches in the dtype and in FP8, except FP8 attention at head dims that are no multiple of 32 (80, 112).
      const kvDtypes = (D: number) => (!dependsOn(source, "kv") ? 1 : spec.name === "decode_attention" && D % 32 !== 0 ? 1 : 2);
      const expected =
        (dependsOn(source, "D") ? SUPPORTED_MATRIX.headDims.reduce((n, D) => n + kvDtypes(D), 0) : kvDtypes(128)) *
        (dependsOn(source, "G") ? SUPPORTED_MATRIX.groupSizes.length : 1) *
        (dependsOn(source, "cache") ? SUPPORTED_MATRIX.caches.length : 1);
      expect(variants.length, spec.name).toBe(expected);
      for (const v of variants) {
        expect(v.scheduleOrigin).toBe("heuristic");
        const broken = source.definition.rules.map((rule) => rule(v.ir.constants as never, v.ir.schedule as never)).filter(Boolean);
        expect(broken, v.name).toEqual([]);
      }
    }
  });

  it("keeps the default shapes' heuristic schedules", () => {
    const attention = sources.find((s) => s.definition.spec.name === "decode_attention")!;
    const tag = (D: number, G: number) => {
      const s = attention.definition.heuristic({ D, G, dtype: "bf16" } as never);
      return `t${s.threads}_r${s.rows}_s${s.stages}_m${s.merge}`;
    };
    // Four consumer warps of 16 rows; the ring as deep as 220 KB of padded tiles allow (at most 4).
    for (const G of [1, 4, 8, 16]) {
      expect(tag(64, G)).toBe("t128_r1_s4_m1");
      expect(tag(128, G)).toBe("t128_r1_s4_m1");
      expect(tag(256, G)).toBe("t128_r1_s3_m1");
    }
  });

  it("lets merge lanes share an item of decode attention's split merge only where the block has the threads", () => {
    const attention = sources.find((s) => s.definition.spec.name === "decode_attention")!;
    const broken = (D: number, G: number, threads: number, merge: number) =>
      attention.definition.rules.map((rule) => rule({ D, G, dtype: "bf16", kv: "bf16" } as never, { threads, rows: 1, stages: 2, merge } as never)).filter(Boolean);
    // Head dim 64, G 8: 128 items of 4 dims; 128 consumer threads and the producer warp group make 256 lanes.
    expect(broken(64, 8, 128, 2)).toEqual([]);
    expect(broken(64, 8, 128, 4)).toEqual(["4 merge lanes per item need 512 threads, the block has 256"]);
    expect(broken(64, 4, 128, 4)).toEqual([]);
    // Head dim 128, G 8: 256 items take every lane of a 256-lane block already.
    expect(broken(128, 8, 128, 2)).toEqual(["2 merge lanes per item need 512 threads, the block has 256"]);
    expect(broken(128, 8, 128, 1)).toEqual([]);
  });
});

describe("the generation matrix", () => {
  it("is each kernel's default list", () => {
    const axes = Object.entries(MATRIX_CONSTANTS) as [keyof typeof DEFAULT_MATRIX, string][];
    for (const source of sources) {
      for (const [axis, constant] of axes) {
        const values = source.definition.spec.constants[constant];
        if (values !== undefined) expect(values, `${source.definition.spec.name}.${constant}`).toEqual(DEFAULT_MATRIX[axis]);
      }
    }
    expect(DEFAULT_MATRIX).toEqual({ headDims: [64, 128, 256], groupSizes: [1, 2, 4, 8], dtypes: ["bf16", "fp16"], budgets: [1024, 2048, 4096, 8192], caches: ["contiguous", "paged"], kvDtypes: ["auto", "e4m3"] });
    for (const axis of Object.keys(DEFAULT_MATRIX) as (keyof typeof DEFAULT_MATRIX)[]) {
      expect(DEFAULT_MATRIX[axis].every((v: number | string) => (SUPPORTED_MATRIX[axis] as readonly (number | string)[]).includes(v)), axis).toBe(true);
    }
    expect(SUPPORTED_MATRIX.groupSizes).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  it("refuses an unsupported value naming the nearest supported ones", () => {
    expect(unsupportedMessage("headDims", 100)).toBe(
      "--head-dims: 100 is not supported; the nearest supported head dims are 96 and 112 (supported: 64, 80, 96, 112, 128, 160, 192, 256)",
    );
    expect(unsupportedMessage("headDims", 512)).toMatch(/^--head-dims: 512 is not supported; the nearest supported head dim is 256 \(/);
    expect(unsupportedMessage("groupSizes", 32)).toMatch(/the nearest supported group size is 16/);
    expect(unsupportedMessage("budgets", 3000)).toMatch(/the nearest supported budgets are 2048 and 4096/);
    expect(unsupportedMessage("dtypes", "bf61")).toBe("--dtypes: bf61 is not supported; the nearest supported dtype is bf16 (supported: bf16, fp16)");
    expect(unsupportedMessage("headDims", 80)).toBeUndefined();
    expect(nearestSupported(40, [64, 80])).toEqual([64]);
    expect(() => validateMatrix({ headDims: [128, 100], groupSizes: [17] })).toThrow(/100 is not supported[^]*\n--group-sizes: 17 is not supported/);
    expect(() => validateMatrix({ ...SUPPORTED_MATRIX })).not.toThrow();
  });
});
