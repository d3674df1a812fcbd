// Every generated variant compiles with nvcc for sm_90a, and ptxas reports no spills and no stack frame:
// a local-memory array or a spill in a hot loop would cost far more than it saves.

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { readPtxasReport, type PtxasReport } from "../../runtime/ts/ptxas.js";

const run = promisify(execFile);
const NVCC = ["/usr/local/cuda/bin/nvcc", "nvcc"].find((p) => p === "nvcc" || existsSync(p))!;
const generated = join(PROJECT_ROOT, "generated");
const files = readdirSync(join(generated, "kernels")).filter((f) => f.endsWith(".cu")).sort();
const scratch = mkdtempSync(join(tmpdir(), "lim-nvcc-"));

const SHARED_LIMIT = 227 * 1024;
const manifest = JSON.parse(readFileSync(join(generated, "manifest.json"), "utf8")) as { variants: { file: string; sharedBytes: number }[] };
const dynamicShared = new Map(manifest.variants.map((v) => [v.file.replace(/^kernels\//, ""), v.sharedBytes]));

/** Compiles one file and reads ptxas's report of its kernel. */
async function compile(file: string): Promise<PtxasReport> {
  const args = ["-std=c++17", "-gencode", "arch=compute_90a,code=sm_90a", "-Xptxas", "-v", "-I", join(generated, "include"), "-c", join(generated, "kernels", file), "-o", join(scratch, `${file}.o`)];
  const { stderr } = await run(NVCC, args, { maxBuffer: 1 << 24 });
  const report = readPtxasReport(stderr);
  if (!report) throw new Error(`no ptxas report for ${file}:\n${stderr}`);
  return report;
}

/** Compiles all files, as many at a time as there are cores. */
async function compileAll(): Promise<Map<string, PtxasReport>> {
  const reports = new Map<string, PtxasReport>();
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f; f = queue.shift()) reports.set(f, await compile(f));
  };
  await Promise.all(Array.from({ length: Math.max(1, cpus().length) }, worker));
  return reports;
}

let nvccVersion = "";
try {
  nvccVersion = (await run(NVCC, ["--version"])).stdout;
} catch {
  console.warn("\n[lim] nvcc build tests SKIPPED: nvcc not found (looked for /usr/local/cuda/bin/nvcc and nvcc on PATH)\n");
}

describe.skipIf(!nvccVersion)("nvcc builds of generated/ for sm_90a", () => {
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  let reports: Map<string, PtxasReport>;

  it("compiles every variant", async () => {
    reports = await compileAll();
    expect(reports.size).toBe(files.length);
  }, 900_000);

  it.each(files)("%s: no spills, no stack frame, shared memory within a block's limit", (file) => {
    const r = reports.get(file);
    expect(r, "compiled").toBeDefined();
    expect(r!.spillStores + r!.spillLoads, `spills in ${file}`).toBe(0);
    expect(r!.stack, `stack frame in ${file}`).toBe(0);
    expect(r!.registers).toBeLessThanOrEqual(255);
    expect(dynamicShared.has(file), `${file} is in the manifest`).toBe(true);
    expect(r!.staticShared + dynamicShared.get(file)!, `static + dynamic shared memory of ${file}`).toBeLessThanOrEqual(SHARED_LIMIT);
  });
});
