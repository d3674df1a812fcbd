// FP8 caches in the front end and in the generation plan: a cache tensor of the `kv` constant's type (e4m3
// or e5m2 bytes, or the dtype for "auto"), words chosen at compile time (the mmas' input type), ldmatrix over FP8
// rows, their widening to fp16 pairs, the conversions of loads and stores, and variant names that leave
// "auto" out.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { Emitter } from "../../codegen/lower/emit.js";
import { constantsTag } from "../../codegen/names.js";
import { PROJECT_ROOT } from "../../cli/common.js";
import { loadKernels } from "../../codegen/frontend/load.js";
import { constantCombinations, supportedCombinations } from "../../codegen/variants.js";
import { defineKernel } from "../../dsl/lang/kernel.js";
import { compileTiny, lowerTiny } from "../helpers/tiny_kernel.js";

const PARAMS = 'k: Tensor<"kv", ["B", "N", "D"]>, y: Out<"kv", ["B", "D"]>';
const BODY = `  const MMA = sizeof(c.kv) == 1 ? "fp16" : c.dtype;
  const tile = shared("kv", [16, 32]);
  const raw = regs("u32", [4], 0);
  const wide = regs("u32", [2], 0);
  loadMatrix(raw, tile.ref(laneId() % 16, (laneId() / 16) * 16), true);
  widenFp8(wide, raw[0], c.kv, true);
  const acc = regs("f32", [4], 0.0);
  const a = regs("u32", [4], 0);
  mma(acc, a, wide, MMA);
  y.store(k.at(blockIdx.x, 0, threadIdx.x) + acc[0], blockIdx.x, threadIdx.x);`;

function lowered(kv: string, body = BODY, params = PARAMS): string {
  const ir = compileTiny(body, { params, constants: { D: 128, dtype: "bf16", kv } });
  const e = new Emitter();
  e.stmts(ir.body, 0);
  return e.text();
}

function errorOf(body: string, kv = "e4m3"): DslError {
  try {
    lowered(kv, body);
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError");
}

describe("FP8 caches in kernels", () => {
  it("read FP8 rows with ldmatrix, widen them to fp16 pairs and multiply in fp16", () => {
    const text = lowered("e4m3");
    expect(text).toContain("/* MMA = fp16 */");
    expect(text).toContain("lim::load_matrix<true>(raw, &tile[lim::lane_id() % 16][lim::lane_id() / 16 * 16]);");
    expect(text).toContain("lim::widen_fp8<__nv_fp8_e4m3, true>(wide, raw[0]);");
    expect(text).toContain("lim::mma_16816<__half>(acc, a, wide);");
    expect(text).toContain("__nv_fp8_e4m3 (*)[16][32]"); // the shared tile holds bytes
  });

  it("widen E5M2 rows with the same code, the format passed on to the template", () => {
    const text = lowered("e5m2");
    expect(text).toContain("/* MMA = fp16 */");
    expect(text).toContain("lim::widen_fp8<__nv_fp8_e5m2, true>(wide, raw[0]);");
    expect(text).toContain("__nv_fp8_e5m2 (*)[16][32]");
  });

  it("keep only the branch a condition on constants takes, so the other may use what this variant's types refuse", () => {
    // A byte copy from an FP8 cache into a bf16 output does not type-check; the FP8 variant never elaborates it.
    const body = `  if (c.kv == "e4m3") {
    const row = regs("f32", [8]);
    loadVec(row, k.ref(blockIdx.x, 0, 0));
    storeVec(y.ref(blockIdx.x, 0), row);
  } else {
    copyVec(y.ref(blockIdx.x, 0), k.ref(blockIdx.x, 0, 0), 8);
  }`;
    const params = 'k: Tensor<"kv", ["B", "N", "D"]>, y: Out<"dtype", ["B", "D"]>';
    const text = (kv: string) => lowered(kv, body, params);
    expect(text("e4m3")).toContain("lim::load_vec(row");
    expect(text("e4m3")).not.toContain("copy16");
    expect(text("bf16")).toContain("lim::copy16(");
    expect(text("bf16")).not.toContain("load_vec");
    // A run-time condition still elaborates both branches: the byte copy is refused for the FP8 variant.
    expect(() => lowered("e4m3", body.replace('c.kv == "e4m3"', "blockIdx.x == 0"), params)).toThrow(/copies do not convert/);
  });

  it("choose the dtype's own mma when the caches are in the dtype", () => {
    const text = lowered("bf16", BODY.replace("widenFp8(wide, raw[0], c.kv, true);", ""));
    expect(text).toContain("/* MMA = bf16 */");
    expect(text).toContain("lim::mma_16816<__nv_bfloat16>(acc, a, wide);");
  });

  it.each([
    ["a word chosen at run time", BODY.replace('sizeof(c.kv) == 1 ? "fp16"', 'blockIdx.x == 0 ? "fp16"'), /a choice between words needs a compile-time condition/],
    ["a word held in a let", BODY.replace("const MMA =", "let MMA ="), /'MMA' holds a word: declare it with const and no type/],
    ["widening into 4 registers", BODY.replace('const wide = regs("u32", [2], 0);', 'const wide = regs("u32", [4], 0);'), /widenFp8\(\) fills a register array u32\[2\]/],
    ["a run-time transposed flag", BODY.replace("widenFp8(wide, raw[0], c.kv, true)", "widenFp8(wide, raw[0], c.kv, blockIdx.x == 0)"), /widenFp8\(\)'s transposed flag must be a literal/],
    ["a format that is no FP8 one", BODY.replace("widenFp8(wide, raw[0], c.kv, true)", 'widenFp8(wide, raw[0], "bf16", true)'), /widenFp8\(\)'s format must be a constant naming e4m3 or e5m2, got "bf16"/],
    ["a missing format", BODY.replace("widenFp8(wide, raw[0], c.kv, true)", "widenFp8(wide, raw[0], true)"), /widenFp8\(\) takes 4 arguments/],
    ["ldmatrix over f32", BODY.replace('shared("kv", [16, 32])', 'shared("f32", [16, 32])'), /loadMatrix\(\) reads 16-bit elements \(or pairs of 8-bit ones\)/],
  ])("refuse %s", (_label, body, message) => {
    expect(errorOf(body).message).toMatch(message);
  });
});

describe("FP8 variants in the generation plan", () => {
  const spec = defineKernel({
    spec: {
      name: "k", summary: "a kernel over caches", constants: { D: [128], dtype: ["bf16", "fp16"], kv: ["auto", "e4m3"] },
      schedule: { threads: { tag: "t", values: [128] } }, grid: { x: "B" },
    },
    heuristic: () => ({ threads: 128 }),
    rules: [],
  }).spec;

  it("resolve auto to each dtype and keep it out of the names, which stay those of the 16-bit variants", () => {
    const combos = constantCombinations(spec, {});
    expect(combos).toEqual([
      { D: 128, dtype: "bf16", kv: "bf16" }, { D: 128, dtype: "bf16", kv: "e4m3" },
      { D: 128, dtype: "fp16", kv: "fp16" }, { D: 128, dtype: "fp16", kv: "e4m3" },
    ]);
    expect(combos.map((c) => constantsTag(spec, c))).toEqual(["d128_bf16", "d128_bf16_e4m3", "d128_fp16", "d128_fp16_e4m3"]);
  });

  it("give a variant once when the request names both auto and the dtype", () => {
    expect(constantCombinations(spec, { dtypes: ["bf16"], kvDtypes: ["auto", "bf16"] })).toEqual([{ D: 128, dtype: "bf16", kv: "bf16" }]);
  });
});

describe("combinations a kernel has no variant for", () => {
  it("leave FP8 decode attention out at head dims that are no multiple of 32, and keep it at the others", async () => {
    const [source] = await loadKernels(PROJECT_ROOT, ["decode_attention"]);
    const plan = supportedCombinations(source, { headDims: [80, 96], groupSizes: [4], dtypes: ["bf16"], caches: ["contiguous"] });
    expect(plan.map((c) => `${c.D} ${c.kv}`)).toEqual(["80 bf16", "96 bf16", "96 e4m3"]);
  });
  it("read a scale kept per tensor or per KV head with perHead(), only where the scales are present", () => {
    const params = 'y: Out<"f32", ["B"]>, scales: MaybeTensor<"f32", ["KS"]>, table: Tensor<"f32", ["B", "KS"]>';
    expect(lowerTiny("  if (present(scales)) y.store(scales.perHead(blockIdx.x), blockIdx.x);", { params })).toContain(
      "y.store(scales.load(lim_p.KS == 1 ? 0 : static_cast<int>(blockIdx.x)), static_cast<int>(blockIdx.x));",
    );
    const absent = (() => { try { lowerTiny("  y.store(scales.perHead(0), 0);", { params }); } catch (e) { return e as DslError; } })();
    expect(absent?.kind).toBe("missing-presence-check");
    const twoDims = (() => { try { lowerTiny("  y.store(table.perHead(0), 0);", { params }); } catch (e) { return e as DslError; } })();
    expect(twoDims?.message).toMatch(/perHead\(\) reads a one-dimensional table .* 'table' has 2 dimensions/);
  });
});
