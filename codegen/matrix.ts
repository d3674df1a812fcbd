// The check of a requested generation matrix against the supported one (dsl/lang/matrix.ts): an unsupported
// value becomes a message naming the nearest supported choice.

import { SUPPORTED_MATRIX, type MatrixAxis } from "../dsl/lang/matrix.js";

/** The command-line flag of each axis and what one value is called, for messages. */
const AXIS_WORDS: Readonly<Record<MatrixAxis, { flag: string; one: string; many: string }>> = {
  headDims: { flag: "--head-dims", one: "head dim", many: "head dims" },
  groupSizes: { flag: "--group-sizes", one: "group size", many: "group sizes" },
  dtypes: { flag: "--dtypes", one: "dtype", many: "dtypes" },
  budgets: { flag: "--budgets", one: "budget", many: "budgets" },
  caches: { flag: "--caches", one: "cache layout", many: "cache layouts" },
  kvDtypes: { flag: "--kv-dtypes", one: "K/V cache dtype", many: "K/V cache dtypes" },
};

/** Edit distance, to name the supported word closest to a mistyped one. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length];
}

/**
 * The supported values nearest to `value`: for a number, its supported neighbours below and above (one
 * of them at either end of the list); for a word, the closest by edit distance (ties: all of them).
 */
export function nearestSupported(value: number | string, supported: readonly (number | string)[]): (number | string)[] {
  if (typeof value === "number") {
    const numbers = (supported as number[]).filter((s) => typeof s === "number").sort((a, b) => a - b);
    const below = numbers.filter((s) => s < value).at(-1);
    const above = numbers.find((s) => s > value);
    return [below, above].filter((s): s is number => s !== undefined);
  }
  const words = supported.map(String);
  const best = Math.min(...words.map((w) => editDistance(value, w)));
  return words.filter((w) => editDistance(value, w) === best);
}

/** The message for a value outside an axis's supported list, or undefined when it is supported. */
export function unsupportedMessage(axis: MatrixAxis, value: number | string): string | undefined {
  const supported = SUPPORTED_MATRIX[axis] as readonly (number | string)[];
  if (supported.includes(value)) return undefined;
  const words = AXIS_WORDS[axis];
  const near = nearestSupported(value, supported);
  const nearest = near.length === 1 ? `the nearest supported ${words.one} is ${near[0]}` : `the nearest supported ${words.many} are ${near.join(" and ")}`;
  return `${words.flag}: ${value} is not supported; ${nearest} (supported: ${supported.join(", ")})`;
}

/** Throws naming every unsupported value of a requested matrix (axes left out take the defaults). */
export function validateMatrix(matrix: Partial<Record<MatrixAxis, readonly (number | string)[] | undefined>>): void {
  const problems = (Object.keys(AXIS_WORDS) as MatrixAxis[]).flatMap((axis) =>
    (matrix[axis] ?? []).map((v) => unsupportedMessage(axis, v)).filter((m): m is string => m !== undefined),
  );
  if (problems.length > 0) throw new Error(problems.join("\n"));
}
