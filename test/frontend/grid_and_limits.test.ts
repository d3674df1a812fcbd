// A kernel's grid axes are expressions the launch computes (over sizes, i32 arguments, c.X and s.X), and
// its limits are numbers the body reads as c.NAME and lim_variants.h defines for the C ABI.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { elaborate } from "../../codegen/frontend/elaborate.js";
import { parseKernel } from "../../codegen/frontend/load.js";
import { defineKernel } from "../../dsl/lang/kernel.js";
import { TINY_FILE, tinySource } from "../helpers/tiny_kernel.js";

function kernel(grid: { x: string; y?: string }, limits?: Record<string, number>) {
  return defineKernel({
    spec: { name: "tiny", summary: "grid and limits", constants: { D: [128], dtype: ["bf16"] }, schedule: { threads: { tag: "t", values: [128] } }, grid, limits },
    heuristic: () => ({ threads: 128 }),
    rules: [],
  });
}

const compile = (def: ReturnType<typeof kernel>, body = "  y.store(x.at(blockIdx.x, 0), blockIdx.x, 0);", params?: string) =>
  elaborate(parseKernel(TINY_FILE, tinySource(body, params), def), { D: 128, dtype: "bf16" }, { threads: 128 });

describe("grid axes", () => {
  it.each([
    ["B", "p->B"],
    ["ceilDiv(B, s.threads)", "((p->B) + (128) - 1) / (128)"],
    ["ceilDiv(B * c.D, s.threads / 8)", "((p->B * 128) + (128 / 8) - 1) / (128 / 8)"],
    ["B + extra", "p->B + p->extra"],
  ])("%s is launched as %s", (axis, lowered) => {
    const ir = compile(kernel({ x: axis }), undefined, 'x: Tensor<"dtype", ["B", "D"]>, y: Out<"f32", ["B", "D"]>, extra: i32');
    expect(ir.launchGrid).toEqual({ x: lowered, y: "1", z: "1" });
  });

  it.each([
    ["Q", /grid axis 'Q': 'Q' is no run-time size or i32 argument/],
    ["B % 2", /grid axis 'B % 2': the operator % is not allowed/],
    ["s.rows", /grid axis 's.rows': 's.rows' is no numeric constant or schedule knob/],
    ["c.dtype", /'c.dtype' is no numeric constant/],
    ["max(B, 2)", /'max\(B, 2\)' is not allowed/],
  ])("%s is a front-end error", (axis, message) => {
    expect(() => compile(kernel({ x: axis }))).toThrow(DslError);
    expect(() => compile(kernel({ x: axis }))).toThrow(message);
  });
});

describe("limits", () => {
  it("are read as c.NAME in the body and emitted into the variant's constants", () => {
    const ir = compile(kernel({ x: "B" }, { ROWS: 64 }), "  y.store(f32(c.ROWS), blockIdx.x, 0);");
    expect(ir.limits).toEqual({ ROWS: 64 });
    expect(ir.constants).toEqual({ D: 128, dtype: "bf16" }); // no axis of the variant
    expect(JSON.stringify(ir.body)).toContain("c::ROWS");
  });

  it("an unknown one is an unknown constant", () => {
    expect(() => compile(kernel({ x: "B" }), "  y.store(f32(c.ROWS), blockIdx.x, 0);")).toThrow(/no constant 'ROWS' in this kernel/);
  });
});
