// Expressions of a kernel body: from the ts-morph AST to typed IR, with compile-time folding.

import { Node, SyntaxKind, type CallExpression, type Expression, type FunctionDeclaration } from "ts-morph";
import { BUILTIN_OBJECTS, BUILTINS, SPECIAL_FORMS } from "./builtins.js";
import { Context, type Sym } from "./context.js";
import { posOf } from "./diagnostics.js";
import { Statements } from "./statements.js";
import { isNarrowFloat, isOptional, isStorageType, isWritable, scalar, STORAGE_BYTES, type BinaryOp, type Expr, type Stmt, type Level, type ScalarType, type StorageType, type TensorParam, type Type } from "./ir.js";
import { coerce, describe, foldBinary, isScalar, maxLevel, unify, valueTypeOf } from "./typing.js";

const BINARY_OPS: Readonly<Record<string, BinaryOp>> = {
  "+": "+", "-": "-", "*": "*", "/": "/", "%": "%",
  "<": "<", "<=": "<=", ">": ">", ">=": ">=",
  "===": "==", "!==": "!=", "==": "==", "!=": "!=",
  "&&": "&&", "||": "||", "&": "&", "|": "|", "^": "^", "<<": "<<", ">>": ">>",
};

/**
 * The addressing methods of a cache tensor (one declared with a layout): their arguments and result.
 * page(request, position) is the page holding the row (a paged cache's block table entry, -1 when the table
 * names no page of the pool there; a contiguous cache is one page per request), and pageRef(page, head,
 * position, d) the element's location in it: a kernel that reads a row for K and V looks its page up once.
 * pageEntry() and checkedPage() are page() in two steps, for rows looked up ahead: the table entry loaded
 * unchecked (from an address kept inside the table), then checked where it is used (page() checks at once,
 * which waits for the load there). stageRow(slot, page, position) writes the row's address at head 0 into a
 * slot of shared memory (two u32 words), and stagedRef(low, high, head, d) adds head and element to the
 * address those two words hold: one thread pays a row's multiplies, not every thread copying a piece of it.
 * The words come as values, not as the slot, so that a thread reads the words of several rows into
 * registers before any of their copies (ptxas does not move a shared load above an earlier asynchronous
 * copy, which writes shared memory: reading each row's words at its copy made them wait one after another).
 * prefetchRow(request, head, position, elements) warms the L2 with a row before the kernel may read it
 * (before waitForPrecedingGrid): a paged cache peeks its table for the page.
 */
const CACHE_METHODS: Readonly<Record<string, { readonly args: readonly string[]; readonly result: "i32" | "ref" | "void" }>> = {
  page: { args: ["request", "position"], result: "i32" },
  pageEntry: { args: ["request", "position"], result: "i32" },
  checkedPage: { args: ["request", "position", "entry"], result: "i32" },
  pageRef: { args: ["page", "head", "position", "element"], result: "ref" },
  stageRow: { args: ["slot", "page", "position"], result: "void" },
  stagedRef: { args: ["low", "high", "head", "element"], result: "ref" },
  prefetchRow: { args: ["request", "head", "position", "elements"], result: "void" },
};

export class Expressions {
  constructor(private readonly ctx: Context) {}

  private pos(node: Node) {
    return posOf(node, this.ctx.file);
  }

  /** Elaborates an expression that must produce a value (scalar, array, location or string). */
  expr(node: Expression): Expr {
    const ctx = this.ctx;
    const pos = this.pos(node);
    if (Node.isParenthesizedExpression(node)) return this.expr(node.getExpression());
    if (Node.isNumericLiteral(node)) return this.number(node);
    if (Node.isTrueLiteral(node) || Node.isFalseLiteral(node)) {
      return { k: "lit", type: scalar("bool"), level: "const", value: Node.isTrueLiteral(node), pos };
    }
    if (Node.isStringLiteral(node)) return { k: "string", type: { kind: "string" }, level: "const", text: node.getLiteralValue(), pos };
    if (Node.isIdentifier(node)) return this.identifier(node);
    if (Node.isPropertyAccessExpression(node)) return this.property(node);
    if (Node.isElementAccessExpression(node)) return this.element(node);
    if (Node.isPrefixUnaryExpression(node)) return this.prefix(node);
    if (Node.isBinaryExpression(node)) return this.binary(node);
    if (Node.isConditionalExpression(node)) return this.conditional(node);
    if (Node.isCallExpression(node)) return this.call(node);
    return ctx.fail(
      "unsupported-syntax",
      node,
      `${node.getKindName()} is not part of the kernel language`,
      "kernel bodies use numbers, variables, operators, calls of primitives, and array or tensor indexing",
    );
  }

  /** Elaborates an expression that must be a scalar of type `t` (integer literals adapt). */
  scalarOf(node: Expression, t: ScalarType, what: string): Expr {
    return coerce(this.ctx, node, this.expr(node), t, what);
  }

  private number(node: Node & { getLiteralText(): string }): Expr {
    const text = node.getText();
    const pos = this.pos(node);
    // The compiler's normalised text ("1e+30", "16" for 0x10); ts-morph's getLiteralValue misreads exponents.
    const value = Number(node.getLiteralText());
    const isFloat = !/^0[xXbBoO]/.test(text) && /[.eE]/.test(text);
    if (isFloat) return { k: "lit", type: scalar("f32"), level: "const", value, pos };
    return { k: "lit", type: { kind: "intlit" }, level: "const", value, pos };
  }

  private identifier(node: Node): Expr {
    const ctx = this.ctx;
    const name = node.getText();
    const pos = this.pos(node);
    if (name === "Infinity") return { k: "lit", type: scalar("f32"), level: "const", value: Infinity, pos };
    if (name === "NaN") return { k: "lit", type: scalar("f32"), level: "const", value: NaN, pos };
    const sym = ctx.lookup(name);
    if (!sym) {
      const hint = name in BUILTINS || (SPECIAL_FORMS as readonly string[]).includes(name) ? `${name} is a primitive: call it` : "declare it with const or let before use";
      return ctx.fail("unknown-name", node, `unknown name '${name}'`, hint);
    }
    return this.symbolExpr(node, sym);
  }

  private symbolExpr(node: Node, sym: Sym): Expr {
    const pos = this.pos(node);
    switch (sym.s) {
      case "var":
        return { k: "named", cname: sym.cname, type: scalar(sym.t), level: sym.level, value: sym.value, pos };
      case "regs":
        return { k: "named", cname: sym.cname, type: { kind: "regs", elem: sym.elem, dims: sym.dims }, level: "runtime", pos };
      case "shared":
        return { k: "named", cname: sym.cname, type: { kind: "shared", elem: sym.elem, dims: sym.dims }, level: "runtime", pos };
      case "barriers":
        return { k: "named", cname: sym.cname, type: { kind: "barriers", name: sym.cname, count: sym.count }, level: "runtime", pos };
      case "tensor":
        return { k: "named", cname: sym.param.name, type: { kind: "tensor", param: sym.param }, level: "runtime", pos };
      case "word":
        return { k: "string", type: { kind: "string" }, level: "const", text: sym.text, pos };
      case "lambda":
        return this.ctx.fail("type-mismatch", node, `'${sym.cname}' is a function: call it`, `write ${sym.cname}(...)`);
      default:
        return this.ctx.fail("type-mismatch", node, `'${node.getText()}' holds the ${sym.s}: read one of its fields`, sym.s === "constants" ? "e.g. c.D" : "e.g. s.threads");
    }
  }

  private property(node: Node & { getExpression(): Expression; getName(): string }): Expr {
    const ctx = this.ctx;
    const pos = this.pos(node);
    const base = node.getExpression();
    const field = node.getName();
    if (Node.isIdentifier(base)) {
      const name = base.getText();
      const sym = ctx.lookup(name);
      if (sym?.s === "constants") {
        if (!(field in ctx.constants)) ctx.fail("unknown-name", node, `no constant '${field}' in this kernel`, `constants are: ${Object.keys(ctx.constants).join(", ")}`);
        const v = ctx.constants[field];
        if (typeof v === "string") return { k: "string", type: { kind: "string" }, level: "const", text: v, pos };
        return { k: "named", cname: `c::${field}`, type: scalar("i32"), level: "const", value: v, pos };
      }
      if (sym?.s === "schedule") {
        if (!(field in ctx.schedule)) ctx.fail("unknown-name", node, `no schedule knob '${field}' in this kernel`, `knobs are: ${Object.keys(ctx.schedule).join(", ")}`);
        return { k: "named", cname: `s::${field}`, type: scalar("i32"), level: "const", value: ctx.schedule[field], pos };
      }
      if (!sym && name in BUILTIN_OBJECTS) {
        if (!BUILTIN_OBJECTS[name].includes(field)) {
          ctx.fail("unknown-name", node, `${name} has no field '${field}'`, `fields: ${BUILTIN_OBJECTS[name].join(", ")}${name === "threadIdx" ? " (blocks are one-dimensional)" : ""}`);
        }
        return { k: "named", cname: `static_cast<int>(${name}.${field})`, type: scalar("i32"), level: "runtime", pos };
      }
    }
    return ctx.fail("unsupported-syntax", node, `property '${field}' of ${base.getText()} is not part of the kernel language`, "only c.<constant>, s.<knob>, blockIdx.x/y/z and threadIdx.x are fields; tensors have methods");
  }

  private element(node: Node): Expr {
    const ctx = this.ctx;
    // Collect a[i][j][k] from the inside out.
    const indexNodes: Expression[] = [];
    let cur: Node = node;
    while (Node.isElementAccessExpression(cur)) {
      indexNodes.unshift(cur.getArgumentExpressionOrThrow());
      cur = cur.getExpression();
    }
    const base = this.expr(cur as Expression);
    const t = base.type;
    if (t.kind === "barriers") {
      if (indexNodes.length !== 1) ctx.fail("shape-mismatch", node, `barrier array '${cur.getText()}' is indexed with one index, got ${indexNodes.length}`, "write bars[stage]");
      const i = this.scalarOf(indexNodes[0], "i32", "barrier index");
      if (typeof i.value === "number" && (i.value < 0 || i.value >= t.count)) ctx.fail("shape-mismatch", indexNodes[0], `barrier ${i.value} is out of bounds: '${cur.getText()}' has ${t.count}`, "indices run from 0 to count - 1");
      return { k: "index", base, indices: [i], type: { kind: "barrier", name: t.name }, level: "runtime", pos: this.pos(node) };
    }
    if (t.kind !== "regs" && t.kind !== "shared") {
      return ctx.fail("type-mismatch", node, `only register and shared arrays are indexed with [], not ${describe(t)}`, "read tensors with t.at(i, j, ...)");
    }
    if (indexNodes.length > t.dims.length) {
      ctx.fail("shape-mismatch", node, `${cur.getText()} has ${t.dims.length} dimension${t.dims.length === 1 ? "" : "s"} [${t.dims.join("][")}], indexed with ${indexNodes.length}`, "use one index per dimension");
    }
    const indices = indexNodes.map((n, i) => {
      const e = this.scalarOf(n, "i32", "array index");
      if (t.kind === "regs" && e.level === "runtime") {
        ctx.fail("not-compile-time", n, `register array '${cur.getText()}' indexed with a run-time value`, "registers cannot be indexed at run time (the array would move to slow local memory): index with unroll() loop variables and constants");
      }
      if (typeof e.value === "number" && (e.value < 0 || e.value >= t.dims[i])) {
        ctx.fail("shape-mismatch", n, `index ${e.value} is out of bounds for dimension ${i} of size ${t.dims[i]}`, "indices run from 0 to size - 1");
      }
      return e;
    });
    const rest = t.dims.slice(indices.length);
    const pos = this.pos(node);
    const level = maxLevel(...indices.map((e) => e.level));
    if (rest.length > 0) {
      if (t.kind === "shared") return ctx.fail("shape-mismatch", node, `shared array indexed with ${indices.length} of its ${t.dims.length} indices`, "index to one element, or take a location with .ref(...)");
      return { k: "index", base, indices, type: { kind: "regs", elem: t.elem, dims: rest }, level, pos };
    }
    const elemType: ScalarType = t.kind === "regs" ? t.elem : valueTypeOf(t.elem);
    return { k: "index", base, indices, type: scalar(elemType), level: "runtime", pos };
  }

  private prefix(node: Node & { getOperatorToken(): SyntaxKind; getOperand(): Expression }): Expr {
    const ctx = this.ctx;
    const op = node.getOperatorToken();
    const e = this.expr(node.getOperand());
    const pos = this.pos(node);
    if (op === SyntaxKind.MinusToken) {
      if (!isScalar(e) || (e.type.kind === "scalar" && e.type.t === "bool")) ctx.fail("type-mismatch", node, `unary '-' needs a number, got ${describe(e.type)}`, "negate numbers only");
      if (e.k === "lit" && typeof e.value === "number") return { ...e, value: -e.value, pos };
      const isInt = e.type.kind === "intlit" || (e.type.kind === "scalar" && e.type.t === "i32");
      const value = typeof e.value === "number" && isInt ? -e.value | 0 : undefined;
      return { k: "unary", op: "-", e, type: e.type, level: e.level, value, pos };
    }
    if (op === SyntaxKind.ExclamationToken) {
      const b = coerce(ctx, node, e, "bool", "operand of '!'");
      return { k: "unary", op: "!", e: b, type: scalar("bool"), level: b.level, value: typeof b.value === "boolean" ? !b.value : undefined, pos };
    }
    if (op === SyntaxKind.TildeToken) {
      const t = unify(ctx, node, e, e, "~");
      if (t !== "i32" && t !== "u32") ctx.fail("type-mismatch", node, `'~' needs an integer, got ${t}`, "bit operations work on i32 and u32");
      const ce = coerce(ctx, node, e, t, "operand of '~'");
      const value = typeof ce.value === "number" ? (t === "u32" ? ~ce.value >>> 0 : ~ce.value) : undefined;
      return { k: "unary", op: "~", e: ce, type: scalar(t), level: ce.level, value, pos };
    }
    if (op === SyntaxKind.PlusToken) return e;
    return ctx.fail("unsupported-syntax", node, `'${node.getText()}' changes a variable inside an expression`, "write the increment as its own statement");
  }

  private binary(node: Node & { getLeft(): Expression; getRight(): Expression; getOperatorToken(): Node }): Expr {
    const ctx = this.ctx;
    const opText = node.getOperatorToken().getText();
    const op = BINARY_OPS[opText];
    if (!op) {
      return ctx.fail("unsupported-syntax", node, `operator '${opText}' cannot appear inside an expression`, opText.endsWith("=") ? "assignments are statements of their own" : "see the kernel language's operators in dsl/lang/types.ts");
    }
    const l = this.expr(node.getLeft());
    const r = this.expr(node.getRight());
    const pos = this.pos(node);
    if (l.k === "string" || r.k === "string") {
      if ((op === "==" || op === "!=") && l.k === "string" && r.k === "string") {
        const eq = l.text === r.text;
        return { k: "lit", type: scalar("bool"), level: "const", value: op === "==" ? eq : !eq, pos };
      }
      return ctx.fail("type-mismatch", node, `operator '${opText}' on a string`, "strings (element type names) can only be compared with == and !=");
    }
    if (op === "&&" || op === "||") {
      const a = coerce(ctx, node.getLeft(), l, "bool", `left operand of '${opText}'`);
      const b = coerce(ctx, node.getRight(), r, "bool", `right operand of '${opText}'`);
      return this.folded(op, "bool", a, b, scalar("bool"), pos);
    }
    if (op === "<<" || op === ">>") return this.shift(node, op, l, r);
    const t = unify(ctx, node, l, r, opText);
    if (t === "bool" && op !== "==" && op !== "!=") ctx.fail("type-mismatch", node, `operator '${opText}' on booleans`, "use && and || to combine conditions");
    if (t === "f32" && (op === "%" || op === "&" || op === "|" || op === "^")) {
      ctx.fail("type-mismatch", node, `operator '${opText}' needs integers, got f32`, "convert with i32(...) first");
    }
    const a = coerce(ctx, node.getLeft(), l, t, `left operand of '${opText}'`);
    const b = coerce(ctx, node.getRight(), r, t, `right operand of '${opText}'`);
    const comparison = ["<", "<=", ">", ">=", "==", "!="].includes(op);
    const type = comparison ? scalar("bool") : l.type.kind === "intlit" && r.type.kind === "intlit" ? { kind: "intlit" as const } : scalar(t);
    if ((op === "/" || op === "%") && t !== "f32" && b.value === 0) ctx.fail("type-mismatch", node, "integer division by zero", "check the divisor");
    return this.folded(op, t, a, b, type, pos);
  }

  /** Shifts, as in C: the result has the left operand's type; the amount may be any integer. */
  private shift(node: Node, op: "<<" | ">>", l: Expr, r: Expr): Expr {
    const ctx = this.ctx;
    const isInt = (e: Expr) => e.type.kind === "intlit" || (e.type.kind === "scalar" && (e.type.t === "i32" || e.type.t === "u32"));
    if (!isInt(l) || !isInt(r)) ctx.fail("type-mismatch", node, `operator '${op}' needs integers, got ${describe(l.type)} and ${describe(r.type)}`, "shift i32 or u32 values");
    const t: ScalarType = l.type.kind === "scalar" ? l.type.t : r.type.kind === "scalar" ? r.type.t : "i32";
    const a = coerce(ctx, node, l, t, `left operand of '${op}'`);
    const b = r.type.kind === "intlit" ? coerce(ctx, node, r, t, `right operand of '${op}'`) : r;
    const type = l.type.kind === "intlit" && r.type.kind === "intlit" ? ({ kind: "intlit" } as const) : scalar(t);
    return this.folded(op, t, a, b, type, this.pos(node));
  }

  private folded(op: BinaryOp, t: ScalarType, a: Expr, b: Expr, type: Expr["type"], pos: Expr["pos"]): Expr {
    const level = maxLevel(a.level, b.level);
    const value = a.value !== undefined && b.value !== undefined ? foldBinary(op, t, a.value, b.value) : undefined;
    // The structure is kept as written (readable generated code); the value rides along for compile-time uses.
    return { k: "binary", op, l: a, r: b, type, level, value, pos };
  }

  private conditional(node: Node & { getCondition(): Expression; getWhenTrue(): Expression; getWhenFalse(): Expression }): Expr {
    const ctx = this.ctx;
    const c = this.scalarOf(node.getCondition(), "bool", "condition of '?:'");
    const a = this.expr(node.getWhenTrue());
    const b = this.expr(node.getWhenFalse());
    // A compile-time choice between words (c.kv == "e4m3" ? "fp16" : c.dtype) is the chosen word.
    if (a.k === "string" && b.k === "string") {
      if (typeof c.value !== "boolean") ctx.fail("not-compile-time", node.getCondition(), "a choice between words needs a compile-time condition", "compare constants, e.g. c.kv == \"e4m3\"");
      return c.value ? a : b;
    }
    // A choice between two locations of the same kind (a cache row addressed directly or through a staged
    // address) is a location: a primitive that takes one takes either.
    if (a.type.kind === "ref" || b.type.kind === "ref") {
      const same = a.type.kind === "ref" && b.type.kind === "ref" && a.type.space === b.type.space && a.type.elem === b.type.elem;
      if (!same) ctx.fail("type-mismatch", node, `'?:' chooses between ${describe(a.type)} and ${describe(b.type)}`, "both branches must be locations in the same memory with the same element type");
      return { k: "cond", c, a, b, type: a.type, level: "runtime", pos: this.pos(node) };
    }
    const t = unify(ctx, node, a, b, "?:");
    // Two literal branches stay a literal choice whose type the context decides (const m: u32 = c ? 1 : 2).
    const literal = a.type.kind === "intlit" && b.type.kind === "intlit";
    const ca = literal ? a : coerce(ctx, node.getWhenTrue(), a, t, "first branch of '?:'");
    const cb = literal ? b : coerce(ctx, node.getWhenFalse(), b, t, "second branch of '?:'");
    const level = maxLevel(c.level, ca.level, cb.level);
    const value = typeof c.value === "boolean" ? (c.value ? ca.value : cb.value) : undefined;
    return { k: "cond", c, a: ca, b: cb, type: literal ? { kind: "intlit" } : scalar(t), level, value, pos: this.pos(node) };
  }

  /** Resolves an element-type argument: a storage type literal ("f32") or a constant naming one (c.dtype or "dtype"). */
  storageType(node: Expression, what: string): StorageType {
    const ctx = this.ctx;
    let text: string | undefined;
    if (Node.isStringLiteral(node)) {
      text = node.getLiteralValue();
      const v = ctx.constants[text];
      if (typeof v === "string") text = v;
    } else {
      const e = this.expr(node);
      if (e.k === "string") text = e.text;
    }
    if (text === undefined || !isStorageType(text)) {
      return ctx.fail("type-mismatch", node, `${what} must name an element type, got ${node.getText()}`, `use one of ${Object.keys(STORAGE_BYTES).join(", ")}, or a constant holding one (e.g. "dtype")`);
    }
    return text as StorageType;
  }

  /** Calls: primitives, local functions, tensor and shared-array methods. */
  call(node: CallExpression): Expr {
    const ctx = this.ctx;
    const callee = node.getExpression();
    const argNodes = node.getArguments() as Expression[];
    const pos = this.pos(node);
    if (Node.isPropertyAccessExpression(callee)) return this.method(node, callee.getExpression(), callee.getName(), argNodes);
    if (!Node.isIdentifier(callee)) return ctx.fail("unsupported-syntax", callee, "only named functions can be called", "call a primitive or a local function by name");
    const name = callee.getText();
    const sym = ctx.lookup(name);
    if (sym?.s === "lambda") {
      if (argNodes.length !== sym.params.length) ctx.fail("type-mismatch", node, `${name}() takes ${sym.params.length} arguments, got ${argNodes.length}`, "match the function's parameters");
      const args = argNodes.map((a, i) => this.scalarOf(a, sym.params[i], `argument ${i + 1} of ${name}()`));
      return { k: "call", fn: `@${sym.cname}`, args, type: sym.ret === "void" ? { kind: "void" } : scalar(sym.ret), level: "runtime", pos };
    }
    if (sym) return ctx.fail("type-mismatch", callee, `'${name}' is not a function`, "only primitives and local arrow functions can be called");
    const helper = node.getSourceFile().getFunction(name);
    if (helper && !helper.isExported() && !(name in BUILTINS)) {
      const f = this.deviceFunction(helper);
      if (argNodes.length !== f.params.length) ctx.fail("type-mismatch", node, `${name}() takes ${f.params.length} arguments, got ${argNodes.length}`, "match the function's parameters");
      const args = argNodes.map((a, i) => this.scalarOf(a, f.params[i].t, `argument ${i + 1} of ${name}()`));
      return { k: "call", fn: `@${name}`, args, type: f.ret === "void" ? { kind: "void" } : scalar(f.ret), level: "runtime", pos };
    }
    if (name === "sizeof") {
      if (argNodes.length !== 1) ctx.fail("type-mismatch", node, "sizeof() takes 1 argument", "write sizeof(c.dtype) or sizeof(\"f32\")");
      const bytes = STORAGE_BYTES[this.storageType(argNodes[0], "sizeof() argument")];
      return { k: "lit", type: { kind: "intlit" }, level: "const", value: bytes, pos };
    }
    if (name === "present") {
      const t = argNodes.length === 1 ? this.expr(argNodes[0]) : undefined;
      if (!t || t.type.kind !== "tensor" || !isOptional(t.type.param.access)) {
        return ctx.fail("type-mismatch", node, "present() takes one optional tensor (a MaybeTensor or MaybeOut parameter)", "only MaybeTensor and MaybeOut tensors can be absent");
      }
      return { k: "call", fn: "present", args: [t], type: scalar("bool"), level: "runtime", pos };
    }
    if (name === "raise") return this.raise(node, argNodes);
    if ((SPECIAL_FORMS as readonly string[]).includes(name)) {
      const where = name === "unroll" || name === "range" ? "as the iterable of a for-of loop" : "as the initializer of a const declaration";
      return ctx.fail("unsupported-syntax", node, `${name}() can only be used ${where}`, name === "unroll" ? "write for (const i of unroll(n)) { ... }" : `write const x = ${name}(...)`);
    }
    const rule = BUILTINS[name];
    if (!rule) {
      const known = Object.keys(BUILTINS).concat(SPECIAL_FORMS).sort().join(", ");
      return ctx.fail("unknown-primitive", callee, `unknown primitive '${name}'`, `the primitives are: ${known}`);
    }
    const args = argNodes.map((a) => this.expr(a));
    const result = rule(ctx, node, args, argNodes);
    ctx.primitivesCalled.add(name);
    const level: Level = result.value !== undefined ? "const" : "runtime";
    return { k: "call", fn: result.fn ?? name, args: result.args, type: result.type, level, value: result.value, pos };
  }

  /** Elaborates a file-level function once per variant, in a context of its own (no kernel locals). */
  private deviceFunction(fn: FunctionDeclaration): Extract<Stmt, { k: "lambda" }> {
    const ctx = this.ctx;
    const name = fn.getName() ?? "";
    const known = ctx.deviceFunctions.get(name);
    if (known === "in progress") return ctx.fail("unsupported-syntax", fn, `device function '${name}' calls itself`, "GPU code here has no recursion: use a loop");
    if (known) return known;
    ctx.deviceFunctions.set(name, "in progress");
    const own = new Context(ctx.file, ctx.constants, ctx.schedule);
    own.deviceFunctions = ctx.deviceFunctions;
    const f = new Statements(own).deviceFunction(fn);
    if (own.raises.length > 0) ctx.fail("unsupported-syntax", fn, `device function '${name}' calls raise()`, "report bad input from the kernel body");
    own.primitivesCalled.forEach((p) => ctx.primitivesCalled.add(p));
    ctx.deviceFunctions.delete(name);
    ctx.deviceFunctions.set(name, f); // after its own callees: definitions come out in dependency order
    return f;
  }

  private raise(node: CallExpression, argNodes: Expression[]): Expr {
    const ctx = this.ctx;
    if (argNodes.length < 2 || argNodes.length > 5 || !Node.isStringLiteral(argNodes[0])) {
      return ctx.fail("type-mismatch", node, "raise() takes a message string literal and one to four i32 values", 'write raise("seqlens[{0}] = {1}", b, n)');
    }
    const message = argNodes[0].getLiteralValue();
    const values = argNodes.slice(1).map((a, i) => this.scalarOf(a, "i32", `raise() value ${i}`));
    const zero: Expr = { k: "lit", type: scalar("i32"), level: "const", value: 0, pos: this.pos(node) };
    while (values.length < 4) values.push(zero);
    ctx.raises.push({ message, pos: this.pos(node) });
    const site: Expr = { ...zero, value: ctx.raises.length - 1 };
    return { k: "call", fn: "raise", args: [site, ...values], type: { kind: "void" }, level: "runtime", pos: this.pos(node) };
  }

  private method(node: CallExpression, objNode: Expression, name: string, argNodes: Expression[]): Expr {
    const ctx = this.ctx;
    const obj = this.expr(objNode);
    const pos = this.pos(node);
    if (obj.type.kind === "shared" && name === "ref") {
      const t = obj.type;
      if (argNodes.length !== t.dims.length) ctx.fail("shape-mismatch", node, `${objNode.getText()} has ${t.dims.length} dimensions, .ref() got ${argNodes.length} indices`, "use one index per dimension");
      const indices = argNodes.map((a) => this.scalarOf(a, "i32", "shared-array index"));
      // A peer block's array (distributed shared memory) takes loads, stores and atomics, not copies.
      const space = obj.k === "call" && obj.fn === "peer" ? "peer" : "shared";
      return { k: "sharedRef", base: obj, indices, type: { kind: "ref", space, elem: t.elem }, level: "runtime", pos };
    }
    if (obj.type.kind !== "tensor") {
      return ctx.fail("unknown-primitive", node, `${describe(obj.type)} has no method '${name}'`, "tensors have at, ref, size, perHead, store, atomicAdd, atomicMin; shared arrays have ref");
    }
    const param = obj.type.param;
    if (isOptional(param.access) && !ctx.proven.has(param.name)) {
      ctx.fail("missing-presence-check", node, `optional ${param.access === "maybe-in" ? "input" : "output"} '${param.name}' used where it may be absent`, `wrap the use in if (present(${param.name})) { ... }`);
    }
    switch (name) {
      case "at":
      case "ref": {
        const indices = this.tensorIndices(node, param, argNodes);
        if (name === "at") return { k: "tensor", op: "at", param, args: indices, type: scalar(valueTypeOf(param.elem)), level: "runtime", pos };
        return { k: "tensor", op: "ref", param, args: indices, type: { kind: "ref", space: "global", elem: param.elem }, level: "runtime", pos };
      }
      case "size": {
        if (argNodes.length !== 1 || !Node.isStringLiteral(argNodes[0])) ctx.fail("type-mismatch", node, "size() takes a dimension name as a string literal", `e.g. ${param.name}.size("${param.dimNames[0]}")`);
        const dim = (argNodes[0] as unknown as { getLiteralValue(): string }).getLiteralValue();
        const i = param.dimNames.indexOf(dim);
        if (i < 0) ctx.fail("shape-mismatch", argNodes[0], `tensor '${param.name}' has no dimension '${dim}'`, `its dimensions are ${param.dimNames.join(", ")}`);
        const d = param.dims[i];
        if (typeof d === "number") return { k: "lit", type: scalar("i32"), level: "const", value: d, pos };
        return { k: "named", cname: `lim_p.${d}`, type: scalar("i32"), level: "runtime", pos };
      }
      case "perHead": {
        // A table of one entry (per tensor) or one per KV head: at(size == 1 ? 0 : head).
        if (param.dims.length !== 1 || argNodes.length !== 1) {
          ctx.fail("shape-mismatch", node, `perHead() reads a one-dimensional table (one entry, or one per KV head) at one head; '${param.name}' has ${param.dims.length} dimensions`, `e.g. ${param.name}.perHead(kvHead) on a [KS] tensor`);
        }
        const head = this.scalarOf(argNodes[0], "i32", `head of ${param.name}.perHead()`);
        const d = param.dims[0];
        const i32 = scalar("i32");
        const size: Expr = typeof d === "number" ? { k: "lit", type: i32, level: "const", value: d, pos } : { k: "named", cname: `lim_p.${d}`, type: i32, level: "runtime", pos };
        const single: Expr = { k: "binary", op: "==", l: size, r: { k: "lit", type: i32, level: "const", value: 1, pos }, type: scalar("bool"), level: size.level, pos };
        const index: Expr = { k: "cond", c: single, a: { k: "lit", type: i32, level: "const", value: 0, pos }, b: head, type: i32, level: "runtime", pos };
        return { k: "tensor", op: "at", param, args: [index], type: scalar(valueTypeOf(param.elem)), level: "runtime", pos };
      }
      case "page":
      case "pageEntry":
      case "checkedPage":
      case "pageRef":
      case "stageRow":
      case "stagedRef":
      case "prefetchRow": {
        const method = CACHE_METHODS[name];
        if (param.layout === undefined || argNodes.length !== method.args.length) {
          ctx.fail("type-mismatch", node, `${name}() takes (${method.args.join(", ")}) of a cache tensor (one declared with a layout)`, `e.g. ${param.name}.${name}(${method.args.join(", ")})`);
        }
        const args = argNodes.map((a, i) => {
          const arg = method.args[i];
          if (arg === "slot") return this.stagedRowSlot(a, `${param.name}.${name}()`);
          return this.scalarOf(a, arg === "low" || arg === "high" ? "u32" : "i32", `${arg} of ${param.name}.${name}()`);
        });
        const type: Type = method.result === "i32" ? scalar("i32") : method.result === "void" ? { kind: "void" } : { kind: "ref", space: "global", elem: param.elem };
        return { k: "call", fn: `tensor.${name}`, args: [obj, ...args], type, level: "runtime", pos };
      }
      case "store":
      case "atomicAdd":
      case "atomicMin": {
        if (!isWritable(param.access)) ctx.fail("read-only", node, `'${param.name}' is an input (${param.access === "in" ? "Tensor" : "MaybeTensor"}) and cannot be written`, "declare it as Out<...> if the kernel writes it");
        if (argNodes.length < 1) ctx.fail("type-mismatch", node, `${name}() takes a value and then the indices`, `e.g. ${param.name}.${name}(v, i, j)`);
        const value = this.scalarOf(argNodes[0], valueTypeOf(param.elem), `value written to '${param.name}'`);
        const indices = this.tensorIndices(node, param, argNodes.slice(1));
        if (name !== "store" && isNarrowFloat(param.elem)) ctx.fail("type-mismatch", node, `${name}() on ${param.elem} is not supported`, "use an f32, i32 or u32 tensor for atomics");
        if (name === "atomicMin" && param.elem === "f32") ctx.fail("type-mismatch", node, "atomicMin() on f32 is not supported by the hardware", "use an i32 or u32 tensor (e.g. order-preserving keys)");
        const type = name === "store" ? ({ kind: "void" } as const) : scalar(valueTypeOf(param.elem));
        return { k: "call", fn: `tensor.${name}`, args: [obj, value, ...indices], type, level: "runtime", pos };
      }
      default:
        return ctx.fail("unknown-primitive", node, `tensors have no method '${name}'`, "tensors have at, ref, size, perHead, store, atomicAdd, atomicMin; cache tensors page, pageEntry, checkedPage, pageRef, stageRow, stagedRef and prefetchRow");
    }
  }

  /** A staged row's slot: two u32 words of shared memory, 8-byte aligned (the address is one 8-byte access). */
  private stagedRowSlot(node: Expression, what: string): Expr {
    const slot = this.expr(node);
    if (slot.type.kind !== "ref" || slot.type.space !== "shared" || slot.type.elem !== "u32") {
      this.ctx.fail("type-mismatch", node, `the slot of ${what} is two u32 words of shared memory, got ${describe(slot.type)}`, 'declare shared("u32", [..., 2]) and pass its .ref(..., 0)');
    }
    // An even word of rows of whole word pairs (shared arrays start 128-byte aligned).
    const last = slot.k === "sharedRef" ? slot.indices[slot.indices.length - 1] : undefined;
    const dims = slot.k === "sharedRef" && slot.base.type.kind === "shared" ? slot.base.type.dims : [];
    if (last?.level !== "const" || typeof last.value !== "number" || last.value % 2 !== 0 || dims[dims.length - 1] % 2 !== 0) {
      this.ctx.fail("shape-mismatch", node, `the slot of ${what} must be an 8-byte aligned word pair: an even compile-time last index into an array whose last dimension is even`, 'declare shared("u32", [..., 2]) (or [..., 4] for two slots) and pass .ref(..., 0) or .ref(..., 2)');
    }
    return slot;
  }

  private tensorIndices(node: Node, param: TensorParam, argNodes: Expression[]): Expr[] {
    if (argNodes.length !== param.dims.length) {
      this.ctx.fail("shape-mismatch", node, `tensor '${param.name}' has ${param.dims.length} dimensions [${param.dimNames.join(", ")}], indexed with ${argNodes.length}`, "give one index per dimension");
    }
    return argNodes.map((a, i) => this.scalarOf(a, "i32", `index ${i} (${param.dimNames[i]}) of '${param.name}'`));
  }
}
