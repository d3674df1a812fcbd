// `lim tune`: for each (kernel, constants, shape bucket) not yet in the device's tuning database, generate
// every valid schedule of the kernel's space, compile them all into one library on every core, check each
// against the float64 reference, time it at the bucket's shapes, and record the best in the database
// after each key (an interrupted sweep resumes where it stopped).

import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { planGeneration } from "../codegen/generate.js";
import type { KernelSource } from "../codegen/types.js";
import { loadKernels } from "../codegen/frontend/load.js";
import { constantsTag, scheduleTag } from "../codegen/names.js";
import { scheduleSpace } from "../codegen/schedules.js";
import {
  defaultDatabase, openTuning, retiredEntries, sourceDigest, TUNING_FORMAT, tuningKey, writeTuning, type TunedCandidate, type TuningDatabase, type TuningEntry, type TuningMetadata,
} from "../codegen/tuning/database.js";
import { kernelDigest } from "../codegen/tuning/digest.js";
import { bucketRanges, supportedCombinations, heuristicSchedule, type Matrix, type ScheduleChooser } from "../codegen/variants.js";
import { TOOLKIT_VERSION } from "../codegen/version.js";
import { writeGenerated } from "../codegen/write.js";
import { ADDON_PATH, loadNative, type DeviceInfo, type TimingOptions } from "../runtime/ts/native.js";
import { ptxasProblem, readPtxasReport } from "../runtime/ts/ptxas.js";
import { geomean } from "../report/stats.js";
import { TUNABLE } from "./problems.js";
import type { JobKey, TuningJob, WorkerEvent } from "./protocol.js";

export interface Reporter {
  tick(label: string): void;
  done(): void;
}

export interface SweepOptions {
  readonly root: string;
  readonly kernels: readonly string[];
  readonly matrix: Matrix;
  /** Default: tuning/<device>.json. */
  readonly db?: string;
  readonly retune: boolean;
  readonly jobs: number;
  /** Scratch folder for the candidates' sources, build and logs. */
  readonly work: string;
  readonly timing: TimingOptions;
  readonly seed: number;
  /** Generate and compile the candidates (reporting those rejected), without a GPU; nothing is timed. */
  readonly compileOnly?: boolean;
  readonly progress: (total: number, what: string) => Reporter;
  readonly log: (line: string) => void;
}

export interface SweepRow {
  readonly key: string;
  readonly shapes: readonly string[];
  readonly heuristic: string;
  readonly heuristicUs: readonly number[];
  readonly best: string;
  readonly bestUs: readonly number[];
  readonly speedup: number;
  readonly rejected: number;
}

interface PendingKey extends Omit<JobKey, "candidates"> {
  readonly source: KernelSource;
  readonly range: readonly [number, number];
  readonly digest: string;
}

function findNvcc(): string {
  for (const candidate of ["/usr/local/cuda/bin/nvcc", "nvcc"]) {
    try {
      const out = execFileSync(candidate, ["--version"], { encoding: "utf8" });
      return /release ([\d.]+), V([\d.]+)/.exec(out)?.[2] ?? "unknown";
    } catch {
      // try the next
    }
  }
  throw new Error("lim tune compiles candidates with nvcc, which was found neither at /usr/local/cuda/bin/nvcc nor on PATH");
}

function metadata(info: DeviceInfo): TuningMetadata {
  const now = new Date().toISOString();
  return {
    device: info.name, computeCapability: info.computeCapability, multiprocessors: info.multiprocessors, cudaDriver: info.cudaDriver,
    cudaRuntime: info.cudaRuntime, nvcc: findNvcc(), toolkit: `lim ${TOOLKIT_VERSION}`, created: now, updated: now,
  };
}

/** The keys of the requested kernels and matrix that the database lacks (or holds for an older kernel). */
export function pendingKeys(sources: readonly KernelSource[], opts: SweepOptions, db: TuningDatabase): PendingKey[] {
  return sources.flatMap((source) => {
    const spec = source.definition.spec;
    const digest = kernelDigest(source.fn);
    return supportedCombinations(source, opts.matrix).flatMap((constants) =>
      bucketRanges(spec)
        .map(({ range, tunedAt }) => ({ key: tuningKey(spec, constants, range), kernel: spec.name, constants, tunedAt, source, range, digest }))
        .filter((k) => opts.retune || db.entries[k.key]?.source !== digest),
    );
  });
}

/** Heuristic plus the whole space for the pending constants, minus `excluded` variants; heuristics elsewhere. */
function candidateChooser(pending: readonly PendingKey[], excluded: ReadonlySet<string>): ScheduleChooser {
  const wanted = new Set(pending.map((k) => `${k.kernel}/${constantsTag(k.source.definition.spec, k.constants)}`));
  return (source, constants) => {
    const spec = source.definition.spec;
    const heuristic = heuristicSchedule(source, constants);
    if (!wanted.has(`${spec.name}/${constantsTag(spec, constants)}`)) return heuristic;
    const space = scheduleSpace(spec).map((schedule) => ({ schedule, origin: "space", optional: true }));
    return [...heuristic, ...space].filter((c) => !excluded.has(`${spec.name}__${constantsTag(spec, constants)}__${scheduleTag(spec, c.schedule)}`));
  };
}

/** CMake's architecture for a compute capability: the "a" target on Hopper and Blackwell. */
function architecture(cc: string): string {
  const [major, minor] = cc.split(".");
  return Number(major) >= 9 && Number(major) <= 10 ? `${major}${minor}a` : `${major}${minor}`;
}

/**
 * The variants a ninja build log shows unusable: ninja prints each finished command's status line, then its
 * output (ptxas's report), or FAILED and the compiler's errors.
 */
export function rejectedVariants(lines: readonly string[]): Map<string, string> {
  const rejected = new Map<string, string>();
  let current: { variant: string; text: string[]; failed: boolean } | undefined;
  const finish = () => {
    if (!current) return;
    const text = current.text.join("\n");
    const report = readPtxasReport(text);
    const problem = current.failed ? `does not compile: ${current.text.find((l) => /error/.test(l))?.trim() ?? "see build.log"}` : report && ptxasProblem(report);
    if (problem) rejected.set(current.variant, problem);
    current = undefined;
  };
  for (const line of lines) {
    const object = /kernels\/(\w+)\.cu\.o/.exec(line);
    const failed = /^FAILED:/.test(line);
    if (!failed && !/^\[\d+\/\d+\]/.test(line)) {
      current?.text.push(line);
      continue;
    }
    if (failed && current && object && current.variant === object[1]) {
      current.failed = true; // the status line of this command came just before
      continue;
    }
    finish();
    if (object) current = { variant: object[1], text: [], failed };
  }
  finish();
  return rejected;
}

interface BuildResult {
  /** Variant name -> why it cannot be used (compile error, spills, stack frame). */
  readonly rejected: Map<string, string>;
  readonly linked: boolean;
}

/** Builds liblim.so from `generated` with ninja on every core, reading each object's ptxas report. */
async function build(opts: SweepOptions, generated: string, buildDir: string, cc: string, total: number): Promise<BuildResult> {
  const logPath = join(opts.work, "build.log");
  const log = createWriteStream(logPath, { flags: "a" });
  const run = (args: string[], onLine?: (line: string) => void) =>
    new Promise<number>((resolve, reject) => {
      const child = spawn("cmake", args, { cwd: opts.root, stdio: ["ignore", "pipe", "pipe"] });
      child.on("error", (e) => reject(new Error(`cannot run cmake (${e.message}): lim tune needs cmake and ninja`)));
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on("line", (line) => {
          log.write(`${line}\n`);
          onLine?.(line);
        });
      }
      child.on("close", (code) => resolve(code ?? 1));
    });
  const configure = await run(["-S", "runtime", "-B", buildDir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", `-DLIM_GENERATED_DIR=${generated}`, `-DLIM_CUDA_ARCHITECTURES=${architecture(cc)}`]);
  if (configure !== 0) throw new Error(`configuring the candidates' build failed; see ${logPath}`);
  const progress = opts.progress(total, "compiling");
  const lines: string[] = [];
  const code = await run(["--build", buildDir, "-j", String(opts.jobs), "--target", "lim", "--", "-k", "0"], (line) => {
    lines.push(line);
    const compiled = /^\[\d+\/\d+\] .*kernels\/(\w+)\.cu\.o/.exec(line);
    if (compiled) progress.tick(compiled[1]);
  });
  progress.done();
  log.end();
  const rejected = rejectedVariants(lines);
  return { rejected, linked: code === 0 && existsSync(join(buildDir, "liblim.so")) };
}

/** Runs the job in worker processes until every candidate has a result, restarting after failures. */
async function measure(opts: SweepOptions, job: TuningJob, onEvent: (e: WorkerEvent) => void): Promise<void> {
  let keys = job.keys;
  const workerLog = createWriteStream(join(opts.work, "worker.log"), { flags: "a" });
  while (keys.length > 0) {
    const jobPath = join(opts.work, "job.json");
    writeFileSync(jobPath, JSON.stringify({ ...job, keys }));
    const child = spawn(process.execPath, ["--import", "tsx", join(opts.root, "autotune/worker.ts"), jobPath], { cwd: opts.root, stdio: ["ignore", "pipe", "pipe"] });
    child.stderr.on("data", (d) => workerLog.write(d));
    const done = new Map<string, Set<string>>(); // key -> schedules with a result
    let running: { key: string; schedule: string } | undefined;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const e = JSON.parse(line) as WorkerEvent;
      if (e.type === "start") running = { key: e.key, schedule: e.schedule };
      if (e.type === "result") {
        running = undefined;
        if (!done.has(e.key)) done.set(e.key, new Set());
        done.get(e.key)!.add(e.candidate.schedule);
      }
      onEvent(e);
    });
    const exit = await new Promise<string>((resolve) => child.on("close", (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)));
    if (running) {
      // Died inside a candidate (a crash, not a reported failure): that candidate is the culprit.
      onEvent({ type: "result", key: running.key, candidate: { schedule: running.schedule, status: "failed", error: `the worker died (${exit}); see ${relative(opts.root, join(opts.work, "worker.log"))}` } });
      done.get(running.key)?.add(running.schedule) ?? done.set(running.key, new Set([running.schedule]));
    } else if (exit !== "code 0" && done.size === 0) {
      throw new Error(`the tuning worker failed before measuring anything (${exit}); see ${join(opts.work, "worker.log")}`);
    }
    keys = keys.map((k) => ({ ...k, candidates: k.candidates.filter((c) => !done.get(k.key)?.has(c.schedule)) })).filter((k) => k.candidates.length > 0);
  }
  workerLog.end();
}

/** The entry of a key: the fastest correct candidate by geometric-mean time over the shapes. */
function entryFor(k: PendingKey, heuristic: string, shapes: readonly string[], candidates: readonly TunedCandidate[]): TuningEntry | undefined {
  const ok = candidates.filter((c) => c.status === "ok" && c.us && c.us.length === shapes.length);
  if (ok.length === 0) return undefined;
  const best = ok.reduce((a, b) => (geomean(b.us!) < geomean(a.us!) ? b : a));
  const base = ok.find((c) => c.schedule === heuristic);
  return {
    kernel: k.kernel, constants: k.constants as TuningEntry["constants"],
    bucket: k.source.definition.spec.bucket ? { name: k.source.definition.spec.bucket.name, lo: k.range[0], hi: k.range[1] >= Number.MAX_SAFE_INTEGER ? null : k.range[1] } : null,
    shapes: [...shapes], source: k.digest, heuristic, best: best.schedule,
    speedup: base ? Math.round((geomean(base.us!) / geomean(best.us!)) * 1000) / 1000 : 1,
    tuned: new Date().toISOString(), candidates: [...candidates],
  };
}

export async function runSweep(opts: SweepOptions): Promise<{ db: string; rows: SweepRow[]; skipped: number }> {
  const unknown = opts.kernels.filter((k) => !(k in TUNABLE));
  if (unknown.length) throw new Error(`lim tune cannot time ${unknown.join(", ")}: it tunes ${Object.keys(TUNABLE).join(", ")}`);
  const info: DeviceInfo | undefined = opts.compileOnly ? undefined : loadNative().deviceInfo();
  const dbPath = opts.db ?? defaultDatabase(opts.root, info?.name ?? "compile only");
  const db: TuningDatabase = info ? openTuning(dbPath, metadata(info)) : { format: TUNING_FORMAT, metadata: {} as TuningMetadata, entries: {} };
  const sources = await loadKernels(opts.root, opts.kernels);
  const all = pendingKeys(sources, { ...opts, retune: true }, db).length;
  const pending = pendingKeys(sources, opts, db);
  if (pending.length === 0) return { db: dbPath, rows: [], skipped: all };
  opts.log(`${info?.name ?? "compile only"}: ${pending.length} keys to tune (${all - pending.length} already in ${relative(opts.root, dbPath)})`);

  // Generate and build every candidate; those that fail to compile are left out and the rest rebuilt.
  mkdirSync(opts.work, { recursive: true });
  const generated = join(opts.work, "generated");
  const buildDir = join(opts.work, "build");
  // Ninja reports only what it rebuilds: verdicts of earlier runs are kept, each with its source's digest.
  const verdictsPath = join(opts.work, "rejected.json");
  const verdicts = (existsSync(verdictsPath) ? JSON.parse(readFileSync(verdictsPath, "utf8")) : {}) as Record<string, { digest: string; why: string }>;
  const rejected = new Map<string, string>();
  let plan;
  for (let attempt = 0; ; attempt++) {
    plan = await planGeneration({ root: opts.root, matrix: opts.matrix, choose: candidateChooser(pending, new Set(rejected.keys())) });
    const files = plan.files;
    for (const [v, { digest, why }] of Object.entries(verdicts)) if (sourceDigest(files.get(`kernels/${v}.cu`) ?? "") === digest) rejected.set(v, why);
    writeGenerated(generated, files);
    const variants = plan.groups.reduce((n, g) => n + g.variants.length, 0);
    const result = await build(opts, generated, buildDir, info?.computeCapability ?? "9.0", variants);
    for (const [v, why] of result.rejected) {
      rejected.set(v, why);
      verdicts[v] = { digest: sourceDigest(files.get(`kernels/${v}.cu`) ?? ""), why };
    }
    writeFileSync(verdictsPath, JSON.stringify(verdicts, null, 1));
    if (result.linked) break;
    if (attempt === 1 || result.rejected.size === 0) throw new Error(`building the candidates failed; see ${join(opts.work, "build.log")}`);
  }
  for (const [variant, why] of rejected) opts.log(`rejected ${variant}: ${why}`);
  if (!info) return { db: dbPath, rows: [], skipped: all - pending.length };
  copyFileSync(ADDON_PATH, join(buildDir, "lim_addon.node")); // loads the liblim.so beside it

  // One job: every pending key with the candidates that built cleanly, the heuristic first.
  const results = new Map<string, TunedCandidate[]>();
  const shapes = new Map<string, string[]>();
  const heuristicOf = new Map<string, string>();
  const keys: JobKey[] = pending.map((k) => {
    const spec = k.source.definition.spec;
    const group = plan.groups.find((g) => g.spec.name === k.kernel)!;
    const mine = group.variants.filter((v) => constantsTag(spec, v.ir.constants) === constantsTag(spec, k.constants));
    const heuristic = scheduleTag(spec, heuristicSchedule(k.source, k.constants)[0].schedule);
    heuristicOf.set(k.key, heuristic);
    results.set(k.key, [...rejected].filter(([v]) => v.startsWith(`${k.kernel}__${constantsTag(spec, k.constants)}__`)).map(([v, why]) => ({ schedule: v.split("__").at(-1)!, status: "failed", error: why })));
    const candidates = mine.filter((v) => !rejected.has(v.name)).map((v) => ({ schedule: scheduleTag(spec, v.ir.schedule), variant: v.name }));
    return { key: k.key, kernel: k.kernel, constants: k.constants, tunedAt: k.tunedAt, candidates };
  });
  const remaining = new Map(keys.map((k) => [k.key, k.candidates.length]));
  const progress = opts.progress(keys.reduce((n, k) => n + k.candidates.length, 0), "timing");
  const rows: SweepRow[] = [];
  await measure(opts, { addon: join(buildDir, "lim_addon.node"), seed: opts.seed, timing: opts.timing, keys }, (e) => {
    if (e.type === "shapes") shapes.set(e.key, e.labels);
    if (e.type !== "result") return;
    results.get(e.key)!.push(e.candidate);
    progress.tick(`${e.key} ${e.candidate.schedule}`);
    remaining.set(e.key, remaining.get(e.key)! - 1);
    if (remaining.get(e.key) !== 0) return;
    const k = pending.find((p) => p.key === e.key)!;
    const entry = entryFor(k, heuristicOf.get(e.key)!, shapes.get(e.key) ?? [], results.get(e.key)!);
    if (!entry) {
      // Say why, a few verdicts at a time: a problem whose check or shapes are wrong fails every candidate alike.
      const verdicts = results.get(e.key)!.map((c) => `${c.schedule} ${c.status}${c.error ? `: ${c.error}` : ""}`);
      opts.log(`${e.key}: no candidate was correct and timed; nothing recorded (${verdicts.slice(0, 3).join("; ")}${verdicts.length > 3 ? `; ${verdicts.length - 3} more` : ""})`);
      return;
    }
    db.entries[e.key] = entry;
    // Entries of this kernel keyed by a bucket measure it no longer has can never be used again.
    for (const [key] of retiredEntries(db, entry.kernel, entry.bucket?.name)) delete db.entries[key];
    db.metadata.updated = new Date().toISOString();
    writeTuning(dbPath, db);
    const us = (s: string) => entry.candidates.find((c) => c.schedule === s)?.us ?? [];
    rows.push({ key: e.key, shapes: entry.shapes, heuristic: entry.heuristic, heuristicUs: us(entry.heuristic), best: entry.best, bestUs: us(entry.best), speedup: entry.speedup, rejected: entry.candidates.filter((c) => c.status !== "ok").length });
  });
  progress.done();
  return { db: dbPath, rows, skipped: all - pending.length };
}
