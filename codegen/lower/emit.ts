// Writes the typed IR of a kernel body as CUDA C++, one DSL statement at a time, each line tagged with
// the DSL position it came from.

import type { SourcePos } from "../frontend/diagnostics.js";
import { isNarrowFloat, STORAGE_BYTES, type BinaryOp, type Expr, type ScalarType, type Stmt } from "../frontend/ir.js";
import { CTYPE, storageCType } from "./ctypes.js";
import { PRIMITIVE_LOWERING } from "./primitives.js";

const PRECEDENCE: Readonly<Record<BinaryOp, number>> = {
  "*": 13, "/": 13, "%": 13, "+": 12, "-": 12, "<<": 11, ">>": 11,
  "<": 10, "<=": 10, ">": 10, ">=": 10, "==": 9, "!=": 9,
  "&": 8, "^": 7, "|": 6, "&&": 5, "||": 4,
};
const BITWISE = new Set<BinaryOp>(["&", "^", "|", "<<", ">>"]);

export function literal(value: number | boolean, t: ScalarType): string {
  if (typeof value === "boolean") return value ? "true" : "false";
  if (t === "f32") {
    if (Number.isNaN(value)) return "NAN";
    if (value === Infinity) return "INFINITY";
    if (value === -Infinity) return "-INFINITY";
    const s = String(value);
    return /[.e]/.test(s) ? `${s}f` : `${s}.0f`;
  }
  if (t === "u32") return `${value >>> 0}u`;
  return String(value | 0);
}

function scalarTypeOf(e: Expr): ScalarType {
  return e.type.kind === "scalar" ? e.type.t : "i32";
}

function precedence(e: Expr): number {
  if (e.k === "binary") return PRECEDENCE[e.op];
  if (e.k === "cond") return 3;
  if (e.k === "unary" || (e.k === "lit" && typeof e.value === "number" && e.value < 0)) return 14;
  return 16;
}

export function expr(e: Expr): string {
  switch (e.k) {
    case "lit":
      return literal(e.value as number | boolean, scalarTypeOf(e));
    case "named":
      return e.cname;
    case "string":
      return JSON.stringify(e.text);
    case "unary": {
      const inner = expr(e.e);
      return `${e.op}${precedence(e.e) < 14 ? `(${inner})` : inner}`;
    }
    case "binary": {
      const p = PRECEDENCE[e.op];
      const side = (x: Expr, right: boolean) => {
        const xp = precedence(x);
        const wrap = xp < p || (right && xp === p) || (x.k === "binary" && (BITWISE.has(x.op) || BITWISE.has(e.op)) && xp !== 16);
        return wrap ? `(${expr(x)})` : expr(x);
      };
      return `${side(e.l, false)} ${e.op} ${side(e.r, true)}`;
    }
    case "cond":
      return `${precedence(e.c) <= 3 ? `(${expr(e.c)})` : expr(e.c)} ? ${expr(e.a)} : ${expr(e.b)}`;
    case "call": {
      // A primitive whose value is known (ceilDiv of constants, producerWarps()) is written as that value.
      if (e.level === "const" && typeof e.value === "number") return literal(e.value, scalarTypeOf(e));
      const args = e.args.map(expr);
      if (e.fn.startsWith("@")) return `${e.fn.slice(1)}(${args.join(", ")})`;
      const lower = PRIMITIVE_LOWERING[e.fn];
      if (!lower) throw new Error(`internal: no lowering for primitive '${e.fn}'`);
      return lower(args, e.args);
    }
    case "index": {
      const text = `${expr(e.base)}${e.indices.map((i) => `[${expr(i)}]`).join("")}`;
      const base = e.base.type;
      // Narrow float shared elements are converted to f32 when read, like tensor elements.
      if (base.kind === "shared" && isNarrowFloat(base.elem) && e.type.kind === "scalar") return `lim::to_f32(${text})`;
      return text;
    }
    case "sharedRef":
      return `&${expr(e.base)}${e.indices.map((i) => `[${expr(i)}]`).join("")}`;
    case "tensor": {
      const args = e.args.map(expr).join(", ");
      if (e.op === "at") return `${e.param.name}.load(${args})`;
      if (e.op === "ref") return `${e.param.name}.ptr_at(${args})`;
      return args;
    }
  }
}

/** Emits statements as indented lines, each ending with the DSL position it came from. */
export class Emitter {
  private readonly lines: string[] = [];

  constructor(private readonly commentColumn = 84) {}

  private line(depth: number, code: string, pos?: SourcePos): void {
    const text = "  ".repeat(depth) + code;
    if (!pos) {
      this.lines.push(text);
      return;
    }
    const pad = Math.max(1, this.commentColumn - text.length);
    this.lines.push(`${text}${" ".repeat(pad)}// ${pos.file}:${pos.line}`);
  }

  text(): string {
    return this.lines.join("\n");
  }

  /** A file-level DSL function as a __device__ function. */
  deviceFunction(f: Extract<Stmt, { k: "lambda" }>): void {
    const params = f.params.map((p) => `${CTYPE[p.t]} ${p.name}`).join(", ");
    this.line(0, `__device__ __forceinline__ ${f.ret === "void" ? "void" : CTYPE[f.ret]} ${f.name}(${params}) {`, f.pos);
    this.stmts(f.body, 1);
    this.line(0, "}");
  }

  stmts(body: readonly Stmt[], depth: number): void {
    for (const s of body) this.stmt(s, depth);
  }

  stmt(s: Stmt, depth: number): void {
    switch (s.k) {
      case "decl": {
        const t = CTYPE[s.t];
        if (s.constValue !== undefined) this.line(depth, `constexpr ${t} ${s.name} = ${literal(s.constValue, s.t)};`, s.pos);
        else this.line(depth, `${s.mutable ? "" : "const "}${t} ${s.name} = ${expr(s.init)};`, s.pos);
        return;
      }
      case "regs": {
        const decl = `${CTYPE[s.elem]} ${s.name}${s.dims.map((d) => `[${d}]`).join("")};`;
        this.line(depth, s.init ? `${decl} lim::fill(${s.name}, ${expr(s.init)});` : decl, s.pos);
        return;
      }
      case "shared": {
        const dims = s.dims.map((d) => `[${d}]`).join("");
        const bytes = s.dims.reduce((a, b) => a * b, 1) * STORAGE_BYTES[s.elem];
        this.line(depth, `auto& ${s.name} = *reinterpret_cast<${storageCType(s.elem)} (*)${dims}>(lim_smem + ${s.offset});  /* shared bytes ${s.offset}..${s.offset + bytes - 1} */`, s.pos);
        return;
      }
      case "barriers":
        this.line(depth, `uint64_t* ${s.name} = reinterpret_cast<uint64_t*>(lim_smem + ${s.offset});  /* shared bytes ${s.offset}..${s.offset + s.count * 8 - 1} */`, s.pos);
        this.line(depth, `lim::init_barriers(${s.name}, ${s.count}, ${s.arrivals});`, s.pos);
        return;
      case "assign": {
        const t = s.target;
        if (t.k === "index" && t.base.type.kind === "shared" && isNarrowFloat(t.base.type.elem)) {
          // Writes to narrow float shared elements convert from f32; compound assignment was refused earlier.
          const place = `${expr(t.base)}${t.indices.map((i) => `[${expr(i)}]`).join("")}`;
          this.line(depth, `${place} = lim::convert<${storageCType(t.base.type.elem)}>(${expr(s.value)});`, s.pos);
          return;
        }
        this.line(depth, `${expr(t)} ${s.op} ${expr(s.value)};`, s.pos);
        return;
      }
      case "expr":
        this.line(depth, `${expr(s.e)};`, s.pos);
        return;
      case "if": {
        this.line(depth, `if (${expr(s.cond)}) {`, s.pos);
        this.stmts(s.then, depth + 1);
        if (s.else) {
          this.line(depth, "} else {");
          this.stmts(s.else, depth + 1);
        }
        this.line(depth, "}");
        return;
      }
      case "for": {
        if (s.unroll === "full") this.line(depth, "#pragma unroll");
        else if (typeof s.unroll === "number") this.line(depth, `#pragma unroll ${s.unroll}`);
        const step = s.step.k === "lit" && s.step.value === 1 ? `++${s.v}` : `${s.v} += ${expr(s.step)}`;
        // The bound sits to the right of `<`: a comparison or a conditional there needs parentheses.
        const end = precedence(s.end) <= PRECEDENCE["<"] ? `(${expr(s.end)})` : expr(s.end);
        this.line(depth, `for (int ${s.v} = ${expr(s.start)}; ${s.v} < ${end}; ${step}) {`, s.pos);
        this.stmts(s.body, depth + 1);
        this.line(depth, "}");
        return;
      }
      case "while":
        this.line(depth, `while (${expr(s.cond)}) {`, s.pos);
        this.stmts(s.body, depth + 1);
        this.line(depth, "}");
        return;
      case "return":
        this.line(depth, s.value ? `return ${expr(s.value)};` : "return;", s.pos);
        return;
      case "break":
      case "continue":
        this.line(depth, `${s.k};`, s.pos);
        return;
      case "word":
        this.line(depth, `/* ${s.name} = ${s.text} */`, s.pos);
        return;
      case "block":
        this.line(depth, "{", s.pos);
        this.stmts(s.body, depth + 1);
        this.line(depth, "}");
        return;
      case "lambda": {
        const params = s.params.map((p) => `${CTYPE[p.t]} ${p.name}`).join(", ");
        const ret = s.ret === "void" ? "void" : CTYPE[s.ret];
        this.line(depth, `auto ${s.name} = [&](${params}) -> ${ret} {`, s.pos);
        this.stmts(s.body, depth + 1);
        this.line(depth, "};");
        return;
      }
    }
  }
}
