// Moving mma fragments between lanes: lane groups spaced by a stride (the 8 lanes of a fragment's column)
// and the 8 x 8 transpose (movmatrix) that turns an accumulator into an operand.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { lowerTiny } from "../helpers/tiny_kernel.js";

function errorOf(body: string): DslError {
  try {
    lowerTiny(body);
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError");
}

describe("warp fragments", () => {
  it("reduce over lanes a stride apart, and over consecutive lanes without one", () => {
    const text = lowerTiny(`  const v = x.at(blockIdx.x, threadIdx.x);
  y.store(laneGroupMax(v, 8, 4) + laneGroupSum(v, 4), blockIdx.x, threadIdx.x);`);
    expect(text).toContain("lim::lane_group_max<8, 4>(v)");
    expect(text).toContain("lim::lane_group_sum<4>(v)");
  });

  it("ballot a predicate over the warp, and refuse a number for it", () => {
    const text = lowerTiny(`  const v = x.at(blockIdx.x, threadIdx.x);
  y.store(f32(popcount(warpBallot(v > 0))), blockIdx.x, threadIdx.x);`);
    expect(text).toContain("__popc(__ballot_sync(0xffffffffu, v > 0.0f))");
    expect(errorOf(`  const v = x.at(blockIdx.x, threadIdx.x);\n  y.store(f32(warpBallot(v)), blockIdx.x, threadIdx.x);`).message).toMatch(/warpBallot\(\) predicate: expected bool, got f32/);
  });

  it("transpose an 8 x 8 matrix of 16-bit pairs with movmatrix", () => {
    const text = lowerTiny(`  const w = pack2(x.at(blockIdx.x, 0), x.at(blockIdx.x, 1), c.dtype);
  y.store(f32(transposeMatrix(w)), blockIdx.x, threadIdx.x);`);
    expect(text).toContain("lim::transpose_matrix(w)");
  });

  it.each([
    ["a group past the warp", "laneGroupMax(v, 16, 4)", /stride must be a power of two with width \* stride <= 32, got width 16 and stride 4/],
    ["a stride that is not a power of two", "laneGroupSum(v, 4, 3)", /stride must be a power of two/],
    ["a run-time stride", "laneGroupSum(v, 4, threadIdx.x)", /stride must be known at compile time/],
    ["four arguments", "laneGroupSum(v, 4, 2, 1)", /laneGroupSum\(\) takes 2 or 3 arguments/],
  ])("refuse %s", (_what, call, message) => {
    const e = errorOf(`  const v = x.at(blockIdx.x, threadIdx.x);\n  y.store(${call}, blockIdx.x, threadIdx.x);`);
    expect(e.message).toMatch(message);
  });

  it("refuse a transpose of anything but one word", () => {
    expect(errorOf(`  y.store(f32(transposeMatrix()), blockIdx.x, threadIdx.x);`).message).toMatch(/transposeMatrix\(\) takes 1 argument/);
  });
});
