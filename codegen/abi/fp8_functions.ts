// The FP8 versions of the cache functions, derived from the contiguous and paged ones so that every
// argument they share is described once: the K/V caches (or pools) hold FP8 bytes in the format kv_dtype
// names (E4M3 or E5M2), and each function takes the caches' scales (vLLM's k_scale and v_scale: one per tensor, or one per KV head) as device
// arrays, so that a CUDA graph keeps reading the engine's current scales. q, new tokens and outputs stay in
// the model's dtype. Attention widens the FP8 rows to fp16 in registers (dsl/kernels/decode_attention.ts);
// writes divide by the scale, round to nearest and saturate (at +-448 in E4M3, +-57344 in E5M2).

import type { AbiFunction, AbiParam, Requirement, TensorParam } from "./params.js";

const FP8_DOC = [
  "FP8 caches: k_cache and v_cache hold FP8 values, E4M3 (kv_dtype = LIM_DTYPE_E4M3, torch.float8_e4m3fn) or E5M2",
  "(LIM_DTYPE_E5M2, torch.float8_e5m2), each an OCP FP8 format, whose real values are",
  "the stored ones times k_scale (keys) and v_scale (values): one scale for the whole cache (scale_heads = 1)",
  "or one per KV head (scale_heads = num_kv_heads), device arrays read at every call; NULL means 1.",
];

/** What the gather's compact buffers hold when it reads FP8 caches. */
const FP8_GATHER_DOC = [
  "From FP8 caches the compact rows are the dequantised values (stored value times its scale) in dtype, so that",
  "a dense attention in the model's dtype runs over them.",
];

/** The FP8 format of the caches, put before the function's dtype. */
const kvDtype: AbiParam = { kind: "dtype", name: "kv_dtype", doc: "LIM_DTYPE_E4M3 or LIM_DTYPE_E5M2: the FP8 format of k_cache and v_cache", allowed: ["e4m3", "e5m2"] };

/** The scales of an FP8 function's caches and their format, put before its dtype. */
const scales: readonly AbiParam[] = [
  { kind: "tensor", name: "k_scale", element: "f32", access: "in", doc: "optional [scale_heads] scale of the keys (vLLM's k_scale); NULL: 1", shape: ["scale_heads"], optional: true },
  { kind: "tensor", name: "v_scale", element: "f32", access: "in", doc: "optional [scale_heads] scale of the values (vLLM's v_scale); NULL: 1", shape: ["scale_heads"], optional: true },
  { kind: "size", name: "scale_heads", doc: "entries of k_scale and v_scale: 1 (per tensor) or num_kv_heads (per KV head)", min: 1, max: 65535 },
  kvDtype,
];

const scalesPerTensorOrHead: Requirement = {
  check: "scale_heads == 1 || scale_heads == num_kv_heads",
  message: "scale_heads ({scale_heads}) must be 1 (one scale per tensor) or num_kv_heads ({num_kv_heads}) (one per KV head)",
};

/** FP8 attention reads rows 32 dims at a time (dsl/kernels/decode_attention.ts generates no other variant). */
const headDimTiles: Requirement = { check: "head_dim % 32 == 0", message: "head_dim ({head_dim}) must be a multiple of 32 for FP8 caches" };

const isCache = (p: AbiParam): p is TensorParam => p.kind === "tensor" && (p.name === "k_cache" || p.name === "v_cache");

/** Text naming the 16-bit functions and their workspace queries, naming the FP8 ones instead. */
const fp8Names = (text: string): string => text.replace(/\blim_((?:paged_)?(?:decode_attention|sparse_attention)(?:_workspace_size)?)\b/g, "lim_fp8_$1");

/** The FP8 version of a cache function: FP8 caches, their format and their scales. */
function fp8(fn: AbiFunction): AbiFunction {
  if (!fn.params.some(isCache)) throw new Error(`codegen/abi/fp8_functions.ts: ${fn.name} takes no k_cache or v_cache`);
  const params = fn.params.flatMap((p): AbiParam[] => {
    if (isCache(p)) return [{ ...p, element: "fp8", doc: `${p.doc}, FP8 (kv_dtype)` }];
    if (p.kind === "dtype") return [...scales, { ...p, doc: `${p.doc}: the dtype of every tensor but the FP8 caches` }];
    if (p.kind === "workspace") return [{ ...p, doc: fp8Names(p.doc) }];
    return [p];
  });
  const attention = fn.name.includes("attention") ? [headDimTiles] : [];
  const gather = fn.name.endsWith("gather_kv") ? FP8_GATHER_DOC : [];
  return { ...fn, name: fn.name.replace(/^lim_/, "lim_fp8_"), doc: [...fn.doc.map(fp8Names), ...gather, ...FP8_DOC], params, requires: [...(fn.requires ?? []), scalesPerTensorOrHead, ...attention] };
}

/** The FP8 workspace-size query of an attention function: its arguments and the caches' format, the FP8 variant's plan. */
function fp8Workspace(fn: AbiFunction): AbiFunction {
  const params = fn.params.flatMap((p): AbiParam[] => (p.kind === "dtype" ? [kvDtype, p] : [p]));
  return { ...fn, name: fn.name.replace(/^lim_/, "lim_fp8_"), doc: fn.doc.map(fp8Names), params, requires: [...(fn.requires ?? []), headDimTiles] };
}

const FP8 = [
  "lim_decode_attention", "lim_sparse_attention", "lim_sparse_attention_per_head", "lim_append_kv", "lim_synthesize_kv",
  "lim_paged_decode_attention", "lim_paged_sparse_attention", "lim_paged_sparse_attention_per_head", "lim_paged_append_kv", "lim_paged_synthesize_kv",
  "lim_write_kv_slots", "lim_gather_kv", "lim_paged_gather_kv",
];
const FP8_WORKSPACE = [
  "lim_decode_attention_workspace_size", "lim_sparse_attention_workspace_size",
  "lim_paged_decode_attention_workspace_size", "lim_paged_sparse_attention_workspace_size",
];

/** The FP8 functions, after the 16-bit ones (contiguous and paged) they derive from. */
export function fp8Functions(functions: readonly AbiFunction[]): AbiFunction[] {
  const find = (name: string) => {
    const fn = functions.find((f) => f.name === name);
    if (!fn) throw new Error(`codegen/abi/fp8_functions.ts: no function ${name} to derive an FP8 version from`);
    return fn;
  };
  return [...FP8.map((n) => fp8(find(n))), ...FP8_WORKSPACE.map((n) => fp8Workspace(find(n)))];
}
