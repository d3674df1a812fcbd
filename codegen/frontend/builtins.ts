// Typing rules of the primitives whose arguments are ordinary expressions. The special forms whose
// arguments are read as written (regs, shared, sizeof, unroll, range, present, raise) live in the
// expression and statement elaborators. The lowering of each name is in codegen/lower/primitives.ts.

import type { Node } from "ts-morph";
import type { Context } from "./context.js";
import { scalar, STORAGE_BYTES, VOID, type Expr, type ScalarType, type Type } from "./ir.js";
import { coerce, describe, isScalar, unify, valueTypeOf } from "./typing.js";

export interface BuiltinResult {
  readonly type: Type;
  readonly args: readonly Expr[];
  readonly value?: number | boolean;
}

type Rule = (ctx: Context, call: Node, args: readonly Expr[], argNodes: readonly Node[]) => BuiltinResult;

function arity(ctx: Context, call: Node, name: string, args: readonly Expr[], n: number): void {
  if (args.length !== n) ctx.fail("type-mismatch", call, `${name}() takes ${n} argument${n === 1 ? "" : "s"}, got ${args.length}`, `see dsl/lang/builtins.ts for ${name}'s signature`);
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
  arity(ctx, call, name, args, 2);
  const width = constInt(ctx, nodes[1], args[1], `${name}() width`);
  if (width < 1 || width > 32 || (width & (width - 1)) !== 0) {
    ctx.fail("shape-mismatch", nodes[1], `${name}() width must be a power of two from 1 to 32, got ${width}`, "lane groups are aligned parts of one warp");
  }
  return { type: scalar("f32"), args: [coerce(ctx, nodes[0], args[0], "f32", `${name}() value`), args[1]] };
};

const noArgs = (name: string, type: Type): Rule => (ctx, call, args) => {
  arity(ctx, call, name, args, 0);
  return { type, args };
};

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
  popcount: (ctx, call, args, nodes) => {
    arity(ctx, call, "popcount", args, 1);
    return { type: scalar("i32"), args: [coerce(ctx, nodes[0], args[0], "u32", "popcount() argument")] };
  },
  nthSetBit: (ctx, call, args, nodes) => {
    arity(ctx, call, "nthSetBit", args, 2);
    return { type: scalar("i32"), args: [coerce(ctx, nodes[0], args[0], "u32", "nthSetBit() bits"), coerce(ctx, nodes[1], args[1], "i32", "nthSetBit() n")] };
  },
  blockExclusiveSum: (ctx, call, args, nodes) => {
    arity(ctx, call, "blockExclusiveSum", args, 2);
    const out = args[1].type;
    if (out.kind !== "regs" || out.elem !== "i32" || out.dims.length !== 1 || out.dims[0] !== 2) {
      ctx.fail("shape-mismatch", nodes[1], `blockExclusiveSum() writes into an i32 register array of 2, got ${describe(out)}`, 'declare it as regs("i32", [2])');
    }
    return { type: VOID, args: [coerce(ctx, nodes[0], args[0], "i32", "blockExclusiveSum() value"), args[1]] };
  },
  blockSum: (ctx, call, args, nodes) => {
    arity(ctx, call, "blockSum", args, 1);
    return { type: scalar("f32"), args: [coerce(ctx, nodes[0], args[0], "f32", "blockSum() value")] };
  },
  blockSortDescending: (ctx, call, args, nodes) => {
    arity(ctx, call, "blockSortDescending", args, 2);
    const n = registerLength(ctx, nodes[0], args[0], "blockSortDescending() keys");
    const m = registerLength(ctx, nodes[1], args[1], "blockSortDescending() values");
    if (n !== m) ctx.fail("shape-mismatch", call, `blockSortDescending() has ${n} keys and ${m} values per thread`, "give every key a value");
    if ((args[0].type as { elem: string }).elem !== "u32" || (args[1].type as { elem: string }).elem !== "i32") {
      ctx.fail("type-mismatch", call, "blockSortDescending() sorts u32 keys carrying i32 values", 'declare regs("u32", [n]) and regs("i32", [n])');
    }
    return { type: VOID, args };
  },
  syncthreads: noArgs("syncthreads", VOID),
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
export const SPECIAL_FORMS = ["regs", "shared", "sizeof", "unroll", "range", "present", "raise"] as const;

/** Builtin objects with properties. */
export const BUILTIN_OBJECTS: Readonly<Record<string, readonly string[]>> = {
  blockIdx: ["x", "y", "z"],
  threadIdx: ["x"],
};
