// A kernel's grid, as its spec states it: each axis an expression over the kernel's run-time sizes and i32
// arguments, its constants (c.X) and its schedule (s.X): names, numbers, + - * / and ceilDiv(a, b). For
// example `ceilDiv(B, s.threads)` or `Hq + Hkv`. The launch computes it on the host from the parameter
// block, so no caller computes a grid extent by hand.

import { ts } from "ts-morph";

export interface GridAxisProblem {
  readonly message: string;
  readonly hint: string;
}

/** Host C for one axis over the parameter block `p`, or the problem with it. */
export function lowerGridAxis(
  text: string,
  runtimeNames: ReadonlySet<string>,
  constants: Readonly<Record<string, number | string>>,
  schedule: Readonly<Record<string, number>>,
): string | GridAxisProblem {
  const file = ts.createSourceFile("grid.ts", `(${text});`, ts.ScriptTarget.ES2022);
  const statement = file.statements[0];
  if (file.statements.length !== 1 || !ts.isExpressionStatement(statement)) return { message: `grid axis '${text}' is not one expression`, hint: "e.g. \"B\" or \"ceilDiv(B, s.threads)\"" };
  const problem = (what: string): GridAxisProblem => ({
    message: `grid axis '${text}': ${what}`,
    hint: `an axis uses run-time sizes and i32 arguments (${[...runtimeNames].join(", ")}), c.X, s.X, numbers, + - * / and ceilDiv(a, b)`,
  });
  const lower = (n: ts.Expression): string | GridAxisProblem => {
    if (ts.isParenthesizedExpression(n)) {
      const inner = lower(n.expression);
      return typeof inner === "string" ? `(${inner})` : inner;
    }
    if (ts.isNumericLiteral(n)) return Number.isInteger(Number(n.text)) ? n.text : problem(`${n.text} is not a whole number`);
    if (ts.isIdentifier(n)) return runtimeNames.has(n.text) ? `p->${n.text}` : problem(`'${n.text}' is no run-time size or i32 argument`);
    if (ts.isPropertyAccessExpression(n) && ts.isIdentifier(n.expression)) {
      const table = n.expression.text === "c" ? constants : n.expression.text === "s" ? schedule : undefined;
      const value = table?.[n.name.text];
      if (typeof value === "number") return String(value);
      return problem(`'${n.getText(file)}' is no numeric constant or schedule knob of this kernel`);
    }
    if (ts.isBinaryExpression(n)) {
      const op = n.operatorToken.getText(file);
      if (!["+", "-", "*", "/"].includes(op)) return problem(`the operator ${op} is not allowed`);
      const [a, b] = [lower(n.left), lower(n.right)];
      if (typeof a !== "string") return a;
      if (typeof b !== "string") return b;
      return `${a} ${op} ${b}`;
    }
    if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === "ceilDiv" && n.arguments.length === 2) {
      const [a, b] = n.arguments.map(lower);
      if (typeof a !== "string") return a;
      if (typeof b !== "string") return b;
      return `((${a}) + (${b}) - 1) / (${b})`;
    }
    return problem(`'${n.getText(file)}' is not allowed`);
  };
  const top = statement.expression; // the parentheses added above
  return lower(ts.isParenthesizedExpression(top) ? top.expression : top);
}
