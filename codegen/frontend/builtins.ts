// Typing rules of the primitives whose arguments are ordinary expressions. The special forms whose
// arguments are read as written (regs, shared, sizeof, unroll, range, present, raise) live in the
// expression and statement elaborators. The lowering of each name is in codegen/lower/primitives.ts.

import type { Node } from "ts-morph";
import type { Context } from "./context.js";
import { posOf } from "./diagnostics.js";
import { isFp8, scalar, STORAGE_BYTES, VOID, type Expr, type ScalarType, type Type } from "./ir.js";
import { coerce, describe, isScalar, unify, valueTypeOf } from "./typing.js";

export interface BuiltinResult {
  readonly type: Type;
  readonly args: readonly Expr[];
  readonly value?: number | boolean;
  /** The primitive lowered in its place (a role's form of it, e.g. the consumers' barrier for syncthreads). */
  readonly fn?: string;
}

type Rule = (ctx: Context, call: Node, args: readonly Expr[], argNodes: readonly Node[]) => BuiltinResult;

/** Checks the number of arguments: n, or n - 1 as well when the last one is optional. */
function arity(ctx: Context, call: Node, name: string, args: readonly Expr[], n: number, lastOptional = false): void {
  if (args.length === n || (lastOptional && args.length === n - 1)) return;
  const count = lastOptional ? `${n - 1} or ${n} arguments` : `${n} argument${n === 1 ? "" : "s"}`;
  ctx.fail("type-mismatch", call, `${name}() takes ${count}, got ${args.length}`, `see dsl/lang/builtins.ts for ${name}'s signature`);
}

/** A compile-time integer argument. */
function constInt(ctx: Context, node: Node, e: Expr, what: string): number {
  if (e.level !== "const" || typeof e.value !== "number") {
    return ctx.fail("not-compile-time", node, `${what} must be known at compile time`, "use literals, c.*, s.* and constants derived from them");
  }
  return e.value;
}

function registerLength(ctx: Context, node: Node, e: Expr, what: string): number {
  if (e.type.kind !== "regs" || e.type.dims.length !== 1) {
    return ctx.fail("shape-mismatch", node, `${what} must be a one-dimensional register array, got ${describe(e.type)}`, "index a multi-dimensional register array down to one row, e.g. acc[g]");
  }
  return e.type.dims[0];
}

const f32ToF32 = (name: string): Rule => (ctx, call, args, nodes) => {
  arity(ctx, call, name, args, 1);
  return { type: scalar("f32"), args: [coerce(ctx, nodes[0], args[0], "f32", `${name}() argument`)] };
};

const f32ToBool = (name: string): Rule => (ctx, call, args, nodes) => {
  arity(ctx, call, name, args, 1);
  return { type: scalar("bool"), args: [coerce(ctx, nodes[0], args[0], "f32", `${name}() argument`)] };
};

const numericPair = (name: "max" | "min"): Rule => (ctx, call, args, nodes) => {
  arity(ctx, call, name, args, 2);
  const t = unify(ctx, call, args[0], args[1], name);
  if (t === "bool") ctx.fail("type-mismatch", call, `${name}() needs numbers, got bool`, "compare with && or ||");
  const a = coerce(ctx, nodes[0], args[0], t, `${name}() argument`);
  const b = coerce(ctx, nodes[1], args[1], t, `${name}() argument`);
  const value = typeof a.value === "number" && typeof b.value === "number" && t !== "f32" ? Math[name](a.value, b.value) : undefined;
  return { type: scalar(t), args: [a, b], value };
};

const conversion = (to: ScalarType): Rule => (ctx, call, args) => {
  arity(ctx, call, to, args, 1);
  if (!isScalar(args[0]) || (args[0].type.kind === "scalar" && args[0].type.t === "bool")) {
    ctx.fail("type-mismatch", call, `${to}() converts numbers, got ${describe(args[0].type)}`, "pass a scalar number");
  }
  const v = args[0].value;
  const value = typeof v === "number" && to !== "f32" ? (to === "u32" ? v >>> 0 : Math.trunc(v) | 0) : undefined;
  const arg = args[0].type.kind === "intlit" ? coerce(ctx, call, args[0], "i32", "conversion") : args[0];
  return { type: scalar(to), args: [arg], value };
};

const laneGroup = (name: string): Rule => (ctx, call, args, nodes) => {
  arity(ctx, call, name, args, 3, true); // value, width and an optional stride
  const power = (n: number) => n >= 1 && n <= 32 && (n & (n - 1)) === 0;
  const width = constInt(ctx, nodes[1], args[1], `${name}() width`);
  if (!power(width)) ctx.fail("shape-mismatch", nodes[1], `${name}() width must be a power of two from 1 to 32, got ${width}`, "lane groups are parts of one warp");
  const stride = args.length === 3 ? constInt(ctx, nodes[2], args[2], `${name}() stride`) : 1;
  if (!power(stride) || width * stride > 32) {
    ctx.fail("shape-mismatch", nodes[2], `${name}() stride must be a power of two with width * stride <= 32, got width ${width} and stride ${stride}`, "a group's lanes must lie in one warp");
  }
  return { type: scalar("f32"), args: [coerce(ctx, nodes[0], args[0], "f32", `${name}() value`), args[1], ...args.slice(2)] };
};

const noArgs = (name: string, type: Type): Rule => (ctx, call, args) => {
  arity(ctx, call, name, args, 0);
  return { type, args };
};

/** Registers per thread a launch of `warps` warps gets: a quarter of the SM's 64K for each of its 4 schedulers' warps. */
export function launchRegisters(warps: number): number {
  const perScheduler = Math.ceil(warps / 4);
  return Math.min(255, Math.floor(16384 / (perScheduler * 32) / 8) * 8);
}

/** A 16-bit float type argument: a string constant (c.dtype) naming bf16 or fp16. */
function halfType(ctx: Context, node: Node, e: Expr, what: string): "bf16" | "fp16" {
  if (e.k !== "string" || (e.text !== "bf16" && e.text !== "fp16")) return ctx.fail("type-mismatch", node, `${what} element type must be a constant naming bf16 or fp16, got ${node.getText()}`, "pass c.dtype");
  return e.text;
}

/** A barrier argument (bars[i]); returns the name of its array. */
function barrierOf(ctx: Context, node: Node, e: Expr, what: string): string {
  if (e.type.kind !== "barrier") return ctx.fail("type-mismatch", node, `${what} must be one barrier (bars[i] of a barriers() array), got ${describe(e.type)}`, "declare const bars = barriers(n, arrivals) and pass bars[i]");
  return e.type.name;
}

/**
 * Primitives that synchronise the whole block. Inside a role's branch the role's own form is lowered
 * instead when there is one (`consumers`, `producers`: a barrier of that role's threads only), and the
 * primitive is refused otherwise (the other role never meets it); CUB's collectives have no such form.
 */
const blockWide = (name: string, rule: Rule, consumers?: string, producers?: string): Rule => (ctx, call, args, nodes) => {
  if (ctx.role === "producer" && !producers) ctx.fail("unsupported-syntax", call, `${name}() in the producer warps`, "the producer warps never meet the consumers' barriers: hand data over through barriers() and arrive()/waitBarrier()");
  if (ctx.role === "consumer" && !consumers) ctx.fail("unsupported-syntax", call, `${name}() in the consumers' branch`, `${name}() synchronises every thread of the block, producer warps included: use it outside the role branches`);
  const result = rule(ctx, call, args, nodes);
  if (ctx.role === "producer") {
    // The producers' own barrier counts their threads, a compile-time value the lowering needs.
    const threads: Expr = { k: "lit", type: scalar("i32"), level: "const", value: 32 * ctx.producerWarps, pos: posOf(call, ctx.file) };
    return { ...result, fn: producers, args: [threads] };
  }
  return ctx.role === "consumer" ? { ...result, fn: consumers } : result;
};

/** Cluster primitives need the spec's cluster knob (a kernel launched without clusters has no peers). */
function needsCluster(ctx: Context, call: Node, name: string): void {
  if (ctx.clusterBlocks === 0) ctx.fail("bad-spec", call, `${name}() in a kernel without thread-block clusters`, 'name a cluster knob in the spec: cluster: "cluster" with schedule: { cluster: { tag: "c", values: [1, 2, 4, 8] } }');
}

/** An atomic on a location: the value takes the element's register type; returns the old value. */
const atomicOn = (name: "atomicAdd" | "atomicMin" | "atomicOr"): Rule => (ctx, call, args, nodes) => {
  arity(ctx, call, name, args, 2);
  const at = args[0].type;
  if (at.kind !== "ref") return ctx.fail("type-mismatch", nodes[0], `${name}() needs a location (x.ref(...)), got ${describe(at)}`, `write ${name}(array.ref(i), value)`);
  const allowed = name === "atomicAdd" ? ["f32", "i32", "u32"] : ["i32", "u32"];
  if (!allowed.includes(at.elem)) ctx.fail("type-mismatch", nodes[0], `${name}() on ${at.elem} is not supported`, `use a location of ${allowed.join(" or ")}`);
  const t = valueTypeOf(at.elem);
  return { type: scalar(t), args: [args[0], coerce(ctx, nodes[1], args[1], t, `${name}() value`)] };
};

export const BUILTINS: Readonly<Record<string, Rule>> = {
  laneId: noArgs("laneId", scalar("i32")),
  warpId: noArgs("warpId", scalar("i32")),
  exp2: f32ToF32("exp2"),
  log2: f32ToF32("log2"),
  exp: f32ToF32("exp"),
  log: f32ToF32("log"),
  sqrt: f32ToF32("sqrt"),
  isNaN: f32ToBool("isNaN"),
  isInf: f32ToBool("isInf"),
  abs: (ctx, call, args) => {
    arity(ctx, call, "abs", args, 1);
    const t = unify(ctx, call, args[0], args[0], "abs");
    return { type: scalar(t), args: [coerce(ctx, call, args[0], t, "abs() argument")] };
  },
  max: numericPair("max"),
  min: numericPair("min"),
  ceilDiv: (ctx, call, args, nodes) => {
    arity(ctx, call, "ceilDiv", args, 2);
    const a = coerce(ctx, nodes[0], args[0], "i32", "ceilDiv() numerator");
    const b = coerce(ctx, nodes[1], args[1], "i32", "ceilDiv() denominator");
    const value = typeof a.value === "number" && typeof b.value === "number" && b.value !== 0 ? Math.ceil(a.value / b.value) : undefined;
    return { type: scalar("i32"), args: [a, b], value };
  },
  f32: conversion("f32"),
  i32: conversion("i32"),
  u32: conversion("u32"),
  dot: (ctx, call, args, nodes) => {
    arity(ctx, call, "dot", args, 2);
    const n = registerLength(ctx, nodes[0], args[0], "dot() first operand");
    const m = registerLength(ctx, nodes[1], args[1], "dot() second operand");
    if (n !== m) ctx.fail("shape-mismatch", call, `dot() operands have lengths ${n} and ${m}`, "both register arrays must have the same length");
    if (args[0].type.kind === "regs" && args[0].type.elem !== "f32") ctx.fail("type-mismatch", nodes[0], "dot() needs f32 register arrays", "declare them with regs(\"f32\", ...)");
    return { type: scalar("f32"), args };
  },
  laneGroupSum: laneGroup("laneGroupSum"),
  laneGroupMax: laneGroup("laneGroupMax"),
  orderedKey: (ctx, call, args, nodes) => {
    arity(ctx, call, "orderedKey", args, 1);
    return { type: scalar("u32"), args: [coerce(ctx, nodes[0], args[0], "f32", "orderedKey() argument")] };
  },
  keyValue: (ctx, call, args, nodes) => {
    arity(ctx, call, "keyValue", args, 1);
    return { type: scalar("f32"), args: [coerce(ctx, nodes[0], args[0], "u32", "keyValue() argument")] };
  },
  atomicAdd: atomicOn("atomicAdd"),
  atomicMin: atomicOn("atomicMin"),
  atomicOr: atomicOn("atomicOr"),
  bitWidth: (ctx, call, args, nodes) => {
    arity(ctx, call, "bitWidth", args, 1);
    return { type: scalar("i32"), args: [coerce(ctx, nodes[0], args[0], "u32", "bitWidth() argument")] };
  },
  warpBallot: (ctx, call, args, nodes) => {
    arity(ctx, call, "warpBallot", args, 1);
    return { type: scalar("u32"), args: [coerce(ctx, nodes[0], args[0], "bool", "warpBallot() predicate")] };
  },
  popcount: (ctx, call, args, nodes) => {
    arity(ctx, call, "popcount", args, 1);
    return { type: scalar("i32"), args: [coerce(ctx, nodes[0], args[0], "u32", "popcount() argument")] };
  },
  nthSetBit: (ctx, call, args, nodes) => {
    arity(ctx, call, "nthSetBit", args, 2);
    return { type: scalar("i32"), args: [coerce(ctx, nodes[0], args[0], "u32", "nthSetBit() bits"), coerce(ctx, nodes[1], args[1], "i32", "nthSetBit() n")] };
  },
  blockExclusiveSum: blockWide("blockExclusiveSum", (ctx, call, args, nodes) => {
    arity(ctx, call, "blockExclusiveSum", args, 2);
    const out = args[1].type;
    if (out.kind !== "regs" || out.elem !== "i32" || out.dims.length !== 1 || out.dims[0] !== 2) {
      ctx.fail("shape-mismatch", nodes[1], `blockExclusiveSum() writes into an i32 register array of 2, got ${describe(out)}`, 'declare it as regs("i32", [2])');
    }
    return { type: VOID, args: [coerce(ctx, nodes[0], args[0], "i32", "blockExclusiveSum() value"), args[1]] };
  }),
  blockSum: blockWide("blockSum", (ctx, call, args, nodes) => {
    arity(ctx, call, "blockSum", args, 1);
    return { type: scalar("f32"), args: [coerce(ctx, nodes[0], args[0], "f32", "blockSum() value")] };
  }),
  blockSortDescending: blockWide("blockSortDescending", (ctx, call, args, nodes) => {
    if (args.length !== 2 && args.length !== 3) {
      ctx.fail("type-mismatch", call, `blockSortDescending() takes keys, values and optionally the bits to sort on, got ${args.length} arguments`, "see dsl/lang/builtins.ts for blockSortDescending's signature");
    }
    const n = registerLength(ctx, nodes[0], args[0], "blockSortDescending() keys");
    const m = registerLength(ctx, nodes[1], args[1], "blockSortDescending() values");
    if (n !== m) ctx.fail("shape-mismatch", call, `blockSortDescending() has ${n} keys and ${m} values per thread`, "give every key a value");
    if ((args[0].type as { elem: string }).elem !== "u32" || (args[1].type as { elem: string }).elem !== "i32") {
      ctx.fail("type-mismatch", call, "blockSortDescending() sorts u32 keys carrying i32 values", 'declare regs("u32", [n]) and regs("i32", [n])');
    }
    return { type: VOID, args: args.length === 3 ? [args[0], args[1], coerce(ctx, nodes[2], args[2], "i32", "blockSortDescending() bits")] : args };
  }),
  syncthreads: blockWide("syncthreads", noArgs("syncthreads", VOID), "syncConsumers", "syncProducers"),
  clusterRank: (ctx, call, args) => {
    needsCluster(ctx, call, "clusterRank");
    return noArgs("clusterRank", scalar("i32"))(ctx, call, args, []);
  },
  // Every thread of every block of the cluster meets it: never inside one role's branch.
  clusterSync: (ctx, call, args, nodes) => {
    needsCluster(ctx, call, "clusterSync");
    return blockWide("clusterSync", noArgs("clusterSync", VOID))(ctx, call, args, nodes);
  },
  peer: (ctx, call, args, nodes) => {
    needsCluster(ctx, call, "peer");
    arity(ctx, call, "peer", args, 2);
    const t = args[0].type;
    if (t.kind !== "shared" || args[0].k !== "named") {
      ctx.fail("type-mismatch", nodes[0], `peer() takes a shared array by name, got ${describe(t)}`, 'declare it with shared(...) and pass it: peer(histogram, rank)[i]');
    }
    // A rank known at compile time must name a block of the cluster (a run-time rank is the kernel's to keep in range).
    const rank = args[1];
    if (rank.level === "const" && typeof rank.value === "number" && (rank.value < 0 || rank.value >= ctx.clusterBlocks)) {
      ctx.fail("shape-mismatch", nodes[1], `peer() rank ${rank.value} is outside the cluster of ${ctx.clusterBlocks} blocks (ranks 0 to ${ctx.clusterBlocks - 1})`, "take the rank modulo the cluster's blocks, e.g. (clusterRank() + 1) % s.blocks");
    }
    return { type: t, args: [args[0], coerce(ctx, nodes[1], args[1], "i32", "peer() rank")] };
  },
  syncWarp: noArgs("syncWarp", VOID),
  isProducer: (ctx, call, args) => {
    if (ctx.producerWarps === 0) ctx.fail("bad-spec", call, "isProducer() in a kernel without producer warps", "add producerWarps to the kernel's spec");
    return noArgs("isProducer", scalar("bool"))(ctx, call, args, []);
  },
  lastToArrive: blockWide(
    "lastToArrive",
    (ctx, call, args, nodes) => {
      arity(ctx, call, "lastToArrive", args, 2);
      const at = args[0].type;
      if (at.kind !== "ref" || at.space !== "global" || at.elem !== "i32") ctx.fail("type-mismatch", nodes[0], `lastToArrive() counts in an i32 tensor location, got ${describe(at)}`, "pass counters.ref(...) of an Out<\"i32\", ...> tensor");
      return { type: scalar("bool"), args: [args[0], coerce(ctx, nodes[1], args[1], "i32", "lastToArrive() total")] };
    },
    "lastConsumersToArrive",
  ),
  producerWarps: (ctx, call, args) => {
    arity(ctx, call, "producerWarps", args, 0);
    if (ctx.producerWarps === 0) ctx.fail("bad-spec", call, "producerWarps() in a kernel without producer warps", "add producerWarps to the kernel's spec");
    return { type: scalar("i32"), args, value: ctx.producerWarps };
  },
  setMaxRegisters: (ctx, call, args, nodes) => {
    arity(ctx, call, "setMaxRegisters", args, 1);
    const count = constInt(ctx, nodes[0], args[0], "setMaxRegisters() count");
    if (ctx.role === "all") return ctx.fail("unsupported-syntax", call, "setMaxRegisters() outside a role branch", "call it first thing in the producer's or the consumers' branch of if (isProducer())");
    if (count < 24 || count > 256 || count % 8 !== 0) ctx.fail("shape-mismatch", nodes[0], `setMaxRegisters() count must be a multiple of 8 from 24 to 256, got ${count}`, "e.g. 40 for a producer, 232 for consumers");
    const warps = ctx.role === "producer" ? ctx.producerWarps : ctx.schedule.threads / 32;
    if (warps % 4 !== 0) ctx.fail("schedule-limit", call, `setMaxRegisters() in the ${ctx.role === "producer" ? "producer" : "consumer"} role of ${warps} warps`, "registers are reallocated per warp group: give the role a multiple of 4 warps");
    ctx.roleRegisters[ctx.role] = count;
    // Below the registers the launch gives each thread, the role gives some back (dec); above, it takes more (inc).
    const launched = launchRegisters(ctx.launchThreads / 32);
    const direction: Expr = { k: "lit", type: scalar("bool"), level: "const", value: count > launched, pos: args[0].pos };
    return { type: VOID, args: [args[0], direction] };
  },
  asyncArrive: (ctx, call, args, nodes) => {
    arity(ctx, call, "asyncArrive", args, 1);
    ctx.barrierSignals.add(barrierOf(ctx, nodes[0], args[0], "asyncArrive() argument"));
    return { type: VOID, args };
  },
  mma: (ctx, call, args, nodes) => {
    arity(ctx, call, "mma", args, 4);
    const shape = (i: number, elem: string, n: number, what: string) => {
      const t = args[i].type;
      if (t.kind !== "regs" || t.dims.length !== 1 || t.dims[0] !== n || t.elem !== elem) {
        ctx.fail("shape-mismatch", nodes[i], `mma() ${what} must be a register array ${elem}[${n}], got ${describe(t)}`, `declare it with regs("${elem}", [${n}]) (or index a larger one down to that row)`);
      }
    };
    shape(0, "f32", 4, "accumulator");
    shape(1, "u32", 4, "A fragment");
    shape(2, "u32", 2, "B fragment");
    halfType(ctx, nodes[3], args[3], "mma()");
    return { type: VOID, args };
  },
  loadMatrix: (ctx, call, args, nodes) => {
    arity(ctx, call, "loadMatrix", args, 3);
    const t = args[0].type;
    if (t.kind !== "regs" || t.dims.length !== 1 || t.elem !== "u32" || (t.dims[0] !== 2 && t.dims[0] !== 4)) {
      ctx.fail("shape-mismatch", nodes[0], `loadMatrix() fills a register array u32[2] or u32[4] (one register per 8 x 8 matrix), got ${describe(t)}`, 'declare it with regs("u32", [4])');
    }
    const src = args[1].type;
    // 8-bit elements (FP8 rows) are read as pairs: each 16-bit element of the matrix is two of them.
    if (src.kind !== "ref" || src.space !== "shared" || STORAGE_BYTES[src.elem] > 2) ctx.fail("type-mismatch", nodes[1], `loadMatrix() reads 16-bit elements (or pairs of 8-bit ones) in shared memory, got ${describe(src)}`, "write sharedArray.ref(...) of a bf16, fp16, e4m3 or e5m2 array");
    if (args[2].level !== "const" || typeof args[2].value !== "boolean") ctx.fail("not-compile-time", nodes[2], "loadMatrix()'s transpose flag must be a literal", "write true or false");
    return { type: VOID, args };
  },
  widenFp8: (ctx, call, args, nodes) => {
    arity(ctx, call, "widenFp8", args, 4);
    const t = args[0].type;
    if (t.kind !== "regs" || t.dims.length !== 1 || t.elem !== "u32" || t.dims[0] !== 2) {
      ctx.fail("shape-mismatch", nodes[0], `widenFp8() fills a register array u32[2] (two fp16 pairs), got ${describe(t)}`, 'declare it with regs("u32", [2])');
    }
    const format = args[2];
    if (format.k !== "string" || !isFp8(format.text)) ctx.fail("type-mismatch", nodes[2], `widenFp8()'s format must be a constant naming e4m3 or e5m2, got ${nodes[2].getText()}`, "pass c.kv (in an FP8 variant)");
    if (args[3].level !== "const" || typeof args[3].value !== "boolean") ctx.fail("not-compile-time", nodes[3], "widenFp8()'s transposed flag must be a literal", "write true or false");
    return { type: VOID, args: [args[0], coerce(ctx, nodes[1], args[1], "u32", "widenFp8() word"), args[2], args[3]] };
  },
  transposeMatrix: (ctx, call, args, nodes) => {
    arity(ctx, call, "transposeMatrix", args, 1);
    return { type: scalar("u32"), args: [coerce(ctx, nodes[0], args[0], "u32", "transposeMatrix() word")] };
  },
  pack2: (ctx, call, args, nodes) => {
    arity(ctx, call, "pack2", args, 3);
    halfType(ctx, nodes[2], args[2], "pack2()");
    return { type: scalar("u32"), args: [coerce(ctx, nodes[0], args[0], "f32", "pack2() x"), coerce(ctx, nodes[1], args[1], "f32", "pack2() y"), args[2]] };
  },
  loadBits: (ctx, call, args, nodes) => {
    arity(ctx, call, "loadBits", args, 1);
    const t = args[0].type;
    if (t.kind !== "ref" || STORAGE_BYTES[t.elem] !== 2) ctx.fail("type-mismatch", nodes[0], `loadBits() reads two 16-bit elements, got ${describe(t)}`, "pass tensor.ref(...) of a bf16 or fp16 tensor at an even index");
    return { type: scalar("u32"), args };
  },
  peek: (ctx, call, args, nodes) => {
    arity(ctx, call, "peek", args, 1);
    const t = args[0].type;
    if (t.kind !== "ref" || t.space !== "global" || t.elem !== "i32") ctx.fail("type-mismatch", nodes[0], `peek() reads an i32 in device memory, got ${describe(t)}`, "pass tensor.ref(...) of an i32 tensor, e.g. peek(indices.ref(b, 0, i))");
    return { type: scalar("i32"), args };
  },
  arrive: (ctx, call, args, nodes) => {
    arity(ctx, call, "arrive", args, 1);
    ctx.barrierSignals.add(barrierOf(ctx, nodes[0], args[0], "arrive() argument"));
    return { type: VOID, args };
  },
  waitBarrier: (ctx, call, args, nodes) => {
    arity(ctx, call, "waitBarrier", args, 2);
    ctx.barrierWaits.push({ name: barrierOf(ctx, nodes[0], args[0], "waitBarrier() barrier"), node: call });
    return { type: VOID, args: [args[0], coerce(ctx, nodes[1], args[1], "i32", "waitBarrier() parity")] };
  },
  bulkCopy: (ctx, call, args, nodes) => {
    arity(ctx, call, "bulkCopy", args, 4);
    const [dt, st] = [args[0].type, args[1].type];
    if (dt.kind !== "ref" || dt.space !== "shared") return ctx.fail("type-mismatch", nodes[0], `bulkCopy() destination must be a shared-memory location, got ${describe(dt)}`, "write sharedArray.ref(...)");
    if (st.kind !== "ref" || st.space !== "global") return ctx.fail("type-mismatch", nodes[1], `bulkCopy() source must be a tensor location, got ${describe(st)}`, "write tensor.ref(...)");
    if (dt.elem !== st.elem) ctx.fail("type-mismatch", call, `bulkCopy() copies ${st.elem} into ${dt.elem}`, "copies do not convert: use the same element type on both sides");
    // The count's compile-time factor: the count itself, or ROW of a run-time n * ROW.
    const n = coerce(ctx, nodes[2], args[2], "i32", "bulkCopy() count");
    const factor = typeof n.value === "number" ? n.value : n.k === "binary" && n.op === "*" ? [n.l, n.r].find((x) => typeof x.value === "number")?.value : undefined;
    if (typeof factor !== "number") ctx.fail("not-compile-time", nodes[2], "bulkCopy() count must be known at compile time, or be n * ROW with ROW known", "write rows * c.D, so that the copy is a whole number of rows");
    const bytes = (factor as number) * STORAGE_BYTES[st.elem];
    if (bytes < 16 || bytes % 16 !== 0) ctx.fail("shape-mismatch", nodes[2], `bulkCopy() moves a multiple of 16 bytes, got ${typeof n.value === "number" ? "" : "n x "}${factor} x ${st.elem} = ${bytes} bytes`, "copy whole rows whose size is a multiple of 16 bytes (8 bf16 elements)");
    ctx.barrierSignals.add(barrierOf(ctx, nodes[3], args[3], "bulkCopy() barrier"));
    return { type: VOID, args: [args[0], args[1], n, args[3]] };
  },
  waitForPrecedingGrid: noArgs("waitForPrecedingGrid", VOID),
  allowDependentGrid: noArgs("allowDependentGrid", VOID),
  asyncCommit: noArgs("asyncCommit", VOID),
  asyncWait: (ctx, call, args, nodes) => {
    arity(ctx, call, "asyncWait", args, 1);
    constInt(ctx, nodes[0], args[0], "asyncWait() pending count");
    return { type: VOID, args };
  },
  loadVec: (ctx, call, args, nodes) => {
    arity(ctx, call, "loadVec", args, 2);
    registerLength(ctx, nodes[0], args[0], "loadVec() destination");
    if (args[1].type.kind !== "ref") ctx.fail("type-mismatch", nodes[1], `loadVec() source must be a location (t.ref(...)), got ${describe(args[1].type)}`, "write loadVec(dst, tensor.ref(i, j, k))");
    return { type: VOID, args };
  },
  storeVec: (ctx, call, args, nodes) => {
    arity(ctx, call, "storeVec", args, 2);
    if (args[0].type.kind !== "ref") ctx.fail("type-mismatch", nodes[0], `storeVec() destination must be a location (t.ref(...)), got ${describe(args[0].type)}`, "write storeVec(tensor.ref(i, j, k), src)");
    registerLength(ctx, nodes[1], args[1], "storeVec() source");
    return { type: VOID, args };
  },
  copyVec: (ctx, call, args, nodes) => {
    arity(ctx, call, "copyVec", args, 3);
    const [dt, st] = [args[0].type, args[1].type];
    if (dt.kind !== "ref" || st.kind !== "ref") return ctx.fail("type-mismatch", call, "copyVec() copies between two locations (x.ref(...))", "write copyVec(dst.ref(...), src.ref(...), count)");
    if (dt.elem !== st.elem) ctx.fail("type-mismatch", call, `copyVec() copies ${st.elem} into ${dt.elem}`, "copies do not convert: use the same element type on both sides");
    const count = constInt(ctx, nodes[2], args[2], "copyVec() count");
    if (count * STORAGE_BYTES[st.elem] !== 16) ctx.fail("shape-mismatch", nodes[2], `copyVec() moves 16 bytes, got ${count} x ${st.elem}`, "copy 16 bytes at a time");
    return { type: VOID, args };
  },
  asyncCopy: (ctx, call, args, nodes) => {
    arity(ctx, call, "asyncCopy", args, 4);
    const [dst, src] = args;
    const dt = dst.type;
    const st = src.type;
    if (dt.kind !== "ref" || dt.space !== "shared") return ctx.fail("type-mismatch", nodes[0], `asyncCopy() destination must be a shared-memory location, got ${describe(dt)}`, "write sharedArray.ref(...)");
    if (st.kind !== "ref" || st.space !== "global") return ctx.fail("type-mismatch", nodes[1], `asyncCopy() source must be a tensor location, got ${describe(st)}`, "write tensor.ref(...)");
    if (dt.elem !== st.elem) ctx.fail("type-mismatch", call, `asyncCopy() copies ${st.elem} into ${dt.elem}`, "copies do not convert: use the same element type on both sides");
    const count = constInt(ctx, nodes[2], args[2], "asyncCopy() count");
    const bytes = count * STORAGE_BYTES[st.elem];
    if (bytes !== 4 && bytes !== 8 && bytes !== 16) ctx.fail("shape-mismatch", nodes[2], `asyncCopy() moves 4, 8 or 16 bytes, got ${count} x ${st.elem} = ${bytes} bytes`, "split the copy into 16-byte pieces");
    const valid = coerce(ctx, nodes[3], args[3], "bool", "asyncCopy() valid flag");
    return { type: VOID, args: [dst, src, args[2], valid] };
  },
};

/** Primitives handled as special forms by the elaborators (their arguments are read as written). */
export const SPECIAL_FORMS = ["regs", "shared", "barriers", "sizeof", "unroll", "range", "present", "raise"] as const;

/** Builtin objects with properties. */
export const BUILTIN_OBJECTS: Readonly<Record<string, readonly string[]>> = {
  blockIdx: ["x", "y", "z"],
  threadIdx: ["x"],
};
