// State shared by the statement and expression elaborators while one variant of one kernel is checked:
// lexical scopes, the shared-memory stack, raise() sites, the constants and schedule of the variant.

import type { Node } from "ts-morph";
import { dslError, type DslErrorKind } from "./diagnostics.js";
import type { Level, RaiseSite, ScalarType, Stmt, StorageType, TensorParam } from "./ir.js";

/** What a name in a kernel body stands for. */
export type Sym =
  | { readonly s: "var"; readonly cname: string; readonly t: ScalarType; readonly mutable: boolean; readonly level: Level; readonly value?: number | boolean }
  | { readonly s: "regs"; readonly cname: string; readonly elem: ScalarType; readonly dims: readonly number[] }
  | { readonly s: "shared"; readonly cname: string; readonly elem: StorageType; readonly dims: readonly number[] }
  | { readonly s: "barriers"; readonly cname: string; readonly count: number }
  | { readonly s: "tensor"; readonly param: TensorParam }
  | { readonly s: "lambda"; readonly cname: string; readonly params: readonly ScalarType[]; readonly ret: ScalarType | "void" }
  | { readonly s: "word"; readonly text: string } // a compile-time word (const MMA = fp8 ? "fp16" : c.dtype)
  | { readonly s: "constants" }
  | { readonly s: "schedule" };

/** Names the lowering uses itself, and C++ words that cannot be variable names. */
const RESERVED = new Set(
  ("auto break case char class const constexpr continue default delete do double else enum extern float for " +
    "goto if inline int long namespace new operator private protected public register return short signed " +
    "sizeof static struct switch template this throw try typedef typename union unsigned using virtual void " +
    "volatile while bool true false nullptr c s lim blockIdx threadIdx blockDim gridDim warpSize INFINITY NAN")
    .split(" "),
);

export const SHARED_MEMORY_LIMIT = 227 * 1024; // bytes of shared memory one block may use on sm_90
export const MAX_THREADS = 1024;
export const SM_SHARED_MEMORY = 228 * 1024; // bytes of shared memory of an sm_90 SM, 1 KB of it reserved per block

interface Scope {
  readonly names: Map<string, Sym>;
  readonly sharedTop: number;
}

export class Context {
  private readonly scopes: Scope[] = [];
  private sharedTop = 0;
  sharedMax = 0;
  readonly raises: RaiseSite[] = [];
  /** Device functions (file-level functions the kernel calls), elaborated once each, in call order. */
  deviceFunctions = new Map<string, Extract<Stmt, { k: "lambda" }> | "in progress">();
  /** Names of the primitives the body calls (for rules such as overlapsPrecedingKernel's). */
  readonly primitivesCalled = new Set<string>();
  /** Optional outputs proven present by an enclosing `if (present(x))`. */
  readonly proven = new Set<string>();
  /** Warps the spec adds for a producer role; the role whose branch is being elaborated. */
  producerWarps = 0;
  /** Blocks of a thread-block cluster (the spec's cluster knob), or 0 for a kernel without clusters. */
  clusterBlocks = 0;
  /** Threads per block at launch: the schedule's threads and the producer warps. */
  get launchThreads(): number {
    return this.schedule.threads + 32 * this.producerWarps;
  }
  role: "all" | "producer" | "consumer" = "all";
  /** Whether the body branched on isProducer() (a kernel with producer warps must). */
  rolesSplit = false;
  /** Registers each role keeps after setMaxRegisters(), checked together against the register file. */
  readonly roleRegisters: { producer?: number; consumer?: number } = {};
  /** Barrier arrays some bulkCopy() or arrive() signals, and the wait sites of each, checked at the end. */
  readonly barrierSignals = new Set<string>();
  readonly barrierWaits: { readonly name: string; readonly node: Node }[] = [];
  /** Set while elaborating a lambda body: the return type seen so far. */
  lambdaReturn: { t: ScalarType | "void" | undefined } | undefined;

  constructor(
    readonly file: string,
    readonly constants: Readonly<Record<string, number | string>>,
    readonly schedule: Readonly<Record<string, number>>,
  ) {
    this.push();
  }

  fail(kind: DslErrorKind, node: Node, summary: string, hint: string): never {
    throw dslError(kind, node, this.file, summary, hint);
  }

  push(): void {
    this.scopes.push({ names: new Map(), sharedTop: this.sharedTop });
  }

  /** Leaves a scope; shared arrays declared in it give their storage back to later siblings. */
  pop(): void {
    const scope = this.scopes.pop();
    if (scope) this.sharedTop = scope.sharedTop;
  }

  define(node: Node, name: string, sym: Sym): void {
    const special = sym.s === "constants" || sym.s === "schedule"; // lowered as c:: and s::, whatever their names
    if (!special && (RESERVED.has(name) || name.startsWith("lim_") || name.startsWith("__"))) {
      this.fail("unsupported-syntax", node, `'${name}' is reserved in generated CUDA`, "rename the variable");
    }
    const top = this.scopes[this.scopes.length - 1];
    if (top.names.has(name)) {
      this.fail("unsupported-syntax", node, `'${name}' is already declared in this scope`, "use a different name");
    }
    for (const scope of this.scopes) {
      if (scope.names.has(name)) {
        this.fail("unsupported-syntax", node, `'${name}' shadows an outer declaration`, "generated CUDA keeps one meaning per name: rename it");
      }
    }
    top.names.set(name, sym);
  }

  lookup(name: string): Sym | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const sym = this.scopes[i].names.get(name);
      if (sym) return sym;
    }
    return undefined;
  }

  /**
   * Reserves shared memory for an array; returns its byte offset, 128-byte aligned: a warp's 16-byte
   * asynchronous copies into a staging array then fill whole 128-byte lines (measured: staging arrays 16
   * bytes off a line made full decode attention 7-10% slower).
   */
  allocShared(node: Node, name: string, bytes: number): number {
    const offset = Math.ceil(this.sharedTop / 128) * 128;
    this.sharedTop = offset + bytes;
    this.sharedMax = Math.max(this.sharedMax, this.sharedTop);
    if (this.sharedTop > SHARED_MEMORY_LIMIT) {
      const sched = Object.entries(this.schedule).map(([k, v]) => `${k}=${v}`).join(" ");
      this.fail(
        "schedule-limit",
        node,
        `shared memory exceeds the ${SHARED_MEMORY_LIMIT}-byte limit of a block: '${name}' ends at byte ${this.sharedTop} (schedule ${sched})`,
        "choose a schedule with fewer stages, rows or threads, or declare the array in a scope that ends earlier",
      );
    }
    return offset;
  }
}
