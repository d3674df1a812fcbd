// Front-end errors: each kind names file:line:col, shows the line with a caret under the offending text,
// and gives a hint.

import { describe, expect, it } from "vitest";
import { DslError, type DslErrorKind } from "../../codegen/frontend/diagnostics.js";
import { compileTiny } from "../helpers/tiny_kernel.js";

function errorOf(body: string, opts: Parameters<typeof compileTiny>[1] = {}): DslError {
  try {
    compileTiny(body, opts);
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError, but the kernel compiled");
}

interface Case {
  kind: DslErrorKind;
  body: string;
  summary: RegExp;
  /** The text the caret underlines. */
  at: string;
  hint: RegExp;
  opts?: Parameters<typeof compileTiny>[1];
}

const cases: Record<string, Case> = {
  "an object literal": { kind: "unsupported-syntax", body: "  const o = { a: 1 };", summary: /ObjectLiteralExpression is not part of the kernel language/, at: "{ a: 1 }", hint: /numbers, variables, operators/ },
  "a class declaration": { kind: "unsupported-syntax", body: "  class K {}", summary: /ClassDeclaration is not part/, at: "class K {}", hint: /const\/let/ },
  "a var declaration": { kind: "unsupported-syntax", body: "  var a = 1;", summary: /'var' is not part/, at: "var a = 1;", hint: /use const or let/ },
  "an unknown primitive": { kind: "unknown-primitive", body: "  const a = exp3(1.0);", summary: /unknown primitive 'exp3'/, at: "exp3", hint: /the primitives are: .*exp2/ },
  "an unknown tensor method": { kind: "unknown-primitive", body: "  const a = x.gather(0, 0);", summary: /tensors have no method 'gather'/, at: "x.gather(0, 0)", hint: /at, ref, size/ },
  "an unknown name": { kind: "unknown-name", body: "  const a = missing + 1;", summary: /unknown name 'missing'/, at: "missing", hint: /declare it/ },
  "f32 plus i32": { kind: "type-mismatch", body: "  const a: f32 = 1.5;\n  const b = a + blockIdx.x;", summary: /operator '\+' mixes f32 and i32/, at: "a + blockIdx.x", hint: /f32\(x\)/ },
  "a float stored as an index": { kind: "type-mismatch", body: "  y.store(1.0, 0.5, 0);", summary: /index 0 \(B\) of 'y': expected i32, got f32/, at: "0.5", hint: /i32\(\.\.\.\)/ },
  "an untyped number annotation": { kind: "type-mismatch", body: "  let a: number = 1;", summary: /'number' is not a scalar type/, at: "number", hint: /f32, i32 or u32/ },
  "a tensor indexed with too few indices": { kind: "shape-mismatch", body: "  const a = x.at(0);", summary: /tensor 'x' has 2 dimensions \[B, D\], indexed with 1/, at: "x.at(0)", hint: /one index per dimension/ },
  "dot of unequal lengths": { kind: "shape-mismatch", body: '  const a = regs("f32", [4]);\n  const b = regs("f32", [8]);\n  const d = dot(a, b);', summary: /dot\(\) operands have lengths 4 and 8/, at: "dot(a, b)", hint: /same length/ },
  "a constant index out of bounds": { kind: "shape-mismatch", body: '  const a = regs("f32", [4]);\n  a[4] = 1.0;', summary: /index 4 is out of bounds for dimension 0 of size 4/, at: "4", hint: /0 to size - 1/ },
  "too much shared memory": { kind: "schedule-limit", body: '  const big = shared("f32", [64, 1024]);', summary: /shared memory exceeds the 232448-byte limit.*'big' ends at byte 262144/, at: 'const big = shared("f32", [64, 1024]);'.slice(6), hint: /fewer stages, rows or threads/ },
  "too many threads": { kind: "schedule-limit", body: "  return;", summary: /threads must be a multiple of 32 from 32 to 1024/, at: "tiny", hint: /another thread count/, opts: { schedule: { threads: 2048 } } },
  "a broken schedule rule": { kind: "schedule-limit", body: "  return;", summary: /breaks a rule of tiny: at most 512 threads/, at: "tiny", hint: /satisfies the kernel's rules/, opts: { schedule: { threads: 1024 } } },
  "a run-time array size": { kind: "not-compile-time", body: '  const r = regs("f32", [blockIdx.x]);', summary: /register array dimension 'blockIdx.x' is not known at compile time/, at: "blockIdx.x", hint: /constants and the schedule/ },
  "a register array indexed at run time": { kind: "not-compile-time", body: '  const r = regs("f32", [4]);\n  r[threadIdx.x % 4] = 1.0;', summary: /register array 'r' indexed with a run-time value/, at: "threadIdx.x % 4", hint: /unroll\(\) loop variables/ },
  "a run-time unroll count": { kind: "not-compile-time", body: "  for (const i of unroll(blockIdx.x)) {}", summary: /unroll\(\) needs a trip count known at compile time/, at: "blockIdx.x", hint: /range\(\) for a run-time loop/ },
  "a store to an input": { kind: "read-only", body: "  x.store(1.0, 0, 0);", summary: /'x' is an input \(Tensor\) and cannot be written/, at: "x.store(1.0, 0, 0)", hint: /Out<\.\.\.>/ },
  "an assignment to a const": { kind: "read-only", body: "  const a = 1;\n  a = 2;", summary: /'a' is a const/, at: "a", hint: /declare it with let/ },
  "an optional output used unchecked": { kind: "missing-presence-check", body: "  opt.store(1.0, 0);", summary: /optional output 'opt' used where it may be absent/, at: "opt.store(1.0, 0)", hint: /if \(present\(opt\)\)/ },
};

describe("front-end errors", () => {
  it.each(Object.entries(cases))("%s", (_label, c) => {
    const e = errorOf(c.body, c.opts);
    expect(e.kind).toBe(c.kind);
    expect(e.summary).toMatch(c.summary);
    expect(e.hint).toMatch(c.hint);
    expect(e.message).toMatch(/^test\/tiny\.ts:\d+:\d+: error: /);
    // The excerpt is the source line, then a caret line whose marks sit under the offending text.
    const [line, carets] = e.excerpt.split("\n");
    const col = carets.indexOf("^");
    expect(col).toBeGreaterThan(0);
    expect(line.slice(col, col + c.at.length)).toBe(c.at);
    expect(line).toContain(`${String(e.pos.line).padStart(5)} | `);
  });

  it("reports the line and column of the offending node", () => {
    const e = errorOf("  const ok = 1;\n  const bad = exp3(2.0);");
    expect(e.pos).toEqual({ file: "test/tiny.ts", line: 3, col: 15 });
  });

  it("accepts an optional output inside if (present(...))", () => {
    expect(() => compileTiny("  if (threadIdx.x == 0 && present(opt)) opt.store(1.0, 0);")).not.toThrow();
  });
});
