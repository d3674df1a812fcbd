// Errors in a kernel file outside its body: syntax errors, code of the file that throws (its top level,
// heuristic or rules), a heuristic choosing a value its knob does not declare, and bad spec values. Each
// reads like the other front-end errors: dsl/kernels/<file>:line:col, the source line, a caret, a hint.

import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { DslError, type DslErrorKind } from "../../codegen/frontend/diagnostics.js";
import { planGeneration } from "../../codegen/generate.js";
import { copyKernel, kernelRoot } from "../helpers/kernel_root.js";

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

async function errorOf(text: string): Promise<DslError> {
  const root = kernelRoot({ copy: text });
  roots.push(root);
  try {
    await planGeneration({ root, matrix: {} });
  } catch (e) {
    if (e instanceof DslError) return e;
    throw e;
  }
  throw new Error("expected a DslError, but generation succeeded");
}

interface Case {
  text: string;
  kind: DslErrorKind;
  summary: RegExp;
  /** The text the caret points at (its first occurrence in the file). */
  at: string;
  hint: RegExp;
}

const cases: Record<string, Case> = {
  "a syntax error": {
    text: copyKernel().replace('summary: "y = x",', 'summary: "y = x" "z",'),
    kind: "syntax",
    summary: /^',' expected$/,
    at: '"z"',
    hint: /fix the syntax/,
  },
  "a heuristic that throws": {
    text: copyKernel({ heuristic: '(c) => {\n    if (c.D === 128) throw new Error("no schedule for D=128");\n    return { threads: 32 };\n  }' }),
    kind: "kernel-code",
    summary: /^the heuristic of copy_rows \(for D=128\) threw: no schedule for D=128$/,
    at: 'new Error("no schedule',
    hint: /every combination of constants/,
  },
  "a heuristic outside its knob's values": {
    text: copyKernel({ heuristic: "(c) => ({ threads: c.D === 128 ? 48 : 32 })" }),
    kind: "bad-spec",
    summary: /^the heuristic of copy_rows chose threads=48, which is not one of the knob's values 32, 64 \(for D=128\)$/,
    at: "threads: c.D",
    hint: /spec\.schedule\.threads\.values, or add 48/,
  },
  "a rule that throws": {
    text: copyKernel({ rules: '(c, s) => undefined, (c, s) => { throw new RangeError("boom"); }' }),
    kind: "kernel-code",
    summary: /^rule 2 of copy_rows \(for D=64, schedule threads=32\) threw: boom$/,
    at: 'new RangeError("boom")',
    hint: /must not throw/,
  },
  "a top level that throws": {
    text: copyKernel({ before: 'const table = JSON.parse("{ not json");' }),
    kind: "kernel-code",
    summary: /^importing dsl\/kernels\/copy\.ts threw: .*JSON/,
    at: "parse(",
    hint: /top level runs when it is imported/,
  },
  "a knob value that is not a positive integer": {
    text: copyKernel({ threads: "32, 0.5" }),
    kind: "bad-spec",
    summary: /^schedule knob 'threads' of copy_rows has values that are not positive integers: 0\.5$/,
    at: "threads: { tag",
    hint: /positive integers/,
  },
  "a kernel name that is not an identifier": {
    text: copyKernel().replace('name: "copy_rows"', 'name: "copy-rows"'),
    kind: "bad-spec",
    summary: /^kernel name 'copy-rows' is not a C identifier$/,
    at: 'name: "copy-rows"',
    hint: /letters, digits and underscores/,
  },
};

describe("errors in a kernel file", () => {
  it.each(Object.entries(cases))("%s", async (_label, c) => {
    const e = await errorOf(c.text);
    expect(e.kind, e.message).toBe(c.kind);
    expect(e.summary).toMatch(c.summary);
    expect(e.hint).toMatch(c.hint);
    // Where the caret should be: the first occurrence of `at` in the file.
    const offset = c.text.indexOf(c.at);
    const before = c.text.slice(0, offset).split("\n");
    const line = before.length;
    const col = before.at(-1)!.length + 1;
    expect(e.message.split("\n")[0]).toBe(`dsl/kernels/copy.ts:${line}:${col}: error: ${e.summary}`);
    const [source, carets] = e.excerpt.split("\n");
    expect(source).toBe(`${String(line).padStart(5)} | ${c.text.split("\n")[line - 1]}`);
    expect(source.slice(carets.indexOf("^"))).toMatch(new RegExp(`^${c.at.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    expect(e.message).toMatch(/\n {2}hint: /);
  });
});
