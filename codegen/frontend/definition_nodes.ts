// Where a kernel's definition (the object literal passed to defineKernel) sits in its source file, so that
// errors about the spec, the heuristic or the rules can point at the line that says it. The definition is
// imported and run as JavaScript; this only finds the text it came from, and finds nothing when the
// definition is built in a way the text does not show (a computed name, a spread): callers fall back.

import { Node, SyntaxKind, type SourceFile } from "ts-morph";

/** A step into a definition: a property name of an object literal or an element index of an array literal. */
export type DefinitionStep = string | number;

/** The object literal of `defineKernel({ spec: { name: "<name>", ... }, ... })` in `sf`. */
function definitionLiteral(sf: SourceFile, name: string): Node | undefined {
  for (const call of sf.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    if (call.getExpression().getText() !== "defineKernel") continue;
    const literal = call.getArguments()[0];
    const nameNode = literal && step(step(literal, "spec"), "name");
    if (nameNode && Node.isStringLiteral(nameNode) && nameNode.getLiteralValue() === name) return literal;
  }
  return undefined;
}

/** The value of one property or element, or undefined when the literal does not spell it out. */
function step(node: Node | undefined, at: DefinitionStep): Node | undefined {
  if (typeof at === "number") return Node.isArrayLiteralExpression(node) ? node.getElements()[at] : undefined;
  if (!Node.isObjectLiteralExpression(node)) return undefined;
  const prop = node.getProperty(at);
  if (Node.isPropertyAssignment(prop)) return prop.getInitializerOrThrow();
  return prop; // a method or a shorthand property: the property itself
}

/**
 * The node at `path` inside the definition of kernel `name` (e.g. ["spec", "schedule", "threads"]), or the
 * deepest one on the way that the text spells out; undefined when the file has no such definition.
 */
export function definitionNode(sf: SourceFile, name: string, path: readonly DefinitionStep[]): Node | undefined {
  let node = definitionLiteral(sf, name);
  for (const at of path) {
    const next = step(node, at);
    if (!next) break;
    node = next;
  }
  // The name of a property reads better under a caret than its whole (often multi-line) value.
  const parent = node?.getParent();
  return Node.isPropertyAssignment(parent) && parent.getInitializer() === node ? parent : node;
}
