// `lim generate`: regenerate the CUDA kernels, C headers and manifest for a matrix of model shapes.

import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import type { FileReport } from "../codegen/write.js";
import { PROJECT_ROOT, parseList, parseNumbers, runAction } from "./common.js";

interface GenerateFlags {
  schedules?: Record<string, string>;
  budgets?: number[];
  headDims?: number[];
  groupSizes?: number[];
  dtypes?: string[];
  kernels?: string[];
  out: string;
  check?: boolean;
  tuning: string[] | false | undefined;
  device: string;
}

/** The device whose tuned schedules a plain `lim generate` uses. */
export const DEFAULT_TARGET_DEVICE = "NVIDIA H100 80GB HBM3";

/** Every database in tuning/ (a user's own sweeps land there too). */
function tuningFiles(flags: GenerateFlags): string[] {
  if (flags.tuning === false) return [];
  if (flags.tuning) return flags.tuning.map((f) => resolve(f));
  const dir = join(PROJECT_ROOT, "tuning");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => join(dir, f)) : [];
}

const DTYPES = ["bf16", "fp16"];

function parseSchedules(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const out = { ...previous };
  for (const item of parseList("--schedules")(value)) {
    const [kernel, request] = item.split("=");
    if (!kernel || !request) throw new InvalidArgumentError(`--schedules: '${item}' should be kernel=tag[+tag...] or kernel=space`);
    out[kernel] = request;
  }
  return out;
}

function progress(reports: readonly FileReport[], variantFiles: readonly string[], check: boolean): void {
  const byPath = new Map(reports.map((r) => [r.path, r.status]));
  const width = String(variantFiles.length).length;
  variantFiles.forEach((file, i) => {
    const name = file.replace(/^kernels\//, "").replace(/\.cu$/, "");
    console.log(`[${String(i + 1).padStart(width)}/${variantFiles.length}] ${name}  ${byPath.get(file)}`);
  });
  for (const r of reports) {
    if (!variantFiles.includes(r.path) && r.status !== "unchanged") console.log(`${check ? "" : "      "}${r.path}  ${r.status}`);
  }
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate CUDA variants, the C ABI headers, manifest.json and sources.cmake from dsl/kernels")
    .option("--head-dims <list>", "head dimensions, e.g. 64,128,256 (default: each kernel's list)", parseNumbers("--head-dims"))
    .option("--group-sizes <list>", "GQA group sizes Hq/Hkv, e.g. 1,2,4,8 (default: each kernel's list)", parseNumbers("--group-sizes"))
    .option("--dtypes <list>", "element types: bf16, fp16 (default: both)", parseList("--dtypes", DTYPES))
    .option("--budgets <list>", "token budgets the selection kernels size their buffers for, e.g. 1024,2048,4096,8192", parseNumbers("--budgets"))
    .option("--kernels <list>", "only these kernels (default: all in dsl/kernels)", parseList("--kernels"))
    .option(
      "--schedules <list>",
      "schedules instead of the heuristic: kernel=tag[+tag...] (e.g. decode_attention=t256_r4_s3_p2) or kernel=space (every valid schedule); the first is dispatched by default",
      parseSchedules,
    )
    .option("--tuning <files>", "tuning databases to take schedules from (default: every tuning/*.json)", parseList("--tuning"))
    .option("--no-tuning", "ignore the tuning databases: heuristic schedules only")
    .option("--device <name>", "the GPU to generate for: its tuning database entries are used", DEFAULT_TARGET_DEVICE)
    .option("--out <dir>", "output folder", "generated")
    .option("--check", "write nothing; exit 1 naming the files that differ from what generation would produce")
    .action((flags: GenerateFlags) =>
      runAction(async () => {
        // Loaded here, not at start-up: the code generator (ts-morph, TypeScript) is only needed by this command.
        const { planGeneration } = await import("../codegen/generate.js");
        const { parseScheduleTag, scheduleSpace } = await import("../codegen/schedules.js");
        const { requestedSchedules } = await import("../codegen/variants.js");
        const { compareGenerated, writeGenerated } = await import("../codegen/write.js");
        const { readTuning } = await import("../codegen/tuning/database.js");
        const { tunedSchedules } = await import("../codegen/tuning/chooser.js");
        const outDir = resolve(flags.out);
        const matrix = { headDims: flags.headDims, groupSizes: flags.groupSizes, dtypes: flags.dtypes, budgets: flags.budgets };
        const tunings = tuningFiles(flags).map((file) => ({ path: relative(PROJECT_ROOT, file), db: readTuning(file) }));
        const tuned = tunedSchedules(tunings, flags.device);
        const choose = flags.schedules ? requestedSchedules(flags.schedules, parseScheduleTag, scheduleSpace, tuned.choose) : tuned.choose;
        const plan = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: flags.kernels, choose, scheduled: flags.schedules && Object.keys(flags.schedules) });
        for (const w of new Set(tuned.warnings)) console.error(`warning: ${w}`);
        if (tunings.length) console.log(`tuned schedules for ${tuned.used.size} (kernel, constants, bucket) keys on ${flags.device}; heuristics elsewhere`);
        const variantFiles = plan.groups.flatMap((g) => g.variants.map((v) => v.file));
        if (flags.check) {
          const reports = compareGenerated(outDir, plan.files);
          const bad = reports.filter((r) => r.status !== "unchanged");
          progress(reports, variantFiles, true);
          if (bad.length > 0) {
            console.error(`\n${flags.out} is stale: ${bad.length} file(s) differ from the DSL sources:`);
            for (const r of bad) console.error(`  ${r.status.padEnd(8)} ${r.path}`);
            console.error("run `npm run generate` (with the same options) and commit the result");
            return 1;
          }
          console.log(`\n${flags.out} matches the sources (${variantFiles.length} variants, ${plan.files.size} files)`);
          return 0;
        }
        const reports = writeGenerated(outDir, plan.files);
        progress(reports, variantFiles, false);
        const count = (s: string) => reports.filter((r) => r.status === s).length;
        console.log(`\n${variantFiles.length} variants in ${flags.out}: ${count("written")} written, ${count("unchanged")} unchanged, ${count("removed")} removed`);
        return 0;
      }),
    );
}
