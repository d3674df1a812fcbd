// Deterministic variant names that encode every specialization: the kernel, then its constants, then its
// schedule, e.g. decode_attention__d128_g4_bf16__t128_r4_s4_m1. The same name is the .cu file's stem, the C
// symbol's suffix (lim_<name>) and the tuning key.

import type { KernelSpec } from "../dsl/lang/kernel.js";
import { SUPPORTED_MATRIX } from "../dsl/lang/matrix.js";
import type { Constants, Schedule } from "./types.js";

/** The constant a kernel names its K/V caches' element type with, and the value meaning "the model's dtype". */
export const KV_CONSTANT = "kv";
export const AUTO_KV = "auto";

/**
 * Numeric constants read as lower-case name + value (d128, g4); string constants as their value (bf16). A
 * K/V dtype equal to the dtype ("auto") is left out: such variants keep the names they had before FP8.
 */
export function constantsTag(spec: KernelSpec, constants: Constants): string {
  return Object.keys(spec.constants)
    .filter((k) => !(k === KV_CONSTANT && constants[k] === constants.dtype))
    .map((k) => (typeof constants[k] === "number" ? `${k.toLowerCase()}${constants[k]}` : String(constants[k])))
    .join("_");
}

/** Schedule knobs read as tag + value in the spec's order (t128_r4_s4_m1). */
export function scheduleTag(spec: KernelSpec, schedule: Schedule): string {
  return Object.entries(spec.schedule)
    .map(([k, knob]) => `${knob.tag}${schedule[k]}`)
    .join("_");
}

/** A kernel without constants (one generic variant per schedule) leaves the constants part out. */
export function variantName(spec: KernelSpec, constants: Constants, schedule: Schedule): string {
  const tag = constantsTag(spec, constants);
  return tag ? `${spec.name}__${tag}__${scheduleTag(spec, schedule)}` : `${spec.name}__${scheduleTag(spec, schedule)}`;
}

/** Element types as the C ABI numbers them (lim_dtype). */
export const DTYPE_CODES: Readonly<Record<string, number>> = { bf16: 0, fp16: 1, f32: 2, i32: 3, u32: 4, e4m3: 5, e5m2: 6 };

/**
 * K/V cache layouts as the C ABI numbers them (lim_cache_layout): where row (request, head, position) of a
 * cache lies. contiguous: [B, H, N, D] with strides; paged: page block_table[b][position / page_size] of a
 * pool of pages (codegen/frontend/signature.ts reads a tensor's layout; templates/device/lim_device.cuh
 * addresses it).
 */
export const CACHE_LAYOUT_CODES: Readonly<Record<string, number>> = Object.fromEntries(SUPPORTED_MATRIX.caches.map((layout, code) => [layout, code]));

/** A word-valued kernel constant (a dtype or a cache layout): its C type and numbering. */
export interface WordConstant {
  readonly cType: "lim_dtype" | "lim_cache_layout";
  readonly codes: Readonly<Record<string, number>>;
}

/** Which kind of word a string constant's values are, named by its first value. */
export function wordConstant(value: string): WordConstant {
  if (value in CACHE_LAYOUT_CODES) return { cType: "lim_cache_layout", codes: CACHE_LAYOUT_CODES };
  if (value in DTYPE_CODES || value === AUTO_KV) return { cType: "lim_dtype", codes: DTYPE_CODES };
  throw new Error(`a kernel constant takes the value '${value}', which is neither a dtype (${Object.keys(DTYPE_CODES).join(", ")}) nor a cache layout (${Object.keys(CACHE_LAYOUT_CODES).join(", ")})`);
}

/** The number the C side stores for a constant's value (dtypes and layouts by their codes). */
export function constantCode(value: number | string): number {
  return typeof value === "number" ? value : wordConstant(value).codes[value];
}
