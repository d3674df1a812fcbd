// `lim bench`: the kernel benchmarks beside PyTorch on this GPU (bench/*.py, each timing our kernels through
// the C ABI and PyTorch's in one process), then one report for the run: JSON per suite, report.md with
// every table and the targets of docs/benchmarks.md met or missed, and bandwidth.svg.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { PROJECT_ROOT, parseList, runAction } from "./common.js";

/** Each suite's script, whether it takes --lib, whether `lim bench` runs it without --suites, and its own arguments. */
const SUITES: Readonly<Record<string, { script: string; usesLibrary: boolean; byDefault: boolean; args?: readonly string[] }>> = {
  copy: { script: "bench/copy_roofline.py", usesLibrary: false, byDefault: true },
  decode: { script: "bench/decode_attention.py", usesLibrary: true, byDefault: true },
  // Engines' caches: the same K and V in NHD pages of 16 and 1 (shuffled) and in FP8 (E4M3), beside our
  // contiguous bf16 time and SDPA's, at the shapes of the paged and FP8 targets.
  caches: {
    script: "bench/decode_attention.py", usesLibrary: true, byDefault: true,
    args: ["--prefix", "engine_caches", "--batches", "1,8", "--lengths", "4096,32768", "--pages", "16,1", "--fp8", "e4m3"],
  },
  sparse: { script: "bench/sparse_attention.py", usesLibrary: true, byDefault: true },
  selection: { script: "bench/selection.py", usesLibrary: true, byDefault: true },
  // A Qwen3-8B-shaped transformers model end to end (needs transformers and ~110 GB of GPU memory): only when named.
  e2e: { script: "bench/e2e_decode.py", usesLibrary: true, byDefault: false },
};

interface BenchFlags {
  suites: string[];
  quick?: boolean;
  full?: boolean;
  lib: string;
  out?: string;
  python: string;
  report?: string;
}

/** Writes report.md and bandwidth.svg beside the run's JSON files. */
async function writeReport(dir: string): Promise<void> {
  const { bandwidthSvg, readResults, reportMarkdown } = await import("../report/report.js");
  const results = readResults(dir);
  writeFileSync(join(dir, "report.md"), reportMarkdown(results));
  writeFileSync(join(dir, "bandwidth.svg"), bandwidthSvg(results));
  console.log(`\nreport: ${relative(process.cwd(), join(dir, "report.md"))} and ${relative(process.cwd(), join(dir, "bandwidth.svg"))}`);
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("benchmark the generated kernels beside PyTorch on this GPU; writes JSON, a markdown report and a bandwidth plot")
    .option("--suites <list>", `suites to run: ${Object.keys(SUITES).join(", ")}`, parseList("--suites", Object.keys(SUITES)), Object.keys(SUITES).filter((s) => SUITES[s].byDefault))
    .option("--quick", "smaller grids")
    .option("--full", "the decode suite on its full grid: head dims 64/128/256, G 4 and 8, bf16 and fp16 at every B and N (DESIGN's grid; the report's bandwidth plot then covers it)")
    .option("--lib <path>", "the library to benchmark", "build/liblim.so")
    .option("--out <dir>", "folder for this run's results (default: bench/results/run-<time>)")
    .option("--python <exe>", "Python with PyTorch", "python3")
    .option("--report <dir>", "only render the report of an earlier run's folder")
    .action((flags: BenchFlags) =>
      runAction(async () => {
        if (flags.full && flags.quick) throw new Error("--full and --quick ask for opposite grids: pass one of them");
        if (flags.full && !flags.suites.includes("decode")) throw new Error(`--full widens the decode suite, which --suites ${flags.suites.join(",")} leaves out: add decode`);
        if (flags.report) {
          const dir = resolve(flags.report);
          if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith(".json"))) throw new Error(`--report: ${flags.report} holds no results (the JSON files a run of lim bench writes); name a run's folder under bench/results`);
          await writeReport(dir);
          return 0;
        }
        const lib = resolve(flags.lib);
        if (flags.suites.some((s) => SUITES[s].usesLibrary) && !existsSync(lib)) {
          throw new Error(`${flags.lib} does not exist: build it with \`npm run build\` (or pass --lib)`);
        }
        // Python, PyTorch and a CUDA device before the run's folder is made: a machine without them gets one line
        // and no folder of empty results.
        const probe = spawnSync(flags.python, ["-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)"], { encoding: "utf8" });
        if (probe.error) throw new Error(`cannot run ${flags.python} (${probe.error.message}): lim bench needs Python with PyTorch and a GPU (--python names another Python)`);
        if (probe.status === 3) throw new Error(`${flags.python}'s PyTorch sees no CUDA GPU: lim bench runs on a GPU machine`);
        if (probe.status !== 0) throw new Error(`${flags.python} cannot import torch (${probe.stderr.trim().split("\n").pop()}): lim bench needs Python with PyTorch (--python names another Python)`);
        const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "Z");
        const out = resolve(flags.out ?? join(PROJECT_ROOT, "bench", "results", `run-${stamp}`));
        mkdirSync(out, { recursive: true });
        const failed: string[] = [];
        for (const suite of flags.suites) {
          const { script, usesLibrary, args: own = [] } = SUITES[suite];
          console.log(`=== ${suite}: ${script} ${own.join(" ")}`);
          const args = [join(PROJECT_ROOT, script), "--out", out, ...(usesLibrary ? ["--lib", lib] : []), ...(flags.quick && usesLibrary ? ["--quick"] : []), ...(flags.full && suite === "decode" ? ["--full"] : []), ...own];
          const r = spawnSync(flags.python, args, { stdio: "inherit", env: { ...process.env, PYTHONUNBUFFERED: "1" } });
          if (r.error) throw new Error(`cannot run ${flags.python} (${r.error.message}): lim bench needs Python with PyTorch and a GPU`);
          if (r.status !== 0) failed.push(suite);
        }
        await writeReport(out);
        if (failed.length) console.error(`suites that failed: ${failed.join(", ")} (their output is above)`);
        return failed.length ? 1 : 0;
      }),
    );
}
