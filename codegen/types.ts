// The types the code generator's stages share: a kernel as loaded from dsl/kernels, and the constants and
// schedule one variant is made for. Types only, so importing them loads neither ts-morph nor the front end.

import type { FunctionDeclaration } from "ts-morph";
import type { AnyKernelDefinition as KernelDefinition } from "../dsl/lang/kernel.js";

/** A kernel as found in dsl/kernels: its definition (imported) and its body (parsed, never run). */
export interface KernelSource {
  /** Path relative to the project root, as it appears in diagnostics and generated comments. */
  readonly file: string;
  readonly definition: KernelDefinition;
  readonly fn: FunctionDeclaration;
}

/** A variant's compile-time constants (head dim, group size, dtype, ...), by name. */
export type Constants = Readonly<Record<string, number | string>>;
/** A variant's schedule: a value for each knob of the kernel's schedule space. */
export type Schedule = Readonly<Record<string, number>>;
