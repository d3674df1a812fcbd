// The block sort on fewer bits and bitWidth(): top-k sorts its picks less the threshold on the bits of their
// spread, so the front end must pass the bit count through to CUB and refuse what is not one.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { compileTiny, lowerTiny } from "../helpers/tiny_kernel.js";

const PARAMS = 'y: Out<"i32", ["B"]>, spread: u32, scale: f32';
const SORT = (args: string) => `  const keys = regs("u32", [4]);
  const pos = regs("i32", [4]);
  for (const e of unroll(4)) {
    keys[e] = u32(threadIdx.x * 4 + e);
    pos[e] = threadIdx.x * 4 + e;
  }
  blockSortDescending(${args});
  y.store(pos[0], blockIdx.x);`;

function errorOf(body: string): DslError {
  try {
    compileTiny(body, { params: PARAMS });
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError");
}

describe("sorting on fewer bits", () => {
  it("lowers bitWidth() to the count of significant bits and passes it to the block sort", () => {
    const text = lowerTiny(SORT("keys, pos, bitWidth(spread)"), { params: PARAMS });
    expect(text).toContain("lim::block_sort_descending<s::threads>(keys, pos, (32 - __clz(spread)));");
    expect(lowerTiny(SORT("keys, pos"), { params: PARAMS })).toContain("lim::block_sort_descending<s::threads>(keys, pos);");
  });

  it.each([
    ["a float bit count", "keys, pos, scale", /blockSortDescending\(\) bits/],
    ["a fourth argument", "keys, pos, 8, 8", /blockSortDescending\(\) takes keys, values and optionally the bits to sort on, got 4 arguments/],
  ])("refuses %s, naming the call", (_what, args, message) => {
    const e = errorOf(SORT(args));
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/test\/tiny\.ts:8:\d+/);
  });

  it("refuses bitWidth() of a float", () => {
    expect(errorOf("  y.store(bitWidth(scale), blockIdx.x);").message).toMatch(/bitWidth\(\) argument/);
  });
});
