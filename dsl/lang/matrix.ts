// The generation matrix as data, defined once: what a plain `lim generate` covers and what any request may
// ask for. Kernels take their default constant lists from here; codegen/matrix.ts checks requests against it.

/** One axis of the generation matrix. */
export type MatrixAxis = "headDims" | "groupSizes" | "dtypes" | "budgets" | "caches" | "kvDtypes";

/** Values of each axis. */
export interface MatrixValues {
  readonly headDims: readonly number[];
  readonly groupSizes: readonly number[];
  readonly dtypes: readonly string[];
  readonly budgets: readonly number[];
  /**
   * K/V cache layouts: contiguous [B, H, N, D], or paged through a block table. SUPPORTED_MATRIX's order is
   * their C numbering (lim_cache_layout, codegen/names.ts).
   */
  readonly caches: readonly string[];
  /**
   * Element types of the K/V caches: "auto" (the model's dtype, as vLLM's kv_cache_dtype says it), "e4m3"
   * or "e5m2" (FP8 with a per-tensor or per-KV-head scale; E5M2 on request only: engines on Hopper run
   * E4M3). A kernel's `kv` constant takes them; "auto" resolves
   * to its `dtype` (codegen/variants.ts) and is left out of variant names.
   */
  readonly kvDtypes: readonly string[];
}

/**
 * What `lim generate` produces when no axis is given (the committed generated/ folder). Budgets are the
 * top-k sort-buffer sizes: a variant of budget K serves every k up to K.
 */
export const DEFAULT_MATRIX: MatrixValues = {
  headDims: [64, 128, 256],
  groupSizes: [1, 2, 4, 8],
  dtypes: ["bf16", "fp16"],
  budgets: [1024, 2048, 4096, 8192],
  caches: ["contiguous", "paged"],
  kvDtypes: ["auto", "e4m3"],
};

/**
 * Every value a request may ask for: the head dims and GQA group sizes of common models (each kernel's
 * heuristic yields a schedule that satisfies its rules and compiles without spills for all of them), and
 * the budgets the top-k kernel's schedule rules admit.
 */
export const SUPPORTED_MATRIX: MatrixValues = {
  headDims: [64, 80, 96, 112, 128, 160, 192, 256],
  groupSizes: Array.from({ length: 16 }, (_, i) => i + 1),
  dtypes: ["bf16", "fp16"],
  budgets: [1024, 2048, 4096, 8192],
  caches: ["contiguous", "paged"],
  kvDtypes: ["auto", "e4m3", "e5m2"],
};
