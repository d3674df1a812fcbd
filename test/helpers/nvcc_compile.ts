// Compiles generated variants with nvcc for the build tests: through the content-addressed cache, at most
// `jobs` at a time, each nvcc (and the cicc, ptxas and gcc it starts) killed if it runs past its limit.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { readPtxasReport, type PtxasReport } from "../../runtime/ts/ptxas.js";
import { cacheKey, type CompileCache } from "./compile_cache.js";

export interface CompileResult {
  report: PtxasReport;
  log: string;
  /** True when the result came from the cache. */
  cached: boolean;
}

export interface CompilerOptions {
  nvcc: string;
  /** `nvcc --version`: a new toolkit compiles everything again. */
  nvccVersion: string;
  flags: readonly string[];
  includeDirs: readonly string[];
  cache: CompileCache;
  jobs: number;
  /** nvcc is killed after this long. */
  timeoutMs: number;
}

/**
 * The texts a compile of `file` reads besides system headers (those change with the nvcc version): the
 * file and, recursively, every `#include "..."` found beside the including file or in `includeDirs`, the
 * order nvcc looks in. An include that is not found enters by name.
 */
export function sourceTexts(file: string, includeDirs: readonly string[]): string[] {
  const seen = new Set<string>();
  const texts: string[] = [];
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const text = readFileSync(path, "utf8");
    texts.push(`${basename(path)}\n${text}`);
    for (const [, name] of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const found = [dirname(path), ...includeDirs].map((d) => join(d, name)).find(existsSync);
      if (found) visit(found);
      else texts.push(`unresolved include ${name}`);
    }
  };
  visit(file);
  return texts;
}

/** Runs nvcc in its own process group, so that a timeout ends the whole compile, not just the driver. */
function runNvcc(nvcc: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(nvcc, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

export class VariantCompiler {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly results = new Map<string, Promise<CompileResult>>();

  constructor(private readonly opts: CompilerOptions) {}

  /** The result of compiling `file`, started now or earlier; the same promise for repeated calls. */
  compile(file: string): Promise<CompileResult> {
    let result = this.results.get(file);
    if (!result) {
      result = this.slot(() => this.compileNow(file));
      result.catch(() => {}); // reported to whoever awaits it; not an unhandled rejection meanwhile
      this.results.set(file, result);
    }
    return result;
  }

  private async slot<T>(body: () => Promise<T>): Promise<T> {
    if (this.running >= this.opts.jobs) await new Promise<void>((go) => this.waiting.push(go));
    this.running++;
    try {
      return await body();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async compileNow(file: string): Promise<CompileResult> {
    const { nvcc, nvccVersion, flags, includeDirs, cache, timeoutMs } = this.opts;
    const env = `NVCC_PREPEND_FLAGS=${process.env.NVCC_PREPEND_FLAGS ?? ""} NVCC_APPEND_FLAGS=${process.env.NVCC_APPEND_FLAGS ?? ""}`;
    const key = cacheKey([nvccVersion, env, flags.join("\0"), ...sourceTexts(file, includeDirs)]);
    const hit = cache.get(key);
    if (hit) return { ...hit, cached: true };

    const object = cache.objectPath(key);
    const tmp = `${object}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const args = [...flags, ...includeDirs.flatMap((d) => ["-I", d]), "-c", file, "-o", tmp];
    try {
      const { code, output, timedOut } = await runNvcc(nvcc, args, timeoutMs);
      const name = basename(file);
      if (timedOut) throw new Error(`nvcc ran past ${timeoutMs / 1000} s compiling ${name} and was stopped`);
      if (code !== 0) throw new Error(`nvcc failed on ${name} (exit ${code}):\n${output.trim().split("\n").slice(-40).join("\n")}`);
      const report = readPtxasReport(output);
      if (!report) throw new Error(`no ptxas report for ${name} in nvcc's output:\n${output}`);
      renameSync(tmp, object);
      cache.put(key, { report, log: output });
      return { report, log: output, cached: false };
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
