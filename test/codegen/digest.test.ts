// The tuning digest covers a kernel's code only: its function and the file-level functions it calls, without
// comments or layout. Edits elsewhere in the file (comments, spec, rules, heuristic) and comments or layout
// inside the functions leave tuned schedules current.

import { Project } from "ts-morph";
import { expect, it } from "vitest";
import { kernelDigest } from "../../codegen/tuning/digest.js";

const project = new Project({ useInMemoryFileSystem: true });
function digestOf(text: string, name = "k"): string {
  return kernelDigest(project.createSourceFile("/k.ts", text, { overwrite: true }).getFunctionOrThrow(name));
}

const file = (parts: { comment?: string; rule?: string; helper?: string; body?: string }) => `// ${parts.comment ?? "a kernel"}
function helper(x: number): number {
  return ${parts.helper ?? "x + 1"};
}
function unused(): number {
  return 0;
}
export const spec = { rules: [${parts.rule ?? "() => undefined"}] };
/** The body. */
export function k(c: unknown, s: unknown, y: number): void {
  const v = helper(${parts.body ?? "y"});
}
export function other(): void {}
`;

it("changes with the kernel's body and the functions it calls, not with the rest of the file", () => {
  const base = digestOf(file({}));
  expect(base).toMatch(/^[0-9a-f]{16}$/);
  expect(digestOf(file({ comment: "reworded" }))).toBe(base);
  expect(digestOf(file({ rule: '() => "no"' }))).toBe(base);
  expect(digestOf(file({}).replace("export function other(): void {}", "export function other(): void { return; }"))).toBe(base);
  expect(digestOf(file({}).replace("return 0;", "return 1;"))).toBe(base); // a function the kernel does not call
  expect(digestOf(file({ body: "y /* doubled later */" }))).toBe(base); // a comment inside the body
  const relaid = file({}).replace("const v = helper(y);", "// the helper's value\n  const v   =   helper( y );");
  expect(relaid).not.toBe(file({}));
  expect(digestOf(relaid)).toBe(base); // and the layout
  expect(digestOf(file({ body: "y * 2" }))).not.toBe(base);
  expect(digestOf(file({ helper: "x + 2" }))).not.toBe(base);
});
