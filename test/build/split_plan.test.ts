// The C ABI's split planner (runtime/capi/split_plan.h) compiled into a host program and run over a grid of
// launches: every plan covers the rows exactly once, with no empty split, chunks a multiple of the granule,
// never a second wave of blocks unless the chunk bound of index lists asks for it, and short rows unsplit.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { findNvcc } from "../helpers/nvcc.js";

const nvcc = findNvcc();

const BLOCKS = [1, 3, 8, 32, 64, 256, 1024, 20000];
const LENGTHS = [1, 100, 511, 512, 513, 700, 1000, 2048, 4096, 12345, 32768, 131072];
const RESIDENT = [132, 264, 1056];
const MAX_CHUNK = [0, 1024];
const [MIN_SPLIT, MIN_CHUNK, GRANULE] = [512, 128, 16];

// Prints "blocks max_len resident max_chunk splits chunk" per launch of the grid.
const HARNESS = `#include <cstdio>
#include "split_plan.h"
int main() {
  const long long blocks[] = {${BLOCKS.join(", ")}};
  const int lengths[] = {${LENGTHS.join(", ")}}, resident[] = {${RESIDENT.join(", ")}}, max_chunk[] = {${MAX_CHUNK.join(", ")}};
  for (long long b : blocks)
    for (int n : lengths)
      for (int r : resident)
        for (int m : max_chunk) {
          const lim_capi::SplitPlan p = lim_capi::plan_split(b, n, r, ${MIN_SPLIT}, ${MIN_CHUNK}, ${GRANULE}, m);
          std::printf("%lld %d %d %d %d %d\\n", b, n, r, m, p.splits, p.chunk);
        }
}
`;

describe.skipIf(!nvcc.ok)("the split planner", () => {
  const dir = mkdtempSync(join(tmpdir(), "lim-split-plan-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("covers every row once, in granule-sized chunks, within one wave unless the list chunk bound needs more", () => {
    writeFileSync(join(dir, "plan.cpp"), HARNESS);
    const exe = join(dir, "plan");
    execFileSync(nvcc.ok ? nvcc.path : "nvcc", ["-std=c++17", "-I", join(PROJECT_ROOT, "runtime", "capi"), join(dir, "plan.cpp"), "-o", exe], { stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
    const rows = execFileSync(exe, { encoding: "utf8" }).trim().split("\n").map((line) => line.split(" ").map(Number));
    expect(rows).toHaveLength(BLOCKS.length * LENGTHS.length * RESIDENT.length * MAX_CHUNK.length);
    let split = 0;
    for (const [blocks, n, resident, maxChunk, splits, chunk] of rows) {
      const at = `blocks ${blocks}, max_len ${n}, resident ${resident}, max_chunk ${maxChunk}: ${splits} x ${chunk}`;
      expect(splits, at).toBeGreaterThanOrEqual(1);
      expect(splits * chunk, `${at} covers the rows`).toBeGreaterThanOrEqual(n);
      expect((splits - 1) * chunk, `${at} leaves no split empty`).toBeLessThan(n);
      if (n < MIN_SPLIT) expect(splits, `${at}: short rows run unsplit`).toBe(1);
      if (splits === 1) {
        expect(chunk, at).toBe(n);
        continue;
      }
      split++;
      expect(chunk % GRANULE, `${at}: chunks are whole granules`).toBe(0);
      expect(splits, `${at}: no chunk much below the smallest`).toBeLessThanOrEqual(Math.max(Math.ceil(n / MIN_CHUNK), maxChunk > 0 ? Math.ceil(n / maxChunk) : 1));
      if (maxChunk > 0) expect(chunk, `${at}: list chunks fit the entries a block caches`).toBeLessThanOrEqual(maxChunk);
      if (maxChunk === 0 || n <= maxChunk) expect(blocks * splits, `${at}: one wave`).toBeLessThanOrEqual(Math.max(resident, blocks));
    }
    expect(split, "the grid has split launches").toBeGreaterThan(50);
  }, 180_000);
});
