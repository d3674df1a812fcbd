// The kernel DSL: types, the kernel spec, the generation matrix, helpers for heuristics, and the primitives.
// Kernels import only from here.
export * from "./types.js";
export * from "./kernel.js";
export * from "./matrix.js";
export * from "./schedule.js";
export * from "./builtins.js";
