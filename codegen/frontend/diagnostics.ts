// Errors in kernel sources: every one names file:line:col, shows the source line with a caret under the
// offending text, and gives a hint. A generation that meets one writes nothing.

import type { Node, SourceFile } from "ts-morph";

/** Where a construct came from in a DSL source file (1-based line and column). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** The kinds of front-end error, so tests and tools can tell them apart. */
export type DslErrorKind =
  | "unsupported-syntax"
  | "unknown-name"
  | "unknown-primitive"
  | "type-mismatch"
  | "shape-mismatch"
  | "schedule-limit"
  | "not-compile-time"
  | "read-only"
  | "missing-presence-check"
  | "bad-spec"
  | "syntax"
  | "kernel-code";

export class DslError extends Error {
  constructor(
    readonly kind: DslErrorKind,
    readonly pos: SourcePos,
    readonly summary: string,
    readonly hint: string,
    readonly excerpt: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.col}: error: ${summary}\n${excerpt}\n  hint: ${hint}`);
    this.name = "DslError";
  }
}

/** Position of a node, with the file path relative to the project root as given by the caller. */
export function posOf(node: Node, file: string): SourcePos {
  // The compiler's cached line map (a binary search): ts-morph's getLineAndColumnAtPos counts the newlines
  // before the node on every call, which was half of the time spent elaborating a variant.
  const { line, character } = node.getSourceFile().compilerNode.getLineAndCharacterOfPosition(node.getStart());
  return { file, line: line + 1, col: character + 1 };
}

/** The source line holding `start` with a caret and tildes under `width` characters from there. */
function excerptAt(sf: SourceFile, start: number, width: number): string {
  const { line, column } = sf.getLineAndColumnAtPos(start);
  const text = sf.getFullText().split("\n")[line - 1] ?? "";
  const marks = Math.max(1, Math.min(width, text.length - (column - 1)));
  const gutter = `${String(line).padStart(5)} | `;
  return `${gutter}${text}\n${" ".repeat(gutter.length + column - 1)}^${"~".repeat(marks - 1)}`;
}

function firstLineLength(node: Node): number {
  return node.getText().split("\n")[0].length;
}

export function dslError(kind: DslErrorKind, node: Node, file: string, summary: string, hint: string): DslError {
  return dslErrorAt(kind, node.getSourceFile(), node.getStart(), firstLineLength(node), file, summary, hint);
}

/** An error at a span of a source file that is not a whole node (a syntax error, a stack frame). */
export function dslErrorAt(kind: DslErrorKind, sf: SourceFile, start: number, width: number, file: string, summary: string, hint: string): DslError {
  const { line, column } = sf.getLineAndColumnAtPos(start);
  return new DslError(kind, { file, line, col: column }, summary, hint, excerptAt(sf, start, width));
}
