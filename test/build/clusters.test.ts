// A kernel in thread-block clusters through the whole pipeline to nvcc: the DSL kernel below (each block adds
// to a counter in the next block of its cluster, then reads its own) is lowered with the library files and
// compiled for sm_90a, so that the cluster primitives' PTX (mapa, barrier.cluster, %cluster_ctarank) and the
// __cluster_dims__ launch pass ptxas. (Running one needs the GPU: the kernels that use clusters are tested there.)

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { parseKernel } from "../../codegen/frontend/load.js";
import { lowerSources } from "../../codegen/generate.js";
import { heuristicSchedule } from "../../codegen/variants.js";
import { defineKernel } from "../../dsl/lang/kernel.js";
import { findNvcc } from "../helpers/nvcc.js";

const ring = defineKernel({
  spec: {
    name: "cluster_ring",
    summary: "each block of a cluster adds one to the next block's counter",
    constants: {},
    schedule: { threads: { tag: "t", values: [128] }, blocks: { tag: "c", values: [4] } },
    cluster: "blocks",
    grid: { x: "B" },
  },
  heuristic: () => ({ threads: 128, blocks: 4 }),
  rules: [],
});

const SOURCE = `export function cluster_ring(c: ConstantsOf<typeof spec>, s: ScheduleOf<typeof spec>, y: Out<"i32", ["B"]>): void {
  const counter = shared("i32", [1]);
  if (threadIdx.x == 0) counter[0] = 0;
  clusterSync();
  if (threadIdx.x == 0) atomicAdd(peer(counter, (clusterRank() + 1) % s.blocks).ref(0), 1);
  clusterSync();
  if (threadIdx.x == 0) y.store(counter[0] + peer(counter, 0)[0], blockIdx.x);
}
`;

const nvcc = findNvcc();

describe.skipIf(!nvcc.ok)("a kernel in thread-block clusters", () => {
  const dir = mkdtempSync(join(tmpdir(), "lim-cluster-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lowers to __cluster_dims__ and the cluster primitives, and compiles for sm_90a", () => {
    const plan = lowerSources(PROJECT_ROOT, [parseKernel("test/build/cluster_ring.ts", SOURCE, ring)], {}, heuristicSchedule);
    for (const [path, text] of plan.files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const file = "kernels/cluster_ring__t128_c4.cu";
    const text = plan.files.get(file)!;
    expect(text).toContain("__global__ void __cluster_dims__(4, 1, 1) __launch_bounds__(128) cluster_ring__t128_c4_kernel(");
    expect(text).toContain("/*cluster_blocks=*/4);");
    const out = execFileSync(nvcc.ok ? nvcc.path : "nvcc", ["-std=c++17", "-gencode", "arch=compute_90a,code=sm_90a", "--diag-suppress=177", "-I", join(dir, "include"),
      "-c", join(dir, file), "-o", join(dir, "ring.o"), "-Xptxas", "-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 });
    expect(out).not.toMatch(/error/i);
  }, 300_000);
});
