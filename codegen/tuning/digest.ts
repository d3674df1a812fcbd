// The digest a tuning entry is stored with: it covers what a tuned schedule's validity and speed depend
// on, the code of the kernel's function (its signature and body) and of the file-level functions that body
// calls, and nothing else. Comments (inside the functions too), layout, the spec, the rules and the
// heuristic can change without making measured schedules stale (the chooser still checks a tuned schedule
// against the rules): the functions are printed without comments, in the printer's own layout.

import { ts, type CallExpression, type FunctionDeclaration } from "ts-morph";
import { sourceDigest } from "./database.js";

/** The file-level functions `fn` calls, directly or through each other, in the order first called. */
function calledFunctions(fn: FunctionDeclaration): FunctionDeclaration[] {
  const file = fn.getSourceFile();
  const found: FunctionDeclaration[] = [];
  const visit = (f: FunctionDeclaration) =>
    f.forEachDescendant((node) => {
      // Kinds by name: ts-morph's SyntaxKind would load the whole compiler where only types are needed.
      if (node.getKindName() !== "CallExpression") return;
      const callee = file.getFunction((node as CallExpression).getExpression().getText());
      if (callee && callee !== fn && !found.includes(callee)) {
        found.push(callee);
        visit(callee);
      }
    });
  visit(fn);
  return found;
}

/** The digest of a kernel as tuned: its function's code and that of the functions it calls. */
export function kernelDigest(fn: FunctionDeclaration): string {
  const printer = ts.createPrinter({ removeComments: true });
  const file = fn.getSourceFile().compilerNode;
  return sourceDigest([fn, ...calledFunctions(fn)].map((f) => printer.printNode(ts.EmitHint.Unspecified, f.compilerNode, file)).join("\n"));
}
