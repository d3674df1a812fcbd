// A content-addressed cache of nvcc results (object file and ptxas report) for the build tests, kept outside
// the repository so that a warm `npm test` only compiles the variants whose text, headers, compiler or
// flags changed. Entries are keyed by a hash of everything that decides the result; an edit never needs an
// invalidation, and two checkouts can share one cache.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PtxasReport } from "../../runtime/ts/ptxas.js";
import { envFlag } from "./nvcc.js";

/** Bumped when the entry layout or what a key covers changes. */
const FORMAT = "lim-nvcc-cache/1";
/** Entries nobody has read for this long are removed by prune(). */
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

export interface CachedCompile {
  report: PtxasReport;
  /** nvcc's output (ptxas -v and any warnings). */
  log: string;
}

/**
 * LIM_NVCC_CACHE; else on CI node_modules/.cache/lim-nvcc, which `npm ci` empties, so that every CI run
 * compiles every variant whatever the runner keeps in its home folder; else $XDG_CACHE_HOME/lim-nvcc or
 * ~/.cache/lim-nvcc, which survive `npm ci`.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LIM_NVCC_CACHE) return env.LIM_NVCC_CACHE;
  if (envFlag(env.CI)) return fileURLToPath(new URL("../../node_modules/.cache/lim-nvcc", import.meta.url));
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "lim-nvcc");
}

/** The key of a compile: hex SHA-256 over the cache format and every input, in order. */
export function cacheKey(inputs: readonly string[]): string {
  const h = createHash("sha256").update(FORMAT);
  // Length-prefixed, so that moving text from one input to the next changes the key.
  for (const s of inputs) h.update(`\0${Buffer.byteLength(s)}\0`).update(s);
  return h.digest("hex");
}

const isReport = (r: unknown): r is PtxasReport =>
  typeof r === "object" && r !== null && ["registers", "stack", "spillStores", "spillLoads", "staticShared"].every((k) => typeof (r as Record<string, unknown>)[k] === "number");

export class CompileCache {
  readonly dir: string;

  /** Opens (creating) `dir`; where it cannot be created, a temporary folder serves this run only. */
  constructor(dir: string = defaultCacheDir()) {
    try {
      mkdirSync(dir, { recursive: true });
      this.dir = dir;
    } catch (e) {
      this.dir = mkdtempSync(join(tmpdir(), "lim-nvcc-"));
      console.warn(`[lim] cannot create the nvcc cache ${dir} (${e instanceof Error ? e.message : e}); using ${this.dir} for this run (set LIM_NVCC_CACHE)`);
    }
  }

  /** Where the object file of `key` lives (or is written to, through a temporary name, by the caller). */
  objectPath(key: string): string {
    return join(this.dir, `${key}.o`);
  }

  /** The stored result of `key`, or undefined; a hit is marked as used so that prune() keeps it. */
  get(key: string): CachedCompile | undefined {
    const meta = join(this.dir, `${key}.json`);
    if (!existsSync(meta) || !existsSync(this.objectPath(key))) return undefined;
    try {
      const entry = JSON.parse(readFileSync(meta, "utf8")) as { format?: string; report?: unknown; log?: unknown };
      if (entry.format !== FORMAT || !isReport(entry.report) || typeof entry.log !== "string") return undefined;
      const now = new Date();
      utimesSync(meta, now, now);
      return { report: entry.report, log: entry.log };
    } catch {
      return undefined; // a torn or foreign file: compile again and overwrite it
    }
  }

  /**
   * Records `result` for `key`. The object file must already be at objectPath(key); the report is written
   * last, through a rename, so a reader never sees a report without its object file.
   */
  put(key: string, result: CachedCompile): void {
    const meta = join(this.dir, `${key}.json`);
    const tmp = `${meta}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...result }));
    renameSync(tmp, meta);
  }

  /** Removes entries unused for 30 days, and temporary or orphaned files that interrupted runs left a day ago. */
  prune(now = Date.now()): void {
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      try {
        const age = now - statSync(path).mtimeMs;
        const day = 24 * 3600 * 1000;
        const orphan = name.endsWith(".o") && !existsSync(path.replace(/\.o$/, ".json"));
        const stale = name.includes(".tmp-") || orphan ? age > day : name.endsWith(".json") && age > MAX_AGE_MS;
        if (!stale) continue;
        rmSync(path, { force: true });
        if (name.endsWith(".json")) rmSync(path.replace(/\.json$/, ".o"), { force: true });
      } catch {
        // another run removed it first
      }
    }
  }
}
