// Type rules shared by expressions and primitives: literal adaptation, unification, compile-time folding.

import type { Node } from "ts-morph";
import type { Context } from "./context.js";
import { scalar, type BinaryOp, type Expr, type Level, type ScalarType, type StorageType, type Type } from "./ir.js";

export function describe(t: Type): string {
  switch (t.kind) {
    case "scalar":
      return t.t;
    case "intlit":
      return "integer literal";
    case "regs":
      return `register array ${t.elem}[${t.dims.join("][")}]`;
    case "shared":
      return `shared array ${t.elem}[${t.dims.join("][")}]`;
    case "tensor":
      return `tensor ${t.param.name}: ${t.param.elem}[${t.param.dimNames.join(", ")}]`;
    case "ref":
      return `${t.space === "peer" ? "peer block's shared" : t.space} location of ${t.elem}`;
    case "barriers":
      return `barrier array ${t.name}[${t.count}]`;
    case "barrier":
      return `barrier of ${t.name}`;
    case "lambda":
      return `function (${t.params.join(", ")}) => ${t.ret}`;
    default:
      return t.kind;
  }
}

export function isScalar(e: Expr, t?: ScalarType): boolean {
  return (e.type.kind === "scalar" && (t === undefined || e.type.t === t)) || (e.type.kind === "intlit" && t !== "bool");
}

/** The value type a storage element has in registers. */
export function valueTypeOf(elem: StorageType): ScalarType {
  return elem === "i32" ? "i32" : elem === "u32" ? "u32" : "f32";
}

export function maxLevel(...levels: Level[]): Level {
  if (levels.includes("runtime")) return "runtime";
  if (levels.includes("unrolled")) return "unrolled";
  return "const";
}

/** Gives an expression the scalar type `t`: integer literals adapt; anything else must already be `t`. */
export function coerce(ctx: Context, node: Node, e: Expr, t: ScalarType, what: string): Expr {
  if (e.type.kind === "intlit") {
    if (t === "bool") ctx.fail("type-mismatch", node, `${what}: expected bool, got an integer literal`, "write true or false, or a comparison");
    return retype(ctx, node, e, t, what);
  }
  // A compile-time integer (a constant such as TOPICS = 4) adapts between i32 and u32 like a literal.
  if (isConstInt(e) && (t === "i32" || t === "u32") && (e.type as { t: ScalarType }).t !== t) return retype(ctx, node, e, t, what);
  if (e.type.kind === "scalar" && e.type.t === t) return e;
  return ctx.fail(
    "type-mismatch",
    node,
    `${what}: expected ${t}, got ${describe(e.type)}`,
    t === "bool" ? "use a comparison" : `convert explicitly with ${t}(...)`,
  );
}

/** Gives an expression built only from integer literals the type its context asks for. */
function retype(ctx: Context, node: Node, e: Expr, t: ScalarType, what: string): Expr {
  const v = e.value;
  if (typeof v === "number") {
    if (t === "i32" && (v > 2147483647 || v < -2147483648)) ctx.fail("type-mismatch", node, `${what}: ${v} does not fit in i32`, "use u32(...) or a smaller value");
    if (t === "u32" && (v < 0 || v > 4294967295)) ctx.fail("type-mismatch", node, `${what}: ${v} does not fit in u32`, "use a value in [0, 2^32)");
    // Literal arithmetic is folded here so that e.g. 1 / 2 in an f32 context means 0.5 in the CUDA too.
    return { k: "lit", type: scalar(t), level: "const", value: v, pos: e.pos };
  }
  // A literal choice with a run-time condition: c ? 0x3ff : 0x7ff.
  if (e.k === "cond") return { ...e, a: retype(ctx, node, e.a, t, what), b: retype(ctx, node, e.b, t, what), type: scalar(t) };
  return ctx.fail("type-mismatch", node, `${what}: cannot give this literal expression the type ${t}`, `convert explicitly with ${t}(...)`);
}

/** An i32 or u32 whose value is known at compile time. */
function isConstInt(e: Expr): boolean {
  return e.level === "const" && typeof e.value === "number" && e.type.kind === "scalar" && (e.type.t === "i32" || e.type.t === "u32");
}

/**
 * The common scalar type of two operands: integer literals and compile-time integers adapt to the other
 * side (two of them are i32).
 */
export function unify(ctx: Context, node: Node, l: Expr, r: Expr, op: string): ScalarType {
  const flexible = (e: Expr, other: Expr) => e.type.kind === "intlit" || (isConstInt(e) && other.type.kind === "scalar" && (other.type.t === "i32" || other.type.t === "u32") && !isConstInt(other));
  const lt = flexible(l, r) ? undefined : l.type.kind === "scalar" ? l.type.t : null;
  const rt = flexible(r, l) ? undefined : r.type.kind === "scalar" ? r.type.t : null;
  if (lt === null || rt === null) {
    const bad = lt === null ? l : r;
    return ctx.fail("type-mismatch", node, `operator '${op}' needs scalar operands, got ${describe(bad.type)}`, "index arrays down to one element first");
  }
  if (lt === undefined && rt === undefined) return "i32";
  if (lt === undefined) return rt as ScalarType;
  if (rt === undefined || lt === rt) return lt;
  return ctx.fail(
    "type-mismatch",
    node,
    `operator '${op}' mixes ${lt} and ${rt}`,
    `convert one side explicitly, e.g. ${lt === "f32" || rt === "f32" ? "f32(x)" : "i32(x) or u32(x)"}`,
  );
}

const wrapI32 = (v: number): number => v | 0;
const wrapU32 = (v: number): number => v >>> 0;

/** Folds an integer or boolean binary operation with C semantics; undefined when it cannot be folded. */
export function foldBinary(op: BinaryOp, t: ScalarType, a: number | boolean, b: number | boolean): number | boolean | undefined {
  if (t === "f32") return undefined;
  if (t === "bool") {
    if (op === "&&") return (a as boolean) && (b as boolean);
    if (op === "||") return (a as boolean) || (b as boolean);
    if (op === "==") return a === b;
    if (op === "!=") return a !== b;
    return undefined;
  }
  const x = a as number;
  const y = b as number;
  const wrap = t === "u32" ? wrapU32 : wrapI32;
  switch (op) {
    case "+": return wrap(x + y);
    case "-": return wrap(x - y);
    case "*": return wrap(Math.imul(x, y));
    case "/": return y === 0 ? undefined : wrap(Math.trunc(x / y));
    case "%": return y === 0 ? undefined : wrap(x % y);
    case "&": return wrap(x & y);
    case "|": return wrap(x | y);
    case "^": return wrap(x ^ y);
    case "<<": return wrap(x << y);
    case ">>": return t === "u32" ? wrapU32(x >>> y) : x >> y;
    case "<": return x < y;
    case "<=": return x <= y;
    case ">": return x > y;
    case ">=": return x >= y;
    case "==": return x === y;
    case "!=": return x !== y;
    default: return undefined;
  }
}
