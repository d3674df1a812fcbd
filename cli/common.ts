// Helpers shared by the lim subcommands: the project root, list parsing, error reporting.

import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "commander";
import { DslError } from "../codegen/frontend/diagnostics.js";  // a plain class: no ts-morph at start-up
import { describeFsError } from "../codegen/fs_errors.js";

/** The toolkit's own folder (dsl/, templates/ and generated/ live here). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function parseList(flag: string, allowed?: readonly string[]) {
  return (value: string): string[] => {
    const items = value.split(",").map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`${flag} needs at least one value`);
    const bad = allowed ? items.filter((i) => !allowed.includes(i)) : [];
    if (bad.length) throw new InvalidArgumentError(`${flag}: unknown value ${bad.join(", ")}; choose from ${allowed!.join(", ")}`);
    const twice = items.filter((item, i) => items.indexOf(item) !== i);
    if (twice.length) throw new InvalidArgumentError(`${flag}: ${[...new Set(twice)].join(", ")} given twice; name each value once`);
    return items;
  };
}

/** One non-negative integer, in decimal digits (Number() would also take 0x80 and 1e2). */
export function parseInteger(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag}: '${value}' is not a non-negative integer`);
    return Number(value);
  };
}

/** A comma-separated list of positive integers in decimal digits, each named once. */
export function parseNumbers(flag: string) {
  return (value: string): number[] => {
    const items = parseList(flag)(value);
    return items.map((i) => {
      if (!/^\d+$/.test(i) || Number(i) === 0) throw new InvalidArgumentError(`${flag}: '${i}' is not a positive integer`);
      return Number(i);
    });
  };
}

/** Runs a command body; DSL errors and other failures become a message and a non-zero exit status. */
export function runAction(body: () => Promise<number>): Promise<void> {
  return body().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof DslError) {
        console.error(err.message);
        console.error("nothing was written");
      } else {
        // A file-system error Node raised anywhere (a tuning database, a folder) still reads as one line.
        console.error(`error: ${describeFsError(err) ?? (err instanceof Error ? err.message : String(err))}`);
      }
      process.exitCode = 1;
    },
  );
}
