// The typed IR the front end produces for one variant (constants and schedule fixed) of one kernel.
// Every node keeps the DSL source position it came from, so the lowering can tag each CUDA statement.

import { isFp8 } from "../../dsl/lang/types.js";
import type { SourcePos } from "./diagnostics.js";

export { isFp8 };

export type ScalarType = "i32" | "u32" | "f32" | "bool";
export type StorageType = "bf16" | "fp16" | "e4m3" | "e5m2" | "f32" | "i32" | "u32";

/** Bytes of each storage element; its keys are the storage types a kernel may name. e4m3, e5m2: FP8 (OCP). */
export const STORAGE_BYTES: Record<StorageType, number> = { bf16: 2, fp16: 2, e4m3: 1, e5m2: 1, f32: 4, i32: 4, u32: 4 };

/** Whether a storage name is one. */
export const isStorageType = (name: string): name is StorageType => name in STORAGE_BYTES;

/** Floats narrower than f32 (bf16, fp16, FP8): converted to f32 when read, rounded (FP8 saturating) when written. */
export const isNarrowFloat = (t: StorageType): boolean => t === "bf16" || t === "fp16" || isFp8(t);

/** How much of a value is known before run time. Register arrays accept only "const" and "unrolled" indices. */
export type Level = "const" | "unrolled" | "runtime";

/** in: read-only input; out: written; maybe-in / maybe-out: optional (a null pointer when absent). */
export type TensorAccess = "in" | "out" | "maybe-in" | "maybe-out";

export const isOptional = (a: TensorAccess): boolean => a === "maybe-in" || a === "maybe-out";
export const isWritable = (a: TensorAccess): boolean => a === "out" || a === "maybe-out";

export interface TensorParam {
  readonly kind: "tensor";
  readonly name: string;
  readonly elem: StorageType;
  /** Each dim: a run-time size name, or a number (compile-time constants are already substituted). */
  readonly dims: readonly (string | number)[];
  /** The dims as written, for documentation (e.g. "D" rather than 128). */
  readonly dimNames: readonly string[];
  readonly access: TensorAccess;
  /**
   * Where a row lies (a cache tensor [B, H, N, D] declared with a layout constant, e.g.
   * Tensor<"dtype", ["B", "Hkv", "Nmax", "D"], "cache">): "contiguous" with strides, or "paged" through a
   * block table (its C field is then a lim_cache_tensor). Undefined for a tensor without one.
   */
  readonly layout?: CacheLayout;
  readonly pos: SourcePos;
}

/** A cache layout: one of SUPPORTED_MATRIX.caches (dsl/lang/matrix.ts), numbered in that order for C (codegen/names.ts). */
export type CacheLayout = "contiguous" | "paged";

export interface ScalarParam {
  readonly kind: "scalar";
  readonly name: string;
  readonly type: ScalarType;
  readonly pos: SourcePos;
}

export type Param = TensorParam | ScalarParam;

export type Type =
  | { readonly kind: "scalar"; readonly t: ScalarType }
  | { readonly kind: "intlit" } // an integer literal not yet given a type by its context
  | { readonly kind: "regs"; readonly elem: ScalarType; readonly dims: readonly number[] }
  | { readonly kind: "shared"; readonly elem: StorageType; readonly dims: readonly number[] }
  | { readonly kind: "tensor"; readonly param: TensorParam }
  | { readonly kind: "ref"; readonly space: "global" | "shared" | "peer"; readonly elem: StorageType } // peer: another block's shared memory
  | { readonly kind: "lambda"; readonly params: readonly ScalarType[]; readonly ret: ScalarType | "void" }
  | { readonly kind: "barriers"; readonly name: string; readonly count: number } // barriers(): an array of mbarriers
  | { readonly kind: "barrier"; readonly name: string } // one of them, named by its array
  | { readonly kind: "iterable" }
  | { readonly kind: "string" }
  | { readonly kind: "void" };

export const scalar = (t: ScalarType): Type => ({ kind: "scalar", t });
export const VOID: Type = { kind: "void" };

export type BinaryOp =
  | "+" | "-" | "*" | "/" | "%"
  | "<" | "<=" | ">" | ">=" | "==" | "!="
  | "&&" | "||"
  | "&" | "|" | "^" | "<<" | ">>";

export type UnaryOp = "-" | "!" | "~";

interface ExprBase {
  readonly type: Type;
  readonly level: Level;
  /** The value, when known at compile time. */
  readonly value?: number | boolean;
  readonly pos: SourcePos;
}

export type Expr =
  | (ExprBase & { readonly k: "lit" })
  | (ExprBase & { readonly k: "named"; readonly cname: string }) // a variable, constant or builtin, as lowered
  | (ExprBase & { readonly k: "unary"; readonly op: UnaryOp; readonly e: Expr })
  | (ExprBase & { readonly k: "binary"; readonly op: BinaryOp; readonly l: Expr; readonly r: Expr })
  | (ExprBase & { readonly k: "cond"; readonly c: Expr; readonly a: Expr; readonly b: Expr })
  | (ExprBase & { readonly k: "call"; readonly fn: string; readonly args: readonly Expr[] })
  | (ExprBase & { readonly k: "index"; readonly base: Expr; readonly indices: readonly Expr[] })
  | (ExprBase & { readonly k: "tensor"; readonly op: "at" | "ref" | "size"; readonly param: TensorParam; readonly args: readonly Expr[] })
  | (ExprBase & { readonly k: "sharedRef"; readonly base: Expr; readonly indices: readonly Expr[] })
  | (ExprBase & { readonly k: "string"; readonly text: string });

export type AssignOp = "=" | "+=" | "-=" | "*=" | "/=" | "%=" | "&=" | "|=" | "^=" | "<<=" | ">>=";

interface StmtBase {
  readonly pos: SourcePos;
}

export type Stmt =
  | (StmtBase & {
      readonly k: "decl";
      readonly name: string;
      readonly t: ScalarType;
      readonly init: Expr;
      readonly mutable: boolean;
      /** Set for a `const` whose value is known at compile time: lowered as constexpr. */
      readonly constValue?: number | boolean;
    })
  | (StmtBase & { readonly k: "regs"; readonly name: string; readonly elem: ScalarType; readonly dims: readonly number[]; readonly init?: Expr })
  | (StmtBase & { readonly k: "shared"; readonly name: string; readonly elem: StorageType; readonly dims: readonly number[]; readonly offset: number })
  | (StmtBase & { readonly k: "barriers"; readonly name: string; readonly count: number; readonly arrivals: number; readonly offset: number })
  | (StmtBase & { readonly k: "assign"; readonly target: Expr; readonly op: AssignOp; readonly value: Expr })
  | (StmtBase & { readonly k: "expr"; readonly e: Expr })
  | (StmtBase & { readonly k: "if"; readonly cond: Expr; readonly then: readonly Stmt[]; readonly else?: readonly Stmt[] })
  | (StmtBase & {
      readonly k: "for";
      readonly v: string;
      readonly start: Expr;
      readonly end: Expr;
      readonly step: Expr;
      /** "full": compile-time trip count, fully unrolled; a number: unroll hint; undefined: plain loop. */
      readonly unroll?: "full" | number;
      readonly body: readonly Stmt[];
    })
  | (StmtBase & { readonly k: "while"; readonly cond: Expr; readonly body: readonly Stmt[] })
  | (StmtBase & { readonly k: "return"; readonly value?: Expr })
  | (StmtBase & { readonly k: "break" })
  | (StmtBase & { readonly k: "continue" })
  | (StmtBase & { readonly k: "block"; readonly body: readonly Stmt[] })
  | (StmtBase & { readonly k: "word"; readonly name: string; readonly text: string }) // a compile-time word: a comment in the CUDA
  | (StmtBase & {
      readonly k: "lambda";
      readonly name: string;
      readonly params: readonly { readonly name: string; readonly t: ScalarType }[];
      readonly ret: ScalarType | "void";
      readonly body: readonly Stmt[];
    });

/** A call of raise(): the message template, numbered across the whole generated library by the writer. */
export interface RaiseSite {
  readonly message: string;
  readonly pos: SourcePos;
}

export interface KernelIR {
  readonly name: string;
  readonly file: string;
  readonly summary: string;
  readonly constants: Readonly<Record<string, number | string>>;
  /** The kernel's limits (KernelSpec.limits), read as c.NAME beside the constants. */
  readonly limits: Readonly<Record<string, number>>;
  readonly schedule: Readonly<Record<string, number>>;
  readonly params: readonly Param[];
  /** Run-time sizes: tensor dims that are not compile-time, in first-use order (i32 scalars of the same name merge in). */
  readonly sizes: readonly string[];
  readonly grid: { readonly x: string; readonly y?: string; readonly z?: string };
  /** The grid's axes as host C over the parameter block `p` (codegen/frontend/grid.ts). */
  readonly launchGrid: { readonly x: string; readonly y: string; readonly z: string };
  /** Threads per block at launch: the schedule's threads and the producer warps (KernelSpec.producerWarps). */
  readonly threads: number;
  /** Launched as a programmatic dependent of the preceding kernel (see KernelSpec). */
  readonly overlapsPrecedingKernel: boolean;
  /** Blocks of a thread-block cluster along grid x (KernelSpec.cluster); 1: no clusters. */
  readonly clusterBlocks: number;
  readonly sharedBytes: number;
  /** __launch_bounds__' blocks per SM, where the kernel asks for it (KernelSpec.occupancyFromSharedMemory). */
  readonly minBlocksPerSM?: number;
  readonly body: readonly Stmt[];
  /** File-level functions the body calls, in dependency order (lowered as __device__ functions). */
  readonly functions: readonly Extract<Stmt, { k: "lambda" }>[];
  readonly raises: readonly RaiseSite[];
}
