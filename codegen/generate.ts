// `lim generate`: kernels in dsl/kernels -> typed IR -> CUDA variants and library files, all produced in
// memory first; only then is the output folder compared (--check) or written.

import { DslError } from "./frontend/diagnostics.js";
import type { KernelSource } from "./types.js";
import { elaborate } from "./frontend/elaborate.js";
import { loadKernels } from "./frontend/load.js";
import { libraryFiles, GENERATOR, type DispatchEntry, type KernelGroup, type LoweredVariant } from "./library_files.js";
import { renderVariant } from "./lower/kernel_file.js";
import { variantName } from "./names.js";
import { heuristicSchedule, planVariants, type Matrix, type ScheduleChooser } from "./variants.js";

export interface GenerationPlan {
  readonly files: Map<string, string>;
  readonly groups: readonly KernelGroup[];
}

/**
 * What planning is doing, for a progress display: lowering takes seconds per kernel, minutes for a whole
 * schedule space. `candidate` comes once per planned variant of the kernel being lowered.
 */
export type PlanEvent =
  | { readonly kind: "loaded"; readonly sources: readonly KernelSource[]; readonly seconds: number }
  | { readonly kind: "kernel"; readonly kernel: string; readonly index: number; readonly total: number; readonly candidates: number; readonly space: boolean }
  | { readonly kind: "candidate"; readonly kernel: string }
  | { readonly kind: "lowered"; readonly kernel: string; readonly index: number; readonly total: number; readonly variants: number; readonly seconds: number };

export type PlanProgress = (event: PlanEvent) => void;

export interface PlanOptions {
  readonly root: string;
  readonly matrix: Matrix;
  readonly kernels?: readonly string[];
  readonly choose?: ScheduleChooser;
  /** Kernels named in schedule requests (checked to exist). */
  readonly scheduled?: readonly string[];
  readonly onProgress?: PlanProgress;
}

/** Variant files go here, the library files where libraryFiles puts them. */
const VARIANT_FOLDER = "kernels";

/**
 * The folders of the output folder a generation writes into, known before anything is lowered, so that a
 * file standing in the way is reported in a second rather than after the planning. (The library files'
 * names do not depend on the kernels: rendering them for none is cheap.)
 */
export function outputFolders(root: string, matrix: Matrix): string[] {
  const paths = [...libraryFiles(root, [], matrix).keys(), `${VARIANT_FOLDER}/x.cu`];
  return [...new Set(paths.filter((p) => p.includes("/")).map((p) => p.slice(0, p.lastIndexOf("/"))))];
}

/** Lowers every planned variant; throws a DslError (and produces nothing) on the first bad construct. */
export async function planGeneration(opts: PlanOptions): Promise<GenerationPlan> {
  const started = performance.now();
  const sources = await loadKernels(opts.root, opts.kernels);
  const named = [...(opts.kernels ?? []), ...(opts.scheduled ?? [])];
  const unknown = named.filter((k) => !sources.some((s) => s.definition.spec.name === k));
  if (unknown.length) {
    const all = (await loadKernels(opts.root)).map((s) => s.definition.spec.name);
    const leftOut = unknown.filter((k) => all.includes(k));
    if (leftOut.length) throw new Error(`schedules were given for ${leftOut.join(", ")}, which --kernels leaves out (${opts.kernels?.join(", ")}); name it in --kernels too, or drop its schedules`);
    throw new Error(`unknown kernel ${unknown.join(", ")}: dsl/kernels defines ${all.join(", ")}`);
  }
  opts.onProgress?.({ kind: "loaded", sources, seconds: (performance.now() - started) / 1000 });
  return lowerSources(opts.root, sources, opts.matrix, opts.choose ?? heuristicSchedule, opts.onProgress);
}

export function lowerSources(root: string, sources: readonly KernelSource[], matrix: Matrix, choose: ScheduleChooser, onProgress?: PlanProgress): GenerationPlan {
  const groups: KernelGroup[] = [];
  let raiseBase = 0;
  for (const [index, source] of sources.entries()) {
    const started = performance.now();
    const spec = source.definition.spec;
    // Planned kernel by kernel, so that the heuristic's time (and failure) shows under its kernel.
    const mine = planVariants([source], matrix, choose);
    const total = sources.length;
    onProgress?.({ kind: "kernel", kernel: spec.name, index, total, candidates: mine.length, space: mine.some((p) => p.optional) });
    const knobs = Object.keys(spec.schedule);
    const variants: LoweredVariant[] = [];
    const dispatch: DispatchEntry[] = [];
    for (const p of mine) {
      onProgress?.({ kind: "candidate", kernel: spec.name });
      const name = variantName(spec, p.constants, p.schedule);
      // Space candidates are reached through lim_use_variant only; the others serve their buckets.
      if (!p.optional) dispatch.push({ constants: p.constants, bucket: p.bucket, variant: name });
      if (variants.some((v) => v.name === name)) continue; // the same schedule chosen twice (heuristic and space, two buckets)
      let ir;
      try {
        ir = elaborate(source, p.constants, p.schedule);
      } catch (e) {
        // A candidate of a schedule space that breaks a limit or a rule is simply not a candidate.
        if (p.optional && e instanceof DslError && e.kind === "schedule-limit") continue;
        throw e;
      }
      const file = `${VARIANT_FOLDER}/${name}.cu`;
      const { text } = renderVariant(root, ir, name, raiseBase, GENERATOR, p.scheduleOrigin, knobs);
      variants.push({ name, spec, ir, file, text, scheduleOrigin: p.scheduleOrigin });
    }
    onProgress?.({ kind: "lowered", kernel: spec.name, index, total, variants: variants.length, seconds: (performance.now() - started) / 1000 });
    if (variants.length === 0) continue;
    groups.push({ spec, source: source.file, ir: variants[0].ir, variants, dispatch, raiseBase });
    raiseBase += variants[0].ir.raises.length;
  }
  const files = new Map<string, string>();
  for (const g of groups) for (const v of g.variants) files.set(v.file, v.text);
  for (const [path, text] of libraryFiles(root, groups, matrix)) files.set(path, text);
  return { files, groups };
}
