// `lim generate`: regenerate the CUDA kernels, C headers and manifest for a matrix of model shapes.

import { existsSync, readdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { validateMatrix } from "../codegen/matrix.js";
import { SUPPORTED_MATRIX } from "../dsl/lang/matrix.js";
import { PROJECT_ROOT, parseList, parseNumbers, runAction } from "./common.js";

interface GenerateFlags {
  schedules?: Record<string, string>;
  budgets?: number[];
  caches?: string[];
  kvDtypes?: string[];
  headDims?: number[];
  groupSizes?: number[];
  dtypes?: string[];
  kernels?: string[];
  out: string;
  check?: boolean;
  tuning: string[] | false | undefined;
  device: string;
}

/** The device whose tuned schedules a plain `lim generate` uses: the GPU machine the project measures on (tuning/nvidia-h200.json). */
export const DEFAULT_TARGET_DEVICE = "NVIDIA H200";

/** Every database in tuning/ (a user's own sweeps land there too). */
function tuningFiles(flags: GenerateFlags): string[] {
  if (flags.tuning === false) return [];
  if (flags.tuning) return flags.tuning.map((f) => resolve(f));
  const dir = join(PROJECT_ROOT, "tuning");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => join(dir, f)) : [];
}

const DTYPES = SUPPORTED_MATRIX.dtypes;

function parseSchedules(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const out = { ...previous };
  for (const item of parseList("--schedules")(value)) {
    const parts = item.split("=");
    const [kernel, request] = parts;
    if (parts.length !== 2 || !kernel || !request) throw new InvalidArgumentError(`--schedules: '${item}' should be kernel=tag[+tag...] or kernel=space`);
    if (kernel in out) throw new InvalidArgumentError(`--schedules: ${kernel} is given twice ('${out[kernel]}' and '${request}'); join its schedules with + (${kernel}=${out[kernel]}+${request})`);
    out[kernel] = request;
  }
  return out;
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate CUDA variants, the C ABI headers, manifest.json and sources.cmake from dsl/kernels")
    .option("--head-dims <list>", "head dimensions, e.g. 64,128,256 (default: each kernel's list)", parseNumbers("--head-dims"))
    .option("--group-sizes <list>", "GQA group sizes Hq/Hkv, e.g. 1,2,4,8 (default: each kernel's list)", parseNumbers("--group-sizes"))
    .option("--dtypes <list>", "element types: bf16, fp16 (default: both)", parseList("--dtypes", DTYPES))
    .option("--budgets <list>", "token budgets the selection kernels size their buffers for, e.g. 1024,2048,4096,8192", parseNumbers("--budgets"))
    .option("--caches <list>", "K/V cache layouts: contiguous, paged (default: both)", parseList("--caches", SUPPORTED_MATRIX.caches))
    .option("--kv-dtypes <list>", "K/V cache element types: auto (the dtype), e4m3, e5m2 (FP8 with scales) (default: auto,e4m3)", parseList("--kv-dtypes", SUPPORTED_MATRIX.kvDtypes))
    .option("--kernels <list>", "only these kernels (default: all in dsl/kernels); the output folder then holds only theirs, the other kernels' variants an earlier generation wrote there are removed", parseList("--kernels"))
    .option(
      "--schedules <list>",
      "schedules instead of the heuristic: kernel=tag[+tag...] (e.g. decode_attention=t256_r1_s2_m1+t128_r1_s4_m1) or kernel=space (every valid schedule); the first is dispatched by default",
      parseSchedules,
    )
    .option("--tuning <files>", "tuning databases to take schedules from (default: every tuning/*.json)", parseList("--tuning"))
    .option("--no-tuning", "ignore the tuning databases: heuristic schedules only")
    .option("--device <name>", "the GPU to generate for: its tuning database entries are used", (name: string) => {
      if (!name.trim()) throw new InvalidArgumentError("--device needs a GPU's name as CUDA reports it, e.g. \"NVIDIA H200\"");
      return name;
    }, DEFAULT_TARGET_DEVICE)
    .option("--out <dir>", "output folder", "generated")
    .option("--check", "write nothing; exit 1 naming the files that differ from what generation would produce")
    .action((flags: GenerateFlags) =>
      runAction(async () => {
        // Loaded here, not at start-up: the code generator (ts-morph, TypeScript) is only needed by this command.
        const { outputFolders, planGeneration } = await import("../codegen/generate.js");
        const { parseScheduleTag, scheduleSpace } = await import("../codegen/schedules.js");
        const { requestedSchedules } = await import("../codegen/variants.js");
        const { checkOwnedFolder, compareGenerated, writeGenerated } = await import("../codegen/write.js");
        const { checkOutputFolder } = await import("../codegen/staged_write.js");
        const { planReporter, printChecked, printWritten } = await import("./generate_report.js");
        const { readTuning } = await import("../codegen/tuning/database.js");
        const { tunedSchedules } = await import("../codegen/tuning/chooser.js");
        const outDir = resolve(flags.out);
        const matrix = { headDims: flags.headDims, groupSizes: flags.groupSizes, dtypes: flags.dtypes, budgets: flags.budgets, caches: flags.caches, kvDtypes: flags.kvDtypes };
        validateMatrix(matrix); // an unsupported shape is refused naming the nearest supported ones
        // Before the slow planning: a file in the way or a read-only folder is reported in a second.
        checkOutputFolder(outDir, flags.check ? [] : outputFolders(PROJECT_ROOT, matrix), !flags.check);
        if (flags.check && !existsSync(outDir)) throw new Error(`--check: ${flags.out} does not exist; \`lim generate\` with the same options (without --check) makes it`);
        if (!flags.check && outDir !== join(PROJECT_ROOT, "generated")) checkOwnedFolder(outDir); // the project's own folder is always lim's
        const tunings = tuningFiles(flags).map((file) => ({ path: relative(PROJECT_ROOT, file), db: readTuning(file), named: Array.isArray(flags.tuning) }));
        const tuned = tunedSchedules(tunings, flags.device);
        const choose = flags.schedules ? requestedSchedules(flags.schedules, parseScheduleTag, scheduleSpace, tuned.choose) : tuned.choose;
        const onProgress = planReporter({
          device: flags.device,
          deviceIsDefault: flags.device === DEFAULT_TARGET_DEVICE,
          matrix,
          tuning: flags.tuning === false ? false : tunings.filter((t) => t.db.metadata.device === flags.device).map((t) => t.path),
          schedules: flags.schedules,
        });
        const plan = await planGeneration({ root: PROJECT_ROOT, matrix, kernels: flags.kernels, choose, scheduled: flags.schedules && Object.keys(flags.schedules), onProgress });
        for (const w of new Set([...tuned.warnings, ...tuned.retiredBuckets()])) console.error(`warning: ${w}`);
        if (tunings.length) console.error(`tuned schedules for ${tuned.used.size} (kernel, constants, bucket) keys; heuristics elsewhere`);
        const variantFiles = plan.groups.flatMap((g) => g.variants.map((v) => v.file));
        if (flags.check) return printChecked(compareGenerated(outDir, plan.files), flags.out, variantFiles.length, plan.files.size);
        printWritten(writeGenerated(outDir, plan.files), flags.out, variantFiles.length);
        return 0;
      }),
    );
}
