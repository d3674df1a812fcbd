// The vocabulary of the ABI description: what role each argument of a C function plays. Everything a
// binding or an argument check needs follows from the role: the C type, the alignment a pointer must have,
// which strides belong to which tensor, how a binding reads the argument (a device buffer, a number, a
// dtype name, a flag), and the checks of the generated C wrapper.

/**
 * Element types of tensor arguments. "kv" is the function's dtype (bf16 or fp16) and "fp8" an FP8 cache's
 * byte (E4M3 or E5M2, as the function's kv_dtype says), both read 16 bytes at a time.
 */
export type Element = "kv" | "fp8" | "f32" | "i32" | "u32";

/**
 * A device array. shape names each dimension by a size argument (or a number), and strides names the
 * stride argument of each dimension ("1" for the contiguous last one); a tensor without strides is
 * contiguous. Strided tensors are checked not to overlap themselves (a stride of 0 is refused too: the
 * kernels' address arithmetic and the engines' layouts never need it).
 */
export interface TensorParam {
  readonly kind: "tensor";
  readonly name: string;
  readonly doc: string;
  readonly element: Element;
  readonly access: "in" | "out";
  readonly optional?: boolean;
  readonly shape?: readonly string[];
  readonly strides?: readonly string[];
}

/** An element stride of a tensor argument (int64_t). */
export interface StrideParam {
  readonly kind: "stride";
  readonly name: string;
  readonly doc: string;
}

/** A count or size (int32_t) in [min, max]. */
export interface SizeParam {
  readonly kind: "size";
  readonly name: string;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
}

/** A plain value: a float (finite unless said otherwise) or an unsigned 32-bit word. */
export interface ValueParam {
  readonly kind: "float" | "u32";
  readonly name: string;
  readonly doc: string;
}

/** An element type among `allowed`: the function's dtype (its "kv" tensors'), or its FP8 caches' format (kv_dtype). */
export interface DtypeParam {
  readonly kind: "dtype";
  readonly name: string;
  readonly doc: string;
  readonly allowed: readonly string[];
}

/** An int32_t taking one of the named values: bindings take the name, C the constant. */
export interface EnumParam {
  readonly kind: "enum";
  readonly name: string;
  readonly doc: string;
  readonly values: Readonly<Record<string, { readonly constant: string; readonly value: number }>>;
}

/** 0 or 1 (int32_t); bindings take a boolean. */
export interface FlagParam {
  readonly kind: "flag";
  readonly name: string;
  readonly doc: string;
}

/** Device scratch (void*, 16-byte aligned); the size_t after it is its size, taken from the buffer by bindings. */
export interface WorkspaceParam {
  readonly kind: "workspace" | "workspace_bytes";
  readonly name: string;
  readonly doc: string;
}

/** A size_t* the function writes its answer to; bindings return it. */
export interface ResultParam {
  readonly kind: "result";
  readonly name: string;
  readonly doc: string;
}

/** A C string (const char*), NULL allowed when optional. */
export interface StringParam {
  readonly kind: "string";
  readonly name: string;
  readonly doc: string;
  readonly optional?: boolean;
}

/** A device index (int), or the stream the kernels run on. */
export interface OtherParam {
  readonly kind: "device" | "stream";
  readonly name: string;
  readonly doc: string;
}

export type AbiParam =
  | TensorParam | StrideParam | SizeParam | ValueParam | DtypeParam | EnumParam | FlagParam | WorkspaceParam | ResultParam | StringParam | OtherParam;

/** A relation between arguments the wrapper checks: a C condition, and the message when it fails ({name} is the value). */
export interface Requirement {
  readonly check: string;
  readonly message: string;
}

export interface AbiFunction {
  readonly name: string;
  /** Paragraphs of the doc comment. */
  readonly doc: readonly string[];
  readonly params: readonly AbiParam[];
  /** "status" (the default): an int status, the arguments checked by the generated wrapper. */
  readonly returns?: "status" | "const char*" | "int";
  /** Relations between arguments, checked after each argument alone. */
  readonly requires?: readonly Requirement[];
}

const ELEMENT_CTYPES: Readonly<Record<Element, string>> = { kv: "void", fp8: "void", f32: "float", i32: "int32_t", u32: "uint32_t" };

/** Bytes a pointer to these elements must be aligned to: "kv" and "fp8" rows are read and written 16 bytes at a time. */
export const ELEMENT_ALIGNMENT: Readonly<Record<Element, number>> = { kv: 16, fp8: 16, f32: 4, i32: 4, u32: 4 };

/** Bytes of one element: "kv" is bf16 or fp16 (the functions' dtype argument allows no other). */
export const ELEMENT_BYTES: Readonly<Record<Element, number>> = { kv: 2, fp8: 1, f32: 4, i32: 4, u32: 4 };

/** Strides are multiples of this many elements: 16 bytes for rows read 16 bytes at a time, so that every row starts aligned. */
export const STRIDE_MULTIPLE: Readonly<Record<Element, number>> = { kv: 16 / ELEMENT_BYTES.kv, fp8: 16 / ELEMENT_BYTES.fp8, f32: 1, i32: 1, u32: 1 };

/** Why a pointer to these elements must be aligned, for the wrapper's message. */
export const ALIGNMENT_REASON: Readonly<Record<Element, string>> = {
  kv: "bf16/fp16 rows are read and written 16 bytes at a time",
  fp8: "FP8 rows are read and written 16 bytes at a time",
  f32: "f32 elements are 4 bytes",
  i32: "i32 elements are 4 bytes",
  u32: "u32 elements are 4 bytes",
};

/** The C type of an argument. */
export function ctypeOf(p: AbiParam): string {
  switch (p.kind) {
    case "tensor": return `${p.access === "in" ? "const " : ""}${ELEMENT_CTYPES[p.element]}*`;
    case "stride": return "int64_t";
    case "size": case "enum": case "flag": return "int32_t";
    case "float": return "float";
    case "u32": return "uint32_t";
    case "dtype": return "lim_dtype";
    case "workspace": return "void*";
    case "workspace_bytes": return "size_t";
    case "result": return "size_t*";
    case "string": return "const char*";
    case "device": return "int";
    case "stream": return "cudaStream_t";
  }
}

/** Whether a function returns a status: its arguments are checked by the generated wrapper and bindings expose it. */
export function returnsStatus(fn: AbiFunction): boolean {
  return (fn.returns ?? "status") === "status";
}

/** The C return type. */
export function returnCType(fn: AbiFunction): string {
  return returnsStatus(fn) ? "int" : fn.returns!;
}

/** snake_case -> camelCase: the name bindings in JavaScript use. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The function's name without the lim_ prefix. */
export function shortName(fn: AbiFunction): string {
  return fn.name.replace(/^lim_/, "");
}

/** The tensors each stride argument belongs to (out_k and out_v may share theirs). */
export function strideOwners(fn: AbiFunction): Map<string, TensorParam[]> {
  const owners = new Map<string, TensorParam[]>();
  for (const p of fn.params) {
    if (p.kind !== "tensor" || !p.strides) continue;
    for (const s of p.strides) if (s !== "1") owners.set(s, [...(owners.get(s) ?? []), p]);
  }
  return owners;
}

/** Strides that a caller may leave out: every tensor they belong to is optional. */
export function optionalStrides(fn: AbiFunction): Set<string> {
  const out = new Set<string>();
  for (const [stride, owners] of strideOwners(fn)) if (owners.every((o) => o.optional)) out.add(stride);
  return out;
}

/** Checks that the description is coherent: every stride owned by one tensor, shapes name arguments, one workspace size. */
export function validateFunction(fn: AbiFunction): void {
  const names = new Set(fn.params.map((p) => p.name));
  const problem = (what: string) => new Error(`codegen/abi/functions.ts: ${fn.name}: ${what}`);
  if (names.size !== fn.params.length) throw problem("two arguments share a name");
  for (const p of fn.params) {
    if (p.kind !== "tensor") continue;
    if (p.strides && p.shape && p.strides.length !== p.shape.length) throw problem(`${p.name} has ${p.shape.length} dimensions but ${p.strides.length} strides`);
    if (p.strides && p.strides[p.strides.length - 1] !== "1") throw problem(`${p.name}'s last dimension must be contiguous (stride "1")`);
    for (const d of p.shape ?? []) if (!/^\d+$/.test(d) && !names.has(d)) throw problem(`${p.name}'s shape names '${d}', which is no argument`);
    for (const s of p.strides ?? []) {
      if (s === "1") continue;
      const param = fn.params.find((q) => q.name === s);
      if (!param || param.kind !== "stride") throw problem(`${p.name}'s stride '${s}' is no stride argument`);
    }
  }
  const owners = strideOwners(fn);
  for (const p of fn.params) if (p.kind === "stride" && !owners.has(p.name)) throw problem(`stride ${p.name} belongs to no tensor`);
  const ws = fn.params.findIndex((p) => p.kind === "workspace");
  if (ws >= 0 && fn.params[ws + 1]?.kind !== "workspace_bytes") throw problem("a workspace must be followed by its size");
}
