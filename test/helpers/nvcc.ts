// Finds nvcc for the build tests, and decides what its absence means: on CI (CI=true) or with
// LIM_REQUIRE_NVCC=1 a failure, since a build test that skips silently would let spills and broken
// variants through; elsewhere a skip with a message that names what is missing.

import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Where the README says nvcc is looked for first; then $CUDA_HOME/bin, then PATH (LIM_NVCC overrides all). */
const CUDA_DEFAULT = "/usr/local/cuda/bin/nvcc";

export type NvccProbe = { ok: true; path: string; version: string } | { ok: false; reason: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function candidates(env: NodeJS.ProcessEnv): string[] {
  if (env.LIM_NVCC) return [env.LIM_NVCC]; // one chosen compiler, and nothing else
  const fromHome = env.CUDA_HOME ? [join(env.CUDA_HOME, "bin", "nvcc")] : [];
  const fromPath = (env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "nvcc"));
  return [CUDA_DEFAULT, ...fromHome, ...fromPath];
}

/** The first working nvcc and its `--version` text, or what was looked for and why it is unusable. */
export function findNvcc(env: NodeJS.ProcessEnv = process.env): NvccProbe {
  const looked = candidates(env);
  const path = looked.find(executable);
  if (!path) {
    const where = env.LIM_NVCC ? `LIM_NVCC=${env.LIM_NVCC}` : `${CUDA_DEFAULT}${env.CUDA_HOME ? ", $CUDA_HOME/bin/nvcc" : ""} and nvcc on PATH`;
    return { ok: false, reason: `nvcc not found (looked for ${where}); install the CUDA toolkit (12.8 or newer)` };
  }
  try {
    return { ok: true, path, version: execFileSync(path, ["--version"], { encoding: "utf8" }) };
  } catch (e) {
    return { ok: false, reason: `${path} does not run: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** An environment variable used as a switch: set, and not empty, "0" or "false". */
export const envFlag = (v: string | undefined) => v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";

/** Whether a missing nvcc fails the tests instead of skipping them. */
export function nvccRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return envFlag(env.CI) || envFlag(env.LIM_REQUIRE_NVCC);
}
