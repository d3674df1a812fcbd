// Every generated variant compiles with nvcc for sm_90a, one test per variant (its name in any failure, its
// own time limit). ptxas must report no spills and no stack frame (a local-memory array or a spill in a hot
// loop would cost far more than it saves), few enough registers that one block of the variant's threads is
// resident (else every launch fails), and shared memory within a block's limit.
//
// Variants compile on all cores, ahead of the tests that read them, through a content-addressed cache
// outside the repository (test/helpers/compile_cache.ts): a warm run compiles only what changed. On CI the
// cache is in node_modules, which `npm ci` empties, so CI compiles every variant on every run. Without nvcc
// the tests are skipped with a message, except on CI (CI=true) or with LIM_REQUIRE_NVCC=1, where that fails.

import { availableParallelism } from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { CompileCache } from "../helpers/compile_cache.js";
import { findNvcc, nvccRequired } from "../helpers/nvcc.js";
import { VariantCompiler } from "../helpers/nvcc_compile.js";

const generated = join(PROJECT_ROOT, "generated");
const files = readdirSync(join(generated, "kernels")).filter((f) => f.endsWith(".cu")).sort();
const manifest = JSON.parse(readFileSync(join(generated, "manifest.json"), "utf8")) as { variants: { file: string; threads: number; sharedBytes: number }[] };
const launch = new Map(manifest.variants.map((v) => [v.file.replace(/^kernels\//, ""), v]));

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
  const fileOf = new Map(files.map((f) => [testName(f), f]));
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
      const file = fileOf.get(task.name);
      if (file && (task.mode === "run" || task.mode === "only")) void compiler.compile(join(generated, "kernels", file));
    }
  });

  afterAll(() => {
    if (!cache) return;
    console.log(`[lim] nvcc: ${counts.compiled} variants compiled, ${counts.cached} from the cache in ${cache.dir}`);
    cache.prune();
  });

  it.each(files)(testName("%s"), async (file) => {
    const variant = launch.get(file);
    expect(variant, `${file} is in generated/manifest.json`).toBeDefined();
    const { report: r, cached } = await compiler.compile(join(generated, "kernels", file));
    counts[cached ? "cached" : "compiled"]++;
    expect(r.spillStores + r.spillLoads, `spill bytes (stores + loads) in ${file}`).toBe(0);
    expect(r.stack, `stack frame bytes of ${file}`).toBe(0);
    expect(r.registers, `registers per thread of ${file}, launched with ${variant!.threads} threads`).toBeLessThanOrEqual(registerBudget(variant!.threads));
    expect(r.staticShared + variant!.sharedBytes, `static + dynamic shared memory of ${file}`).toBeLessThanOrEqual(SHARED_LIMIT);
  }, TEST_LIMIT_MS);
});
