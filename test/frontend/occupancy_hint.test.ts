// occupancyFromSharedMemory: a kernel may tell ptxas that a variant's shared memory leaves one block per SM
// (__launch_bounds__' second argument), so that a 512-thread block may use more than 64 registers; no hint
// where two blocks fit or at 1024 threads (where the cap is 64 anyway and the hint made ptxas spill).

import { describe, expect, it } from "vitest";
import { elaborate } from "../../codegen/frontend/elaborate.js";
import { parseKernel } from "../../codegen/frontend/load.js";
import { defineKernel } from "../../dsl/lang/kernel.js";
import { TINY_FILE, tinySource } from "../helpers/tiny_kernel.js";

function kernel(occupancyFromSharedMemory: boolean | undefined) {
  return defineKernel({
    spec: {
      name: "tiny", summary: "an occupancy hint", constants: {}, grid: { x: "B" }, occupancyFromSharedMemory,
      schedule: { threads: { tag: "t", values: [256, 512, 1024] }, words: { tag: "w", values: [1024, 28672, 32768] } },
    },
    heuristic: () => ({ threads: 512, words: 1024 }),
    rules: [],
  });
}

const BODY = `  const staged = shared("i32", [s.words]);
  staged[threadIdx.x] = blockIdx.x;
  syncthreads();
  y.store(staged[(threadIdx.x + 1) % s.threads], blockIdx.x);`;

const hint = (asked: boolean | undefined, threads: number, words: number) =>
  elaborate(parseKernel(TINY_FILE, tinySource(BODY, 'y: Out<"i32", ["B"]>'), kernel(asked)), {}, { threads, words }).minBlocksPerSM;

describe("the occupancy hint", () => {
  it.each([
    [512, 32768, 1], // 128 KB: one block per SM
    [256, 32768, 1],
    [512, 28672, undefined], // 112 KB: two blocks fit (with 1 KB reserved each)
    [512, 1024, undefined],
    [1024, 32768, undefined], // 64 registers either way
  ])("at %i threads and %i words of shared memory is %s", (threads, words, want) => {
    expect(hint(true, threads, words)).toBe(want);
  });

  it("is never given unasked", () => {
    expect(hint(undefined, 512, 32768)).toBeUndefined();
  });
});
