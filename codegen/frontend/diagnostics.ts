// Errors in kernel sources: every one names file:line:col, shows the source line with a caret under the
// offending text, and gives a hint. A generation that meets one writes nothing.

import type { Node } from "ts-morph";

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
  | "bad-spec";

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
  const sf = node.getSourceFile();
  const { line, column } = sf.getLineAndColumnAtPos(node.getStart());
  return { file, line, col: column };
}

/** The source line of a node with a caret and tildes under the node's text (first line of it). */
export function excerptOf(node: Node): string {
  const sf = node.getSourceFile();
  const start = node.getStart();
  const { line, column } = sf.getLineAndColumnAtPos(start);
  const text = sf.getFullText().split("\n")[line - 1] ?? "";
  const nodeText = node.getText().split("\n")[0];
  const width = Math.max(1, Math.min(nodeText.length, text.length - (column - 1)));
  const gutter = `${String(line).padStart(5)} | `;
  return `${gutter}${text}\n${" ".repeat(gutter.length + column - 1)}^${"~".repeat(width - 1)}`;
}

export function dslError(kind: DslErrorKind, node: Node, file: string, summary: string, hint: string): DslError {
  return new DslError(kind, posOf(node, file), summary, hint, excerptOf(node));
}
