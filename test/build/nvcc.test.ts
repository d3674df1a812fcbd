// Every generated variant compiles with nvcc for sm_90a, one test per variant (its name in any failure, its
// own time limit). ptxas must report no spills and no stack frame (a local-memory array or a spill in a hot
// loop would cost far more than it saves), few enough registers that one block of the variant's threads is
// resident (else every launch fails), and shared memory within a block's limit.
//
// Variants compile on all cores, ahead of the tests that read them, through a content-addressed cache
// outside the repository (test/helpers/compile_cache.ts): a warm run compiles only what changed. On CI the
// cache is in node_modules, which `npm ci` empties, so CI compiles every variant on every run. Without nvcc
// the tests are skipped with a message, except on CI (CI=true) or with LIM_REQUIRE_NVCC=1, where that fails.
//
// Variants made on request only (E5M2 caches, G 16) are not in generated/: decode attention's, for the default
// head dims and the group sizes whose registers are tightest, are generated into temporary folders with the
// default device's tuned schedules and checked the same way (their kernels include the same lim_device.cuh,
// the one in generated/include, which test/codegen/up_to_date.test.ts keeps current).

import { spawnSync } from "node:child_process";
import { availableParallelism, tmpdir } from "node:os";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { CompileCache } from "../helpers/compile_cache.js";
import { findNvcc, nvccRequired } from "../helpers/nvcc.js";
import { VariantCompiler } from "../helpers/nvcc_compile.js";

const generated = join(PROJECT_ROOT, "generated");

/** A folder of generated variants: each .cu file (path) and its launch (threads, shared bytes) from the manifest. */
function variantsOf(dir: string): { file: string; path: string; threads: number; sharedBytes: number }[] {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { variants: { file: string; threads: number; sharedBytes: number }[] };
  const launch = new Map(manifest.variants.map((v) => [v.file.replace(/^kernels\//, ""), v]));
  return readdirSync(join(dir, "kernels")).filter((f) => f.endsWith(".cu")).sort()
    .map((file) => ({ file, path: join(dir, "kernels", file), threads: launch.get(file)?.threads ?? 0, sharedBytes: launch.get(file)?.sharedBytes ?? 0 }));
}

/** The library build's flags (runtime/CMakeLists.txt): 177 is an unused constant of the variant's structs. */
const FLAGS = ["-std=c++17", "-gencode", "arch=compute_90a,code=sm_90a", "-Xptxas", "-v", "--diag-suppress=177"];
/** Shared memory one block may use on sm_90 (static + dynamic, with the opt-in). */
const SHARED_LIMIT = 227 * 1024;
/** A cold compile takes 10-30 s on a loaded 2-core machine; nvcc is stopped well before the test gives up. */
const NVCC_LIMIT_MS = 240_000;
const TEST_LIMIT_MS = 300_000;

/**
 * Registers per thread that still let one block of `threads` threads be resident: 64K registers per block,
 * allocated in units of 8 per thread, 255 at most.
 */
function registerBudget(threads: number): number {
  return Math.min(255, Math.floor(65536 / threads / 8) * 8);
}

const nvcc = findNvcc();
const required = nvccRequired();

/**
 * The on-request variants, generated only where nvcc can check them: E5M2 caches (contiguous and paged) at
 * group sizes 4, 8 and 16, and 16-bit and E4M3 ones at G 16, where two blocks of heads leave the fewest
 * registers (the default set stops at G 8; at D 192 and 256 their Q fragments wait in shared memory).
 */
const ON_REQUEST_SETS = [
  ["--head-dims", "64,128,256", "--group-sizes", "4,8,16", "--dtypes", "bf16", "--caches", "contiguous,paged", "--kv-dtypes", "e5m2"],
  ["--head-dims", "64,128,192,256", "--group-sizes", "16", "--dtypes", "bf16", "--caches", "contiguous,paged", "--kv-dtypes", "auto,e4m3"],
];
/** The file-name prefixes of the variants a set must produce (one or more schedules each). */
function expectedPrefixes(set: string[]): string[] {
  const list = (flag: string) => set[set.indexOf(flag) + 1].split(",");
  return list("--head-dims").flatMap((d) => list("--group-sizes").flatMap((g) => list("--dtypes").flatMap((t) => list("--caches").flatMap((cache) =>
    list("--kv-dtypes").map((kv) => `decode_attention__d${d}_g${g}_${t}_${cache}${kv === "auto" ? "" : `_${kv}`}__`)))));
}
function onRequestVariants(): string[] {
  return ON_REQUEST_SETS.map((set) => {
    const dir = mkdtempSync(join(tmpdir(), "lim-on-request-"));
    const args = ["generate", "--kernels", "decode_attention", ...set, "--out", dir];
    const r = spawnSync(join(PROJECT_ROOT, "bin/lim"), args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`bin/lim ${args.join(" ")} failed: ${r.stderr}`);
    return dir;
  });
}
const onRequest = nvcc.ok ? onRequestVariants() : [];
const variants = [...variantsOf(generated), ...onRequest.flatMap((dir) => variantsOf(dir).map((v) => ({ ...v, file: `(on request) ${v.file}` })))];
const byFile = new Map(variants.map((v) => [v.file, v]));
if (!nvcc.ok && !required) {
  console.warn(`\n[lim] nvcc build tests SKIPPED: ${nvcc.reason}. (On CI, or with LIM_REQUIRE_NVCC=1, this is a failure.)\n`);
}

describe.runIf(!nvcc.ok && required)("nvcc (required: CI or LIM_REQUIRE_NVCC is set)", () => {
  it("is installed", () => {
    expect.fail(nvcc.ok ? "" : nvcc.reason);
  });
});

describe.skipIf(!nvcc.ok)("nvcc builds of generated/ for sm_90a", () => {
  const testName = (file: string) => `${file}: compiles, no spills, no stack frame, registers and shared memory fit a block`;
  const fileOf = new Map(variants.map((v) => [testName(v.file), v]));
  let compiler: VariantCompiler;
  let cache: CompileCache;
  const counts = { compiled: 0, cached: 0 };

  // Starts the compiles of the tests that will run (all, unless filtered with -t), in test order: while a
  // test waits for its variant, the next ones compile on the other cores.
  beforeAll(({}, suite) => {
    if (!nvcc.ok) return;
    cache = new CompileCache();
    compiler = new VariantCompiler({
      nvcc: nvcc.path, nvccVersion: nvcc.version, flags: FLAGS, includeDirs: [join(generated, "include")], cache,
      jobs: Math.max(1, availableParallelism()), timeoutMs: NVCC_LIMIT_MS,
    });
    for (const task of suite.tasks) {
      const variant = fileOf.get(task.name);
      if (variant && (task.mode === "run" || task.mode === "only")) void compiler.compile(variant.path);
    }
  });

  afterAll(() => {
    for (const dir of onRequest) rmSync(dir, { recursive: true, force: true });
    if (!cache) return;
    console.log(`[lim] nvcc: ${counts.compiled} variants compiled, ${counts.cached} from the cache in ${cache.dir}`);
    cache.prune();
  });

  it.each(ON_REQUEST_SETS.map((set, i) => [set.join(" "), i] as const))("on request (%s): every combination is generated", (_name, i) => {
    const files = variantsOf(onRequest[i]).map((v) => v.file);
    const missing = expectedPrefixes(ON_REQUEST_SETS[i]).filter((prefix) => !files.some((f) => f.startsWith(prefix)));
    expect(missing, "variants the set names but generation did not write").toEqual([]);
  });

  it.each(variants.map((v) => v.file))(testName("%s"), async (file) => {
    const variant = byFile.get(file)!;
    expect(variant.threads, `${file} is in its folder's manifest.json`).toBeGreaterThan(0);
    const { report: r, cached } = await compiler.compile(variant.path);
    counts[cached ? "cached" : "compiled"]++;
    expect(r.spillStores + r.spillLoads, `spill bytes (stores + loads) in ${file}`).toBe(0);
    expect(r.stack, `stack frame bytes of ${file}`).toBe(0);
    expect(r.registers, `registers per thread of ${file}, launched with ${variant.threads} threads`).toBeLessThanOrEqual(registerBudget(variant.threads));
    expect(r.staticShared + variant.sharedBytes, `static + dynamic shared memory of ${file}`).toBeLessThanOrEqual(SHARED_LIMIT);
  }, TEST_LIMIT_MS);
});
