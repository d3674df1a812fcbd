// The CUDA types of the DSL's scalar and storage types, for the lowering and the primitives' templates.

import type { ScalarType, StorageType } from "../frontend/ir.js";

export const CTYPE: Readonly<Record<ScalarType, string>> = { i32: "int", u32: "unsigned", f32: "float", bool: "bool" };

/** CUDA type of a storage element. */
export function storageCType(elem: StorageType): string {
  return { bf16: "__nv_bfloat16", fp16: "__half", e4m3: "__nv_fp8_e4m3", e5m2: "__nv_fp8_e5m2", f32: "float", i32: "int", u32: "unsigned" }[elem];
}
