// Thread-block clusters in the front end: a spec names its cluster knob; clusterRank(), clusterSync() and
// peer() (another block's shared array) lower to the device library's cluster primitives, the kernel gets
// __cluster_dims__, and the mistakes are refused naming what is wrong.

import { describe, expect, it } from "vitest";
import { DslError } from "../../codegen/frontend/diagnostics.js";
import { elaborate } from "../../codegen/frontend/elaborate.js";
import { parseKernel } from "../../codegen/frontend/load.js";
import { Emitter } from "../../codegen/lower/emit.js";
import { defineKernel } from "../../dsl/lang/kernel.js";
import { TINY_FILE, tinySource } from "../helpers/tiny_kernel.js";

const PARAMS = 'y: Out<"i32", ["B"]>';

function kernel(cluster?: string, values: number[] = [1, 2, 4, 8]) {
  return defineKernel({
    spec: {
      name: "tiny", summary: "clusters", constants: {}, grid: { x: "B" }, cluster,
      schedule: { threads: { tag: "t", values: [128] }, blocks: { tag: "c", values } },
    },
    heuristic: () => ({ threads: 128, blocks: 4 }),
    rules: [],
  });
}

const compile = (body: string, cluster: string | null = "blocks", blocks = 4) =>
  elaborate(parseKernel(TINY_FILE, tinySource(body, PARAMS), kernel(cluster ?? undefined)), {}, { threads: 128, blocks });

function errorOf(run: () => unknown): DslError {
  try {
    run();
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError");
}

/** Each block adds one to a counter in the next block of its cluster, then reads its own. */
const RING = `  const counter = shared("i32", [1]);
  if (threadIdx.x == 0) counter[0] = 0;
  clusterSync();
  if (threadIdx.x == 0) atomicAdd(peer(counter, (clusterRank() + 1) % s.blocks).ref(0), 1);
  clusterSync();
  if (threadIdx.x == 0) y.store(counter[0] + peer(counter, 0)[0], blockIdx.x);`;

describe("thread-block clusters", () => {
  it("lowers rank, barrier and peer arrays to the device library, and records the cluster's blocks", () => {
    const ir = compile(RING);
    expect(ir.clusterBlocks).toBe(4);
    const e = new Emitter();
    e.stmts(ir.body, 0);
    const text = e.text();
    expect(text).toContain("lim::cluster_sync();");
    expect(text).toContain("atomicAdd(&lim::peer(counter, (lim::cluster_rank() + 1) % s::blocks)[0], 1)");
    expect(text).toContain("counter[0] + lim::peer(counter, 0)[0]");
    expect(compile("  return;", null).clusterBlocks).toBe(1);
  });

  it("takes any cluster of 1 to 8 blocks, 3 included (it fills GPCs whose SMs 4 does not divide)", () => {
    const three = elaborate(parseKernel(TINY_FILE, tinySource(RING, PARAMS), kernel("blocks", [1, 3, 8])), {}, { threads: 128, blocks: 3 });
    expect(three.clusterBlocks).toBe(3);
  });

  it.each([
    ["a cluster primitive without a cluster knob", () => compile("  const r = clusterRank();", null), /clusterRank\(\) in a kernel without thread-block clusters/],
    ["peer() of a register array", () => compile('  const a = regs("i32", [4]);\n  const x = peer(a, 1)[0];'), /peer\(\) takes a shared array by name, got register array/],
    ["a peer rank past the cluster", () => compile('  const a = shared("f32", [8]);\n  const x = peer(a, 4)[0];'), /peer\(\) rank 4 is outside the cluster of 4 blocks \(ranks 0 to 3\)/],
    ["a negative peer rank", () => compile('  const a = shared("f32", [8]);\n  const x = peer(a, 2 - 3)[0];'), /peer\(\) rank -1 is outside the cluster of 4 blocks/],
    ["an asynchronous copy into a peer's array", () => compile('  const a = shared("f32", [8]);\n  asyncCopy(peer(a, 1).ref(0), y.ref(0), 1, true);'), /asyncCopy\(\) destination must be a shared-memory location, got peer block's shared location of f32/],
  ])("refuses %s", (_label, run, message) => {
    expect(errorOf(run).summary).toMatch(message);
  });

  it.each([
    ["a cluster knob that does not exist", kernel("clusters"), /cluster of tiny names 'clusters', which is no schedule knob/],
    ["a cluster of 16 blocks", kernel("blocks", [2, 16]), /cluster knob 'blocks' of tiny has values 16/],
    ["a cluster of 9 blocks", kernel("blocks", [3, 9]), /cluster knob 'blocks' of tiny has values 9$/],
  ])("refuses a spec with %s", (_label, definition, message) => {
    expect(errorOf(() => parseKernel(TINY_FILE, tinySource("  return;", PARAMS), definition)).summary).toMatch(message);
  });
});
