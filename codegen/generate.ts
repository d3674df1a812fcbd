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

export interface PlanOptions {
  readonly root: string;
  readonly matrix: Matrix;
  readonly kernels?: readonly string[];
  readonly choose?: ScheduleChooser;
  /** Kernels named in schedule requests (checked to exist). */
  readonly scheduled?: readonly string[];
}

/** Lowers every planned variant; throws a DslError (and produces nothing) on the first bad construct. */
export async function planGeneration(opts: PlanOptions): Promise<GenerationPlan> {
  const sources = await loadKernels(opts.root, opts.kernels);
  const named = [...(opts.kernels ?? []), ...(opts.scheduled ?? [])];
  const unknown = named.filter((k) => !sources.some((s) => s.definition.spec.name === k));
  if (unknown.length) {
    const all = (await loadKernels(opts.root)).map((s) => s.definition.spec.name);
    throw new Error(`unknown kernel ${unknown.join(", ")}: dsl/kernels defines ${all.join(", ")}`);
  }
  return lowerSources(opts.root, sources, opts.matrix, opts.choose ?? heuristicSchedule);
}

export function lowerSources(root: string, sources: readonly KernelSource[], matrix: Matrix, choose: ScheduleChooser): GenerationPlan {
  const planned = planVariants(sources, matrix, choose);
  const groups: KernelGroup[] = [];
  let raiseBase = 0;
  for (const source of sources) {
    const spec = source.definition.spec;
    const mine = planned.filter((p) => p.source === source);
    const knobs = Object.keys(spec.schedule);
    const variants: LoweredVariant[] = [];
    const dispatch: DispatchEntry[] = [];
    for (const p of mine) {
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
      const file = `kernels/${name}.cu`;
      const { text } = renderVariant(root, ir, name, raiseBase, GENERATOR, p.scheduleOrigin, knobs);
      variants.push({ name, spec, ir, file, text, scheduleOrigin: p.scheduleOrigin });
    }
    if (variants.length === 0) continue;
    groups.push({ spec, source: source.file, ir: variants[0].ir, variants, dispatch, raiseBase });
    raiseBase += variants[0].ir.raises.length;
  }
  const files = new Map<string, string>();
  for (const g of groups) for (const v of g.variants) files.set(v.file, v.text);
  for (const [path, text] of libraryFiles(root, groups, matrix)) files.set(path, text);
  return { files, groups };
}
