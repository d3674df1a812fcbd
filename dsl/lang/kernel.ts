// A kernel's specification: its compile-time constants (each combination is one variant), its schedule
// knobs (threads, tiles, stages: what the autotuner varies), its grid, and the rules a schedule must obey.
// The algorithm itself is the exported function named `name` in the same file, read by the front end.

/** One compile-time constant and the values the default generation matrix covers. */
export type ConstantValues = readonly number[] | readonly string[];

/** One schedule knob: the tag used in variant names, and the values a tuning sweep may try. */
export interface ScheduleKnob {
  readonly tag: string;
  readonly values: readonly number[];
}

/**
 * The grid: each axis an expression over run-time sizes (tensor dimensions, i32 arguments of the kernel),
 * constants c.X and schedule knobs s.X, with + - * / and ceilDiv(a, b): "B", "ceilDiv(B, s.threads)".
 * The launch computes it; no caller does.
 */
export interface GridSpec {
  readonly x: string;
  readonly y?: string;
  readonly z?: string;
}

/**
 * Shape buckets: ascending bounds split the measure into [0, b0), [b0, b1), ..., [bn, infinity). Each bucket
 * names the value a tuning sweep measures it at (one per bucket, inside it).
 */
export interface BucketSpec {
  readonly name: string;
  readonly doc: string;
  readonly bounds: readonly number[];
  readonly tunedAt: readonly number[];
}

export interface KernelSpec {
  /** C identifier; the kernel's body is the exported function of this name. */
  readonly name: string;
  /** One line for the manifest and the generated file's header. */
  readonly summary: string;
  readonly constants: Readonly<Record<string, ConstantValues>>;
  readonly schedule: Readonly<Record<string, ScheduleKnob>>;
  readonly grid: GridSpec;
  /**
   * Launched as a programmatic dependent of the kernel before it in the stream (Hopper): its blocks may
   * start while that kernel finishes, so the body must call waitForPrecedingGrid() before it reads
   * anything that kernel wrote.
   */
  readonly overlapsPrecedingKernel?: boolean;
  /**
   * Warps added to each block after its s.threads threads, for a producer role (Hopper warp
   * specialisation): the body separates them with `if (isProducer()) { ... } else { ... }`.
   */
  readonly producerWarps?: number;
  /**
   * The schedule knob giving the blocks of a thread-block cluster along grid x (Hopper): 1 to 8. The
   * blocks of a cluster run at once, each on its own SM of one GPC, and reach each other's shared memory
   * (peer(), clusterSync(), clusterRank()); the grid's x must be a multiple of it. A cluster of 1 is none.
   */
  readonly cluster?: string;
  /**
   * Where a variant's shared memory leaves room for one block per SM, tells ptxas so (__launch_bounds__'
   * second argument, 1), so that it may use every register that block can have. With the threads alone,
   * ptxas 13.0 held some 512-thread top-k schedules to 64 registers and spilled, though their shared memory
   * already kept them alone on their SMs (bench/NOTES.md section 32).
   */
  readonly occupancyFromSharedMemory?: boolean;
  /**
   * A run-time measure the C ABI dispatches on (e.g. rows per block): tuned schedules serve its buckets,
   * and lim_find_<kernel> takes it as its last argument.
   */
  readonly bucket?: BucketSpec;
  /**
   * Fixed numbers of the kernel that the C ABI must know too (a capacity it must not exceed, entries a block
   * caches): the body reads them as c.NAME like its constants, and lim_variants.h defines them as
   * LIM_<KERNEL>_<NAME>, so the runtime never writes them again.
   */
  readonly limits?: Readonly<Record<string, number>>;
}

/** Values of the constants of one variant. */
export type ConstantsOf<S extends KernelSpec> = {
  readonly [K in keyof S["constants"]]: S["constants"][K][number];
} & { readonly [K in keyof S["limits"]]: number };

/** Values of the schedule knobs of one variant. */
export type ScheduleOf<S extends KernelSpec> = { readonly [K in keyof S["schedule"]]: number };

/** What a schedule rule returns: undefined when the schedule is fine, else the broken rule in words. */
export type RuleResult = string | undefined;

/** A kernel: its spec, the heuristic default schedule, and the schedule's validity rules. */
export interface KernelDefinition<S extends KernelSpec = KernelSpec> {
  readonly spec: S;
  /** The schedule used when the tuning database has nothing for these constants. */
  readonly heuristic: (c: ConstantsOf<S>) => ScheduleOf<S>;
  /** Checked before anything is lowered or compiled; each returns the rule it breaks, if any. */
  readonly rules: readonly ((c: ConstantsOf<S>, s: ScheduleOf<S>) => RuleResult)[];
  /**
   * The constant combinations the kernel has no variant for, with the reason (e.g. FP8 caches at a head dim its
   * fragments cannot tile): the generation matrix and the tuner leave them out instead of failing.
   */
  readonly unsupported?: (c: ConstantsOf<S>) => RuleResult;
}

/** Declares a kernel; `const` keeps the literal value lists for ConstantsOf. */
export function defineKernel<const S extends KernelSpec>(definition: KernelDefinition<S>): KernelDefinition<S> {
  return definition;
}

/** A kernel definition of any spec, as tools handle them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKernelDefinition = KernelDefinition<any>;
