// Statements of a kernel body: declarations (scalars, register and shared arrays, local functions),
// assignments, loops and branches, from the ts-morph AST to typed IR.

import { Node, SyntaxKind, VariableDeclarationKind, type Block, type Expression, type FunctionDeclaration, type Statement, type VariableDeclaration } from "ts-morph";
import type { Context } from "./context.js";
import { posOf } from "./diagnostics.js";
import { Expressions } from "./expressions.js";
import { isNarrowFloat, STORAGE_BYTES, type AssignOp, type Expr, type Level, type ScalarType, type Stmt } from "./ir.js";
import { coerce, describe, unify } from "./typing.js";

const SCALAR_ANNOTATIONS: Readonly<Record<string, ScalarType>> = { f32: "f32", i32: "i32", u32: "u32", bool: "bool", boolean: "bool" };
const ASSIGN_OPS = new Set(["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="]);
const MAX_REGISTER_ARRAY = 256;

export class Statements {
  readonly ex: Expressions;

  constructor(private readonly ctx: Context) {
    this.ex = new Expressions(ctx);
  }

  private pos(node: Node) {
    return posOf(node, this.ctx.file);
  }

  /** A list of statements in a new scope. */
  block(statements: readonly Statement[]): Stmt[] {
    this.ctx.push();
    try {
      return statements.flatMap((s) => this.stmt(s));
    } finally {
      this.ctx.pop();
    }
  }

  private body(node: Statement): Stmt[] {
    return Node.isBlock(node) ? this.block(node.getStatements()) : this.block([node]);
  }

  stmt(node: Statement): Stmt[] {
    const ctx = this.ctx;
    const pos = this.pos(node);
    if (Node.isVariableStatement(node)) {
      const kind = node.getDeclarationKind();
      const isConst = kind === VariableDeclarationKind.Const;
      if (kind !== VariableDeclarationKind.Const && kind !== VariableDeclarationKind.Let) ctx.fail("unsupported-syntax", node, "'var' is not part of the kernel language", "use const or let");
      return node.getDeclarations().map((d) => this.declaration(d, isConst));
    }
    if (Node.isExpressionStatement(node)) return [this.expressionStatement(node.getExpression())];
    if (Node.isIfStatement(node) && isRoleSplit(node.getExpression())) return [this.roleSplit(node)];
    if (Node.isIfStatement(node)) {
      const cond = this.ex.scalarOf(node.getExpression(), "bool", "if condition");
      // A condition known at generation time (on constants such as c.kv == "e4m3") keeps only the branch it
      // takes, as C++'s if constexpr would: the other may use types that this variant does not have.
      if (cond.level === "const" && typeof cond.value === "boolean") {
        const taken = cond.value ? node.getThenStatement() : node.getElseStatement();
        return taken ? [{ k: "block", body: this.body(taken), pos }] : [];
      }
      const proven = presenceChecks(node.getExpression());
      const added = proven.filter((n) => !ctx.proven.has(n));
      added.forEach((n) => ctx.proven.add(n));
      const then = this.body(node.getThenStatement());
      added.forEach((n) => ctx.proven.delete(n));
      const elseNode = node.getElseStatement();
      const els = elseNode ? this.body(elseNode) : undefined;
      return [{ k: "if", cond, then, else: els, pos }];
    }
    if (Node.isForStatement(node)) return [this.forLoop(node)];
    if (Node.isForOfStatement(node)) return [this.forOf(node)];
    if (Node.isWhileStatement(node)) {
      const cond = this.ex.scalarOf(node.getExpression(), "bool", "while condition");
      return [{ k: "while", cond, body: this.body(node.getStatement()), pos }];
    }
    if (Node.isBlock(node)) return [{ k: "block", body: this.block(node.getStatements()), pos }];
    if (Node.isReturnStatement(node)) return [this.returnStatement(node)];
    if (Node.isBreakStatement(node) || Node.isContinueStatement(node)) {
      if (node.getLabel()) ctx.fail("unsupported-syntax", node, "labelled break/continue", "restructure the loop");
      return [{ k: Node.isBreakStatement(node) ? "break" : "continue", pos }];
    }
    if (Node.isEmptyStatement(node)) return [];
    return ctx.fail(
      "unsupported-syntax",
      node,
      `${node.getKindName()} is not part of the kernel language`,
      Node.isFunctionDeclaration(node) ? "write a local function as const f = (x: i32) => { ... }" : "kernel bodies use const/let, assignments, if, for, while, return, break and continue",
    );
  }

  /** `if (isProducer()) { producer } else { consumers }`: each branch elaborated in its role. */
  private roleSplit(node: Node & { getExpression(): Expression; getThenStatement(): Statement; getElseStatement(): Statement | undefined }): Stmt {
    const ctx = this.ctx;
    if (ctx.role !== "all" || ctx.lambdaReturn) ctx.fail("unsupported-syntax", node, "roles are split once, in the kernel body", "branch on isProducer() at the top level of the body");
    const cond = this.ex.scalarOf(node.getExpression(), "bool", "if condition");
    ctx.rolesSplit = true;
    const inRole = <T>(role: "producer" | "consumer", f: () => T): T => {
      ctx.role = role;
      try {
        return f();
      } finally {
        ctx.role = "all";
      }
    };
    const then = inRole("producer", () => this.body(node.getThenStatement()));
    const elseNode = node.getElseStatement();
    const els = elseNode ? inRole("consumer", () => this.body(elseNode)) : undefined;
    return { k: "if", cond, then, else: els, pos: this.pos(node) };
  }

  private declaration(d: VariableDeclaration, isConst: boolean): Stmt {
    const ctx = this.ctx;
    const name = d.getName();
    const pos = this.pos(d);
    if (!Node.isIdentifier(d.getNameNode())) ctx.fail("unsupported-syntax", d, "destructuring declarations", "declare one name at a time");
    const init = d.getInitializer();
    const annotation = d.getTypeNode()?.getText();

    if (init && Node.isCallExpression(init) && Node.isIdentifier(init.getExpression())) {
      const fn = init.getExpression().getText();
      if ((fn === "regs" || fn === "shared" || fn === "barriers") && !ctx.lookup(fn)) {
        if (!isConst) ctx.fail("unsupported-syntax", d, `${fn}() arrays must be declared with const`, "the array's storage is fixed; its elements can still change");
        const args = init.getArguments() as Expression[];
        return fn === "regs" ? this.registers(d, name, args) : fn === "shared" ? this.sharedArray(d, name, args) : this.barrierArray(d, name, args);
      }
    }
    if (init && Node.isArrowFunction(init)) {
      if (!isConst) ctx.fail("unsupported-syntax", d, "local functions must be declared with const", `write const ${name} = (...) => { ... }`);
      return this.lambda(d, name, init);
    }

    let t: ScalarType | undefined;
    if (annotation !== undefined) {
      t = SCALAR_ANNOTATIONS[annotation];
      if (!t) ctx.fail("type-mismatch", d.getTypeNode()!, `'${annotation}' is not a scalar type of the kernel language`, annotation === "number" ? "say which number: f32, i32 or u32" : "use f32, i32, u32 or bool");
    }
    if (!init) {
      if (isConst) ctx.fail("unsupported-syntax", d, "a const needs a value", "give it an initializer");
      if (!t) ctx.fail("type-mismatch", d, `'${name}' needs a type or a value`, `write let ${name}: f32 = ...`);
      ctx.define(d, name, { s: "var", cname: name, t: t!, mutable: true, level: "runtime" });
      return { k: "decl", name, t: t!, init: zeroOf(t!, pos), mutable: true, pos };
    }
    const raw = this.ex.expr(init);
    if (raw.k === "string") {
      // A word (an element type such as c.dtype) is known at compile time: the name stands for it, no C variable.
      if (!isConst || annotation !== undefined) ctx.fail("unsupported-syntax", d, `'${name}' holds a word: declare it with const and no type`, `write const ${name} = ...`);
      ctx.define(d, name, { s: "word", text: raw.text });
      return { k: "word", name, text: raw.text, pos };
    }
    if (raw.type.kind !== "scalar" && raw.type.kind !== "intlit") {
      ctx.fail("type-mismatch", init, `'${name}' can hold a scalar only, got ${describe(raw.type)}`, raw.type.kind === "ref" ? "pass locations directly to the primitive that uses them" : "declare arrays with regs(...) or shared(...)");
    }
    const ty = t ?? (raw.type.kind === "intlit" ? "i32" : (raw.type as { t: ScalarType }).t);
    const value = coerce(ctx, init, raw, ty, `value of '${name}'`);
    const constValue = isConst && value.level === "const" && value.value !== undefined ? value.value : undefined;
    const level: Level = isConst ? value.level : "runtime";
    ctx.define(d, name, { s: "var", cname: name, t: ty, mutable: !isConst, level, value: isConst ? value.value : undefined });
    return { k: "decl", name, t: ty, init: value, mutable: !isConst, constValue, pos };
  }

  private dims(node: Node, arg: Expression | undefined, what: string): number[] {
    const ctx = this.ctx;
    if (!arg || !Node.isArrayLiteralExpression(arg) || arg.getElements().length === 0) {
      return ctx.fail("type-mismatch", arg ?? node, `${what} dimensions must be an array literal like [c.G, VEC]`, "list the compile-time sizes of each dimension");
    }
    return arg.getElements().map((el) => {
      const e = this.ex.expr(el as Expression);
      if (e.level !== "const" || typeof e.value !== "number") ctx.fail("not-compile-time", el, `${what} dimension '${el.getText()}' is not known at compile time`, "sizes of register and shared arrays come from constants and the schedule");
      if ((e.value as number) < 1) ctx.fail("shape-mismatch", el, `${what} dimension '${el.getText()}' is ${e.value}`, "sizes must be at least 1");
      return e.value as number;
    });
  }

  private registers(d: VariableDeclaration, name: string, args: Expression[]): Stmt {
    const ctx = this.ctx;
    const elemNode = args[0];
    const elem = elemNode && Node.isStringLiteral(elemNode) ? elemNode.getLiteralValue() : undefined;
    if (elem !== "f32" && elem !== "i32" && elem !== "u32") {
      return ctx.fail("type-mismatch", elemNode ?? d, `register arrays hold "f32", "i32" or "u32", got ${elemNode?.getText() ?? "nothing"}`, 'write regs("f32", [n])');
    }
    const dims = this.dims(d, args[1], "register array");
    const count = dims.reduce((a, b) => a * b, 1);
    if (count > MAX_REGISTER_ARRAY) {
      ctx.fail("schedule-limit", d, `register array '${name}' has ${count} elements, more than the ${MAX_REGISTER_ARRAY} a thread can hold`, "choose a schedule with fewer rows per thread, or keep the data in shared memory");
    }
    const init = args[2] ? coerce(ctx, args[2], this.ex.expr(args[2]), elem, `initial value of '${name}'`) : undefined;
    ctx.define(d, name, { s: "regs", cname: name, elem, dims });
    return { k: "regs", name, elem, dims, init, pos: this.pos(d) };
  }

  private sharedArray(d: VariableDeclaration, name: string, args: Expression[]): Stmt {
    const ctx = this.ctx;
    if (ctx.lambdaReturn) ctx.fail("unsupported-syntax", d, "shared arrays cannot be declared inside a local function", "declare the array in the kernel body and use it from the function");
    if (!args[0]) ctx.fail("type-mismatch", d, "shared() needs an element type and dimensions", 'write shared("f32", [n])');
    const elem = this.ex.storageType(args[0], "shared array element type");
    const dims = this.dims(d, args[1], "shared array");
    const bytes = dims.reduce((a, b) => a * b, 1) * STORAGE_BYTES[elem];
    const offset = ctx.allocShared(d, name, bytes);
    ctx.define(d, name, { s: "shared", cname: name, elem, dims });
    return { k: "shared", name, elem, dims, offset, pos: this.pos(d) };
  }

  /**
   * barriers(count, arrivals): mbarriers in shared memory, initialised where they are declared (thread 0
   * writes them, then the whole block synchronises), so the declaration must be reached by every thread.
   */
  private barrierArray(d: VariableDeclaration, name: string, args: Expression[]): Stmt {
    const ctx = this.ctx;
    const hint = "write const full = barriers(s.stages, 1) in the kernel body, before the role branches";
    if (ctx.lambdaReturn || ctx.role !== "all") ctx.fail("unsupported-syntax", d, "barriers() must be declared in the kernel body, outside local functions and role branches", hint);
    if (args.length !== 2) ctx.fail("type-mismatch", d, `barriers() takes a count and an arrival count, got ${args.length} arguments`, hint);
    const [count, arrivals] = args.map((a, i) => {
      const e = this.ex.scalarOf(a, "i32", i === 0 ? "barrier count" : "barrier arrival count");
      if (e.level !== "const" || typeof e.value !== "number") return ctx.fail("not-compile-time", a, `barriers() ${i === 0 ? "count" : "arrival count"} '${a.getText()}' is not known at compile time`, "use constants and schedule knobs");
      if (e.value < 1 || e.value > (i === 0 ? 64 : (1 << 20) - 1)) ctx.fail("shape-mismatch", a, `barriers() ${i === 0 ? "count" : "arrival count"} is ${e.value}`, i === 0 ? "declare from 1 to 64 barriers" : "an mbarrier counts from 1 to 2^20 - 1 arrivals");
      return e.value as number;
    });
    const offset = ctx.allocShared(d, name, count * 8);
    ctx.define(d, name, { s: "barriers", cname: name, count });
    return { k: "barriers", name, count, arrivals, offset, pos: this.pos(d) };
  }

  /**
   * A file-level function the kernel calls: elaborated on its own (it sees only its parameters, constants
   * and primitives) and lowered as a __device__ function.
   */
  deviceFunction(fn: FunctionDeclaration): Extract<Stmt, { k: "lambda" }> {
    const body = fn.getBody();
    if (!body) return this.ctx.fail("unsupported-syntax", fn, `function '${fn.getName()}' has no body`, "give the device function a body");
    return this.lambda(fn, fn.getName() ?? "", fn as never, false);
  }

  private lambda(
    d: Node,
    name: string,
    fn: Node & { getParameters(): Node[]; getBody(): Node; getReturnTypeNode(): Node | undefined },
    define = true,
  ): Extract<Stmt, { k: "lambda" }> {
    const ctx = this.ctx;
    const params = fn.getParameters().map((p) => {
      const pn = p as Node & { getName(): string; getTypeNode(): Node | undefined };
      const ann = pn.getTypeNode()?.getText();
      const t = ann ? SCALAR_ANNOTATIONS[ann] : undefined;
      if (!t) ctx.fail("type-mismatch", p, `parameter '${pn.getName()}' of '${name}' needs a scalar type`, "annotate it as f32, i32, u32 or bool");
      return { name: pn.getName(), t: t! };
    });
    const retAnn = fn.getReturnTypeNode()?.getText();
    const declared: ScalarType | "void" | undefined = retAnn === undefined ? undefined : retAnn === "void" ? "void" : SCALAR_ANNOTATIONS[retAnn];
    if (retAnn !== undefined && declared === undefined) ctx.fail("type-mismatch", fn.getReturnTypeNode()!, `'${retAnn}' is not a return type of the kernel language`, "use void, f32, i32, u32 or bool");

    const outer = ctx.lambdaReturn;
    ctx.lambdaReturn = { t: declared };
    ctx.push();
    let body: Stmt[];
    try {
      for (const p of params) ctx.define(d, p.name, { s: "var", cname: p.name, t: p.t, mutable: false, level: "runtime" });
      const b = fn.getBody();
      if (Node.isBlock(b)) body = (b as Block).getStatements().flatMap((s) => this.stmt(s));
      else {
        const value = this.ex.expr(b as Expression);
        const t = value.type.kind === "intlit" ? "i32" : value.type.kind === "scalar" ? value.type.t : undefined;
        if (!t) ctx.fail("type-mismatch", b, `'${name}' must return a scalar`, "return f32, i32, u32 or bool");
        ctx.lambdaReturn.t ??= t;
        body = [{ k: "return", value: coerce(ctx, b, value, ctx.lambdaReturn.t as ScalarType, `result of '${name}'`), pos: this.pos(b) }];
      }
    } finally {
      ctx.pop();
    }
    const ret = ctx.lambdaReturn.t ?? "void";
    ctx.lambdaReturn = outer;
    if (define) ctx.define(d, name, { s: "lambda", cname: name, params: params.map((p) => p.t), ret });
    return { k: "lambda", name, params, ret, body, pos: this.pos(d) };
  }

  private returnStatement(node: Node & { getExpression(): Expression | undefined }): Stmt {
    const ctx = this.ctx;
    const pos = this.pos(node);
    const valueNode = node.getExpression();
    if (!ctx.lambdaReturn) {
      if (valueNode) ctx.fail("type-mismatch", node, "a kernel returns nothing", "write its results to Out tensors and use a bare return to stop early");
      return { k: "return", pos };
    }
    if (!valueNode) {
      if (ctx.lambdaReturn.t !== undefined && ctx.lambdaReturn.t !== "void") ctx.fail("type-mismatch", node, `this function returns ${ctx.lambdaReturn.t}`, "return a value");
      ctx.lambdaReturn.t = "void";
      return { k: "return", pos };
    }
    const raw = this.ex.expr(valueNode);
    const t = ctx.lambdaReturn.t ?? (raw.type.kind === "intlit" ? "i32" : raw.type.kind === "scalar" ? raw.type.t : undefined);
    if (t === undefined || t === "void") return ctx.fail("type-mismatch", valueNode, `cannot return ${describe(raw.type)} here`, "local functions return scalars or nothing");
    ctx.lambdaReturn.t = t;
    return { k: "return", value: coerce(ctx, valueNode, raw, t, "returned value"), pos };
  }

  private expressionStatement(e: Expression): Stmt {
    const ctx = this.ctx;
    const pos = this.pos(e);
    if (Node.isBinaryExpression(e) && ASSIGN_OPS.has(e.getOperatorToken().getText())) {
      const op = e.getOperatorToken().getText() as AssignOp;
      const target = this.assignable(e.getLeft());
      const raw = this.ex.expr(e.getRight());
      const t = (target.type as { t: ScalarType }).t;
      if (op !== "=") {
        unify(ctx, e, target, raw, op);
        const base = target.k === "index" ? target.base.type : undefined;
        if (base?.kind === "shared" && isNarrowFloat(base.elem)) {
          ctx.fail("type-mismatch", e, `'${op}' on a ${base.elem} shared element would round twice`, "accumulate in an f32 array and store once with =");
        }
      }
      return { k: "assign", target, op, value: coerce(ctx, e.getRight(), raw, t, `value assigned to '${e.getLeft().getText()}'`), pos };
    }
    if ((Node.isPostfixUnaryExpression(e) || Node.isPrefixUnaryExpression(e)) && [SyntaxKind.PlusPlusToken, SyntaxKind.MinusMinusToken].includes(e.getOperatorToken())) {
      const target = this.assignable(e.getOperand());
      if (!(target.type.kind === "scalar" && (target.type.t === "i32" || target.type.t === "u32"))) ctx.fail("type-mismatch", e, "++ and -- work on integers", "write x += 1.0 for floats");
      const one: Expr = { k: "lit", type: target.type, level: "const", value: 1, pos };
      return { k: "assign", target, op: e.getOperatorToken() === SyntaxKind.PlusPlusToken ? "+=" : "-=", value: one, pos };
    }
    if (Node.isCallExpression(e)) return { k: "expr", e: this.ex.call(e), pos };
    return ctx.fail("unsupported-syntax", e, "this expression has no effect", "a statement is an assignment, an increment, or a call");
  }

  /** The left side of an assignment: a mutable scalar variable or an array element. */
  private assignable(node: Expression): Expr {
    const ctx = this.ctx;
    if (Node.isIdentifier(node)) {
      const sym = ctx.lookup(node.getText());
      if (sym?.s === "var" && !sym.mutable) ctx.fail("read-only", node, `'${node.getText()}' is a const`, "declare it with let to change it");
      if (sym?.s !== "var") ctx.fail("type-mismatch", node, `cannot assign to '${node.getText()}'`, "assign to let variables and array elements");
      return this.ex.expr(node);
    }
    if (Node.isElementAccessExpression(node)) {
      const target = this.ex.expr(node);
      if (target.type.kind !== "scalar") ctx.fail("shape-mismatch", node, `cannot assign a whole ${describe(target.type)}`, "assign one element at a time");
      return target;
    }
    return ctx.fail("unsupported-syntax", node, `cannot assign to ${node.getText()}`, "write tensors with t.store(value, i, ...)");
  }

  private forLoop(node: Node & { getInitializer(): Node | undefined; getCondition(): Expression | undefined; getIncrementor(): Expression | undefined; getStatement(): Statement }): Stmt {
    const ctx = this.ctx;
    const hint = "write for (let i = start; i < end; i++) or i += step";
    const init = node.getInitializer();
    const decls = init && Node.isVariableDeclarationList(init) ? init.getDeclarations() : [];
    if (decls.length !== 1 || !decls[0].getInitializer()) return ctx.fail("unsupported-syntax", node, "a for loop declares exactly one counter", hint);
    const v = decls[0].getName();
    const cond = node.getCondition();
    const inc = node.getIncrementor();
    if (!cond || !Node.isBinaryExpression(cond) || cond.getLeft().getText() !== v || cond.getOperatorToken().getText() !== "<") {
      return ctx.fail("unsupported-syntax", cond ?? node, `the loop condition must be '${v} < end'`, hint);
    }
    const start = this.ex.expr(decls[0].getInitializer()!);
    const t = start.type.kind === "intlit" ? "i32" : start.type.kind === "scalar" ? start.type.t : "f32";
    if (t !== "i32" && t !== "u32") ctx.fail("type-mismatch", decls[0], "loop counters are integers", "count with i32");
    const startE = coerce(ctx, decls[0], start, t, "loop start");
    const end = this.ex.scalarOf(cond.getRight(), t, "loop end");
    let step: Expr | undefined;
    if (inc && (Node.isPostfixUnaryExpression(inc) || Node.isPrefixUnaryExpression(inc)) && inc.getOperand().getText() === v && inc.getOperatorToken() === SyntaxKind.PlusPlusToken) {
      step = { k: "lit", type: { kind: "scalar", t }, level: "const", value: 1, pos: this.pos(inc) };
    } else if (inc && Node.isBinaryExpression(inc) && inc.getLeft().getText() === v && inc.getOperatorToken().getText() === "+=") {
      step = this.ex.scalarOf(inc.getRight(), t, "loop step");
    }
    if (!step) return ctx.fail("unsupported-syntax", inc ?? node, `the loop must advance with ${v}++ or ${v} += step`, hint);
    return this.loop(node, v, t, startE, end, step, undefined, "runtime");
  }

  private forOf(node: Node & { getInitializer(): Node; getExpression(): Expression; getStatement(): Statement }): Stmt {
    const ctx = this.ctx;
    const init = node.getInitializer();
    const decls = Node.isVariableDeclarationList(init) ? init.getDeclarations() : [];
    if (decls.length !== 1) return ctx.fail("unsupported-syntax", init, "a for-of loop declares one loop variable", "write for (const i of unroll(n))");
    const v = decls[0].getName();
    const it = node.getExpression();
    const fn = Node.isCallExpression(it) ? it.getExpression().getText() : "";
    const args = Node.isCallExpression(it) ? (it.getArguments() as Expression[]) : [];
    const pos = this.pos(it);
    const zero: Expr = { k: "lit", type: { kind: "scalar", t: "i32" }, level: "const", value: 0, pos };
    const one: Expr = { ...zero, value: 1 };
    if (fn === "unroll") {
      if (args.length !== 1) ctx.fail("type-mismatch", it, "unroll() takes the trip count", "write unroll(c.G)");
      const n = this.ex.scalarOf(args[0], "i32", "unroll() trip count");
      if (n.level !== "const" || typeof n.value !== "number") ctx.fail("not-compile-time", args[0], "unroll() needs a trip count known at compile time", "use constants and schedule knobs, or range() for a run-time loop");
      return this.loop(node, v, "i32", zero, n, one, "full", "unrolled");
    }
    if (fn === "range") {
      if (args.length < 2 || args.length > 4) ctx.fail("type-mismatch", it, "range() takes start, end, and optionally step and an unroll factor", "write range(a, b) or range(a, b, step, 4)");
      const start = this.ex.scalarOf(args[0], "i32", "range() start");
      const end = this.ex.scalarOf(args[1], "i32", "range() end");
      const step = args[2] ? this.ex.scalarOf(args[2], "i32", "range() step") : one;
      let hint: number | undefined;
      if (args[3]) {
        const u = this.ex.scalarOf(args[3], "i32", "range() unroll factor");
        if (typeof u.value !== "number" || u.level !== "const") ctx.fail("not-compile-time", args[3], "the unroll factor must be known at compile time", "use a literal such as 4");
        hint = u.value as number;
      }
      return this.loop(node, v, "i32", start, end, step, hint, "runtime");
    }
    return ctx.fail("unsupported-syntax", it, "for-of loops iterate over unroll(n) or range(start, end, step)", "write for (const i of unroll(n)) or for (const i of range(a, b))");
  }

  private loop(node: Node & { getStatement(): Statement }, v: string, t: ScalarType, start: Expr, end: Expr, step: Expr, unroll: "full" | number | undefined, level: Level): Stmt {
    const ctx = this.ctx;
    ctx.push();
    try {
      ctx.define(node, v, { s: "var", cname: v, t, mutable: unroll === undefined && level === "runtime", level });
      const stmt = node.getStatement();
      const body = Node.isBlock(stmt) ? stmt.getStatements().flatMap((s) => this.stmt(s)) : this.stmt(stmt);
      return { k: "for", v, start, end, step, unroll, body, pos: this.pos(node) };
    } finally {
      ctx.pop();
    }
  }
}

function zeroOf(t: ScalarType, pos: Stmt["pos"]): Expr {
  return { k: "lit", type: { kind: "scalar", t }, level: "const", value: t === "bool" ? false : 0, pos };
}

/** Names x for which a condition guarantees present(x): present(x) itself or inside a chain of &&. */
function presenceChecks(cond: Expression): string[] {
  if (Node.isParenthesizedExpression(cond)) return presenceChecks(cond.getExpression());
  if (Node.isBinaryExpression(cond) && cond.getOperatorToken().getText() === "&&") {
    return [...presenceChecks(cond.getLeft()), ...presenceChecks(cond.getRight())];
  }
  if (Node.isCallExpression(cond) && cond.getExpression().getText() === "present" && cond.getArguments().length === 1) {
    return [cond.getArguments()[0].getText()];
  }
  return [];
}

/** `isProducer()` as the whole condition of an if: the split of a block into its warp roles. */
function isRoleSplit(cond: Expression): boolean {
  const inner = Node.isParenthesizedExpression(cond) ? cond.getExpression() : cond;
  return Node.isCallExpression(inner) && inner.getExpression().getText() === "isProducer" && inner.getArguments().length === 0;
}
