// The kernel DSL: types, the kernel spec, and the primitives. Kernels import only from here.
export * from "./types.js";
export * from "./kernel.js";
export * from "./builtins.js";
