// The kernel DSL: types, the kernel spec, helpers for heuristics, and the primitives. Kernels import only
// from here, and their default constant lists from codegen/matrix.ts (the generation matrix, defined once).
export * from "./types.js";
export * from "./kernel.js";
export * from "./schedule.js";
export * from "./builtins.js";
