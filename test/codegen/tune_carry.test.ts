// `lim tune --carry`: measures nothing, needs a reason, names a kernel it does not know, and carries the
// stale entries of a database (a copy here) to the current code with the reason recorded; it refuses entries
// whose schedules the kernel's schedule space no longer has.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { loadKernels } from "../../codegen/frontend/load.js";
import { readTuning, TUNING_FORMAT } from "../../codegen/tuning/database.js";
import { kernelDigest } from "../../codegen/tuning/digest.js";
import { TOOLKIT_VERSION } from "../../codegen/version.js";

const dir = mkdtempSync(join(tmpdir(), "lim-carry-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lim = (...args: string[]) => spawnSync(join(PROJECT_ROOT, "bin/lim"), ["tune", ...args], { encoding: "utf8" });

it("refuses --carry without --why and an unknown kernel, naming the fix", () => {
  const noReason = lim("--carry", "topk", "--db", join(dir, "none.json"));
  expect(noReason.status).toBe(1);
  expect(noReason.stderr).toMatch(/--carry needs --why/);
  const unknown = lim("--carry", "topk,nope", "--why", "x", "--db", join(dir, "none.json"));
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toMatch(/--carry: no kernel named nope; the kernels are .*topk/);
});

it("carries a database's stale entries of the named kernel to the current code", async () => {
  const [topk] = await loadKernels(PROJECT_ROOT, ["topk"]);
  const path = join(dir, "db.json");
  const entry = { kernel: "topk", constants: { K: 2048 }, bucket: null, shapes: ["x"], source: "0123456789abcdef", heuristic: "t512_i4_c8192_b1_x1", best: "t512_i4_c8192_b4_x1", speedup: 1.2, tuned: "t", candidates: [] };
  const metadata = { device: "NVIDIA H200", computeCapability: "9.0", multiprocessors: 132, cudaDriver: "13.0", cudaRuntime: "13.0", nvcc: "13.0", toolkit: `lim ${TOOLKIT_VERSION}`, created: "x", updated: "x" };
  writeFileSync(path, JSON.stringify({ format: TUNING_FORMAT, metadata, entries: { "topk__k2048": entry } }));
  const r = lim("--carry", "topk", "--why", "only a comment moved", "--db", path);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^topk: 1 entries carried to [0-9a-f]{16}/);
  const carried = readTuning(path).entries["topk__k2048"];
  expect(carried.source).toBe(kernelDigest(topk.fn));
  expect(carried.carried).toMatchObject({ from: "0123456789abcdef", reason: "only a comment moved" });
  const again = lim("--carry", "topk", "--why", "measured since", "--db", path);
  expect(again.stdout).toMatch(/topk: the reason of 1 entries already carried to [0-9a-f]{16} restated/);
  expect(readTuning(path).entries["topk__k2048"].carried).toMatchObject({ from: "0123456789abcdef", reason: "measured since" });
  // An entry measured on the current code is never marked carried.
  writeFileSync(path, JSON.stringify({ format: TUNING_FORMAT, metadata, entries: { "topk__k2048": { ...entry, source: kernelDigest(topk.fn) } } }));
  const measured = lim("--carry", "topk", "--why", "x", "--db", path);
  expect(measured.stdout).toMatch(/topk: every entry was measured on the current code .*; nothing to carry/);
  expect(readTuning(path).entries["topk__k2048"].carried).toBeUndefined();
});

it("refuses to carry entries whose schedules the kernel's schedule space no longer has, leaving the file as it was", () => {
  const path = join(dir, "old-space.json");
  const entry = { kernel: "topk", constants: { K: 2048 }, bucket: null, shapes: ["x"], source: "0123456789abcdef", heuristic: "t512_i4", best: "t512_i4", speedup: 1.2, tuned: "t", candidates: [] };
  const metadata = { device: "NVIDIA H200", computeCapability: "9.0", multiprocessors: 132, cudaDriver: "13.0", cudaRuntime: "13.0", nvcc: "13.0", toolkit: `lim ${TOOLKIT_VERSION}`, created: "x", updated: "x" };
  const text = JSON.stringify({ format: TUNING_FORMAT, metadata, entries: { "topk__k2048": entry } });
  writeFileSync(path, text);
  const r = lim("--carry", "topk", "--why", "a knob was added", "--db", path);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/--carry: 1 entries of topk name schedules outside its current schedule space, so they cannot be carried: topk__k2048 \(schedule 't512_i4' for topk: expected .*\)\. Measure them again/);
  expect(readFileSync(path, "utf8")).toBe(text);
});
