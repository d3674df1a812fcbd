// Which variants to generate: the cartesian product of each kernel's constants, with the user's matrix
// (head dims, group sizes, dtypes) in place of the kernel's default lists, and a schedule for each.

import type { KernelSpec } from "../dsl/lang/kernel.js";
import { runHeuristic } from "./frontend/kernel_code.js";
import { AUTO_KV, KV_CONSTANT } from "./names.js";
import type { Constants, KernelSource, Schedule } from "./types.js";

/** The user-facing axes of the generation matrix, and the kernel constant each one sets. */
export interface Matrix {
  readonly headDims?: readonly number[];
  readonly groupSizes?: readonly number[];
  readonly dtypes?: readonly string[];
  readonly budgets?: readonly number[];
  readonly caches?: readonly string[];
  readonly kvDtypes?: readonly string[];
}

export const MATRIX_CONSTANTS: Readonly<Record<keyof Matrix, string>> = { headDims: "D", groupSizes: "G", dtypes: "dtype", budgets: "K", caches: "cache", kvDtypes: "kv" };

export interface PlannedVariant {
  readonly source: KernelSource;
  readonly constants: Constants;
  readonly schedule: Schedule;
  /** Where the schedule came from: "heuristic", or the tuning database entry. */
  readonly scheduleOrigin: string;
  readonly optional: boolean;
  readonly bucket: readonly [number, number];
}

/** The whole range of a bucket measure. */
export const ANY_BUCKET: readonly [number, number] = [0, Number.MAX_SAFE_INTEGER];

/** One shape bucket of a kernel: the range [lo, hi) of its measure, and the value a sweep tunes it at. */
export interface BucketRange {
  readonly range: readonly [number, number];
  readonly tunedAt: number;
}

/** A kernel's shape buckets in ascending order (one covering everything when it declares none). */
export function bucketRanges(spec: KernelSpec): BucketRange[] {
  const b = spec.bucket;
  if (!b) return [{ range: ANY_BUCKET, tunedAt: 0 }];
  const edges = [0, ...b.bounds, ANY_BUCKET[1]];
  const problem = (what: string) => new Error(`${spec.name}: bucket '${b.name}' ${what}`);
  if (edges.some((e, i) => i > 0 && !(Number.isInteger(e) && e > edges[i - 1]))) throw problem(`bounds must be ascending positive integers, got [${b.bounds.join(", ")}]`);
  if (b.tunedAt.length !== b.bounds.length + 1) throw problem(`needs one tunedAt value per bucket (${b.bounds.length + 1}), got ${b.tunedAt.length}`);
  return b.tunedAt.map((at, i) => {
    const range = [edges[i], edges[i + 1]] as const;
    if (!(at >= range[0] && at < range[1])) throw problem(`tunedAt ${at} lies outside its bucket [${range[0]}, ${range[1]})`);
    return { range, tunedAt: at };
  });
}

function valuesFor(spec: KernelSpec, key: string, matrix: Matrix): readonly (number | string)[] {
  for (const [axis, constant] of Object.entries(MATRIX_CONSTANTS) as [keyof Matrix, string][]) {
    const given = matrix[axis];
    if (constant === key && given !== undefined) return given;
  }
  return spec.constants[key];
}

/**
 * All constant combinations of a kernel, in a stable order (the spec's key order, values as listed). A K/V
 * dtype of "auto" becomes the combination's dtype (a kernel then sees c.kv == c.dtype); a list holding
 * both "auto" and the dtype itself gives that variant once.
 */
export function constantCombinations(spec: KernelSpec, matrix: Matrix): Constants[] {
  let combos: Record<string, number | string>[] = [{}];
  for (const key of Object.keys(spec.constants)) {
    const values = valuesFor(spec, key, matrix);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  const resolved = combos.map((c) => (c[KV_CONSTANT] === AUTO_KV ? { ...c, [KV_CONSTANT]: c.dtype } : c));
  return resolved.filter((c, i) => resolved.findIndex((d) => JSON.stringify(d) === JSON.stringify(c)) === i);
}

/** The combinations of a kernel's constants it has variants for (its `unsupported` leaves some out). */
export function supportedCombinations(source: KernelSource, matrix: Matrix): Constants[] {
  const unsupported = source.definition.unsupported;
  return constantCombinations(source.definition.spec, matrix).filter((c) => unsupported?.(c as never) === undefined);
}

/** One schedule for a variant and where it came from ("heuristic", "--schedules", a tuning entry). */
export interface ScheduleChoice {
  readonly schedule: Schedule;
  readonly origin: string;
  /** A candidate from a schedule space: skipped, not an error, when it breaks a limit or a rule. */
  readonly optional?: boolean;
  /** The range [lo, hi) of the kernel's bucket measure this schedule serves (default: all). */
  readonly bucket?: readonly [number, number];
}

/**
 * Chooses the schedules to generate for one kernel's constants. The first is the one the C ABI dispatches
 * to; any others are alternatives (tuning candidates, shape buckets) reachable through lim_use_variant.
 */
export type ScheduleChooser = (source: KernelSource, constants: Constants) => readonly ScheduleChoice[];

export const heuristicSchedule: ScheduleChooser = (source, constants) => [
  { schedule: runHeuristic(source, constants), origin: "heuristic" },
];

export function planVariants(sources: readonly KernelSource[], matrix: Matrix, choose: ScheduleChooser): PlannedVariant[] {
  return sources.flatMap((source) =>
    supportedCombinations(source, matrix).flatMap((constants) =>
      choose(source, constants).map(({ schedule, origin, optional, bucket }) => ({
        source, constants, schedule, scheduleOrigin: origin, optional: optional ?? false, bucket: bucket ?? ANY_BUCKET,
      })),
    ),
  );
}

/**
 * A chooser from `--schedules kernel=tag+tag` or `kernel=space` requests: named kernels get the listed
 * schedules (the first is dispatched by default) or the heuristic followed by their whole declared space;
 * other kernels get what `others` chooses (the heuristic, or the tuning databases).
 */
export function requestedSchedules(
  requests: Readonly<Record<string, string>>,
  parse: (spec: KernelSpec, tag: string) => Schedule,
  space: (spec: KernelSpec) => Schedule[],
  others: ScheduleChooser = heuristicSchedule,
): ScheduleChooser {
  return (source, constants) => {
    const request = requests[source.definition.spec.name];
    if (request === undefined) return others(source, constants);
    if (request === "space") {
      return [...heuristicSchedule(source, constants), ...space(source.definition.spec).map((schedule) => ({ schedule, origin: "space", optional: true }))];
    }
    return request.split("+").map((tag) => ({ schedule: parse(source.definition.spec, tag), origin: "--schedules" }));
  };
}
