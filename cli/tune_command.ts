// `lim tune`: the autotuning sweep on this machine's GPU. Writes tuning/<device>.json, which `lim generate`
// then uses; prints the tuned against heuristic time of every key it measured. With --carry it measures
// nothing: it carries kernels' entries across an edit of their code (codegen/tuning/carry.ts).

import { cpus } from "node:os";
import { relative, resolve } from "node:path";
import { Option, type Command } from "commander";
import { TUNABLE } from "../autotune/problems.js";
import { DEFAULT_MATRIX, SUPPORTED_MATRIX } from "../dsl/lang/matrix.js";
import { PROJECT_ROOT, parseInteger, parseList, parseNumbers, runAction } from "./common.js";
import { Progress } from "./progress.js";

interface TuneFlags {
  kernels: string[];
  headDims: number[];
  groupSizes: number[];
  dtypes: string[];
  kvDtypes: string[];
  caches: string[];
  budgets: number[];
  db?: string;
  retune?: boolean;
  jobs: number;
  work: string;
  repeats: number;
  warmup: number;
  flushMb: number;
  seed?: number;
  compileOnly?: boolean;
  carry?: string[];
  why?: string;
}

function table(rows: readonly string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ")).join("\n");
}

/** `lim tune --carry`: see codegen/tuning/carry.ts. */
async function carry(kernels: string[], why: string | undefined, db: string | undefined): Promise<number> {
  if (!why?.trim()) throw new Error("--carry needs --why \"...\": the reason the schedules measured on the earlier code still hold, kept in each entry");
  const { loadKernels } = await import("../codegen/frontend/load.js");
  const { kernelDigest } = await import("../codegen/tuning/digest.js");
  const { defaultDatabase, readTuning, writeTuning } = await import("../codegen/tuning/database.js");
  const { carryTuning } = await import("../codegen/tuning/carry.js");
  const { DEFAULT_TARGET_DEVICE } = await import("./generate_command.js");
  const sources = await loadKernels(PROJECT_ROOT, kernels);
  const unknown = kernels.filter((k) => !sources.some((s) => s.definition.spec.name === k));
  if (unknown.length) throw new Error(`--carry: no kernel named ${unknown.join(", ")}; the kernels are ${(await loadKernels(PROJECT_ROOT)).map((s) => s.definition.spec.name).join(", ")}`);
  const path = db ? resolve(db) : defaultDatabase(PROJECT_ROOT, DEFAULT_TARGET_DEVICE);
  const tuning = readTuning(path);
  const date = new Date().toISOString();
  const lines: string[] = [];
  let total = 0;
  for (const source of sources) {
    const digest = kernelDigest(source.fn);
    const name = source.definition.spec.name;
    const { carried, restated } = carryTuning(tuning, source.definition.spec, digest, why.trim(), date);
    total += carried + restated;
    if (carried) lines.push(`${name}: ${carried} entries carried to ${digest}`);
    if (restated) lines.push(`${name}: the reason of ${restated} entries already carried to ${digest} restated`);
    const entries = Object.values(tuning.entries).filter((e) => e.kernel === name).length;
    if (entries === 0) lines.push(`${name}: no entries in this database; nothing to carry`);
    else if (!carried && !restated) lines.push(`${name}: every entry was measured on the current code (${digest}); nothing to carry`);
  }
  if (total > 0) writeTuning(path, tuning);
  console.log(`${lines.join("\n")}${total > 0 ? `\nin ${relative(PROJECT_ROOT, path)}; run \`bin/lim generate\` to use them` : ""}`);
  return 0;
}

export function registerTune(program: Command): void {
  program
    .command("tune")
    .description("autotune schedules on this GPU: compile every valid schedule, check it against the reference, time it per shape bucket, record the best")
    .option("--kernels <list>", "kernels to tune", parseList("--kernels"), Object.keys(TUNABLE))
    .option("--head-dims <list>", "head dimensions", parseNumbers("--head-dims"), [...DEFAULT_MATRIX.headDims])
    .addOption(new Option("--group-sizes <list>", "GQA group sizes").argParser(parseNumbers("--group-sizes")).default([4], "4, the presets'"))
    .option("--dtypes <list>", "element types", parseList("--dtypes", SUPPORTED_MATRIX.dtypes), [...DEFAULT_MATRIX.dtypes])
    .option("--kv-dtypes <list>", "K/V cache element types: auto (the dtype), e4m3, e5m2 (FP8; E5M2 variants take E4M3's schedules unless tuned)", parseList("--kv-dtypes", SUPPORTED_MATRIX.kvDtypes), [...DEFAULT_MATRIX.kvDtypes])
    .option("--caches <list>", "K/V cache layouts: contiguous, paged (timed in pages of 16 in shuffled order; a paged variant takes the contiguous schedule where it has no entry of its own)", parseList("--caches", SUPPORTED_MATRIX.caches), ["contiguous"])
    .option("--budgets <list>", "top-k budgets", parseNumbers("--budgets"), [...DEFAULT_MATRIX.budgets])
    .option("--db <file>", "tuning database to extend (default: tuning/<device>.json)")
    .option("--retune", "measure keys that are already in the database again")
    .addOption(new Option("--jobs <n>", "parallel compilations").argParser(parseInteger("--jobs")).default(cpus().length, "one per core"))
    .option("--work <dir>", "scratch folder for the candidates' sources, build and logs", "build/tune")
    .option("--repeats <n>", "timed replays per candidate and shape (the median is kept)", parseInteger("--repeats"), 25)
    .option("--warmup <n>", "untimed replays first", parseInteger("--warmup"), 3)
    .option("--flush-mb <n>", "MB overwritten before each replay so inputs come from memory, not L2 (0: off)", parseInteger("--flush-mb"), 256)
    .option("--seed <n>", "seed of the correctness inputs (default: fresh)", parseInteger("--seed"))
    .option("--compile-only", "only generate and compile the candidates (no GPU needed), reporting those rejected")
    .option("--carry <kernels>", "measure nothing: point these kernels' entries tuned on an earlier version of their code at the current one, recording --why (default database: the default target's, tuning/nvidia-h200.json)", parseList("--carry"))
    .option("--why <text>", "with --carry: why the schedules measured on the earlier code still hold (kept in each entry and in the generated variants)")
    .action((flags: TuneFlags) =>
      runAction(async () => {
        if (flags.carry) return carry(flags.carry, flags.why, flags.db);
        if (flags.why !== undefined) throw new Error("--why goes with --carry (the reason a carried entry keeps); a sweep measures instead");
        if (flags.jobs < 1 || flags.repeats < 1) throw new Error("--jobs and --repeats must be at least 1");
        // The shapes and the GPU before the sweep's slow start: an unsupported shape names the nearest supported
        // ones, a machine without a GPU says so (--compile-only needs none).
        const { validateMatrix } = await import("../codegen/matrix.js");
        validateMatrix({ headDims: flags.headDims, groupSizes: flags.groupSizes, dtypes: flags.dtypes, budgets: flags.budgets, caches: flags.caches, kvDtypes: flags.kvDtypes });
        if (!flags.compileOnly) {
          const { missingForGpu } = await import("../runtime/ts/native.js");
          const missing = missingForGpu();
          if (missing) throw new Error(`${missing}; \`lim tune --compile-only\` compiles the candidates without a GPU`);
        }
        const { runSweep } = await import("../autotune/sweep.js");
        const started = Date.now();
        const result = await runSweep({
          root: PROJECT_ROOT,
          kernels: flags.kernels,
          matrix: { headDims: flags.headDims, groupSizes: flags.groupSizes, dtypes: flags.dtypes, budgets: flags.budgets, caches: flags.caches, kvDtypes: flags.kvDtypes },
          db: flags.db && resolve(flags.db),
          retune: flags.retune ?? false,
          jobs: flags.jobs,
          work: resolve(flags.work),
          timing: { repeats: flags.repeats, warmup: flags.warmup, flushBytes: flags.flushMb * 2 ** 20 },
          seed: flags.seed ?? (Date.now() >>> 0),
          compileOnly: flags.compileOnly,
          progress: (total, what) => new Progress(total, what),
          log: (line) => console.error(line),
        });
        const db = relative(PROJECT_ROOT, result.db);
        if (flags.compileOnly) {
          console.log(`candidates compiled in ${flags.work} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
          return 0;
        }
        if (result.rows.length === 0) {
          console.log(`every requested key is already in ${db} (${result.skipped}); pass --retune to measure again`);
          return 0;
        }
        const us = (xs: readonly number[]) => xs.map((x) => x.toFixed(1)).join(" / ");
        console.log(
          table([
            ["key", "shapes", "heuristic (us)", "tuned (us)", "tuned schedule", "speed-up", "rejected"],
            ...result.rows.map((r) => [r.key, r.shapes.join(" / "), us(r.heuristicUs), us(r.bestUs), r.best, `${r.speedup.toFixed(2)}x`, String(r.rejected)]),
          ]),
        );
        console.log(`\n${result.rows.length} keys tuned in ${((Date.now() - started) / 1000).toFixed(0)} s, written to ${db}${result.skipped ? ` (${result.skipped} were already there)` : ""}`);
        console.log("run `bin/lim generate` to use the tuned schedules, then rebuild the library");
        return 0;
      }),
    );
}
