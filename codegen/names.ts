// Deterministic variant names that encode every specialization: the kernel, then its constants, then its
// schedule, e.g. decode_attention__d128_g4_bf16__t128_r4_s4. The same name is the .cu file's stem, the C
// symbol's suffix (lim_<name>) and the tuning key.

import type { KernelSpec } from "../dsl/lang/kernel.js";
import type { Constants, Schedule } from "./types.js";

/** Numeric constants read as lower-case name + value (d128, g4); string constants as their value (bf16). */
export function constantsTag(spec: KernelSpec, constants: Constants): string {
  return Object.keys(spec.constants)
    .map((k) => (typeof constants[k] === "number" ? `${k.toLowerCase()}${constants[k]}` : String(constants[k])))
    .join("_");
}

/** Schedule knobs read as tag + value in the spec's order (t128_r4_s4). */
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
export const DTYPE_CODES: Readonly<Record<string, number>> = { bf16: 0, fp16: 1, f32: 2, i32: 3, u32: 4 };
