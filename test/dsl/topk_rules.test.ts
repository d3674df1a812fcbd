// The top-k's rules refuse the schedules whose shared memory cannot launch, before anything compiles: the
// sizes below are ptxas's and the generator's for nvcc 13.0 (bench/NOTES.md section 37), where the rule that
// counted the fallback sort as K x 4.5 bytes let budget 4096's 1024-thread schedules with 32K cached keys
// through (246 KB against a block's 227).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseScheduleTag } from "../../codegen/schedules.js";
import { topkKernel } from "../../dsl/kernels/topk.js";

const broken = (K: number, tag: string) =>
  topkKernel.rules.map((rule) => rule({ K } as never, parseScheduleTag(topkKernel.spec, tag) as never)).find((r) => r !== undefined);

describe("top-k schedule rules", () => {
  it("refuse a 1024-thread schedule of budget 4096 with 32K cached keys (246 KB: it failed to launch)", () => {
    for (const cluster of [2, 3, 4]) expect(broken(4096, `t1024_i4_c32768_b${cluster}_x1`)).toMatch(/needs 2\d\d KB of shared memory, more than a block's 227 KB/);
  });

  it("keep the largest schedule that launches: 1024 threads, 32K cached keys and room for 2 K at budget 2048 (230.4 KB)", () => {
    expect(broken(2048, "t1024_i4_c32768_b1_x2")).toBeUndefined();
  });

  it("keep every schedule of the H200's tuning database", () => {
    const db = JSON.parse(readFileSync(new URL("../../tuning/nvidia-h200.json", import.meta.url), "utf8")) as {
      entries: Record<string, { kernel: string; constants: { K: number }; best: string }>;
    };
    const tuned = Object.values(db.entries).filter((e) => e.kernel === "topk");
    expect(tuned.length).toBeGreaterThan(0);
    for (const e of tuned) expect(broken(e.constants.K, e.best), `${e.best} at K ${e.constants.K}`).toBeUndefined();
  });

  it("take clusters of 3 blocks", () => {
    expect(topkKernel.spec.schedule.cluster.values).toContain(3);
    expect(broken(2048, "t1024_i4_c32768_b3_x1")).toBeUndefined();
  });
});
