// A kernel file's own TypeScript runs while generating: its top level when it is imported, its heuristic for
// every constant combination, its rules for every schedule. What that code throws, and a heuristic that picks
// a value its knob does not declare, become DslErrors at the kernel file's line like any front-end error,
// instead of a bare `error: boom` with no file.

import { fileURLToPath } from "node:url";
import { Node, SyntaxKind, type SourceFile } from "ts-morph";
import type { KernelSpec, RuleResult } from "../../dsl/lang/kernel.js";
import { definitionNode, type DefinitionStep } from "./definition_nodes.js";
import { DslError, dslError } from "./diagnostics.js";
import type { Constants, KernelSource, Schedule } from "../types.js";

/** `D=128 dtype=bf16`, as schedules are shown in other errors. */
function shown(values: Readonly<Record<string, unknown>>): string {
  return Object.entries(values).map(([k, v]) => `${k}=${String(v)}`).join(" ");
}

/**
 * The expression in `sf` that threw `e`: the first stack frame in that file. tsx and vitest map frames back
 * to the TypeScript source, so line and column are the file's own.
 */
function thrownAt(e: unknown, sf: SourceFile): Node | undefined {
  const stack = e instanceof Error ? (e.stack ?? "") : "";
  for (const m of stack.matchAll(/(?:\(|at )([^()\s]+):(\d+):(\d+)\)?$/gm)) {
    if ((m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1]) !== sf.getFilePath()) continue;
    const line = Number(m[2]) - 1;
    const starts = sf.compilerNode.getLineStarts();
    if (line >= starts.length) return undefined;
    let node = sf.getDescendantAtPos(starts[line] + Number(m[3]) - 1);
    // From the token at the column up to the largest expression starting there (`new Error(...)`, a call).
    for (let up = node?.getParent(); node && up && up.getStart() === node.getStart() && !Node.isBlock(up) && !Node.isSourceFile(up); up = up.getParent()) node = up;
    return node;
  }
  return undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs one piece of a kernel's definition; an exception becomes a DslError at the throw, else at the piece. */
function attempt<T>(src: KernelSource, piece: readonly DefinitionStep[], what: string, hint: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof DslError) throw e;
    const sf = src.fn.getSourceFile();
    const at = thrownAt(e, sf) ?? definitionNode(sf, src.definition.spec.name, piece) ?? src.fn.getNameNode() ?? src.fn;
    throw dslError("kernel-code", at, src.file, `${what} threw: ${message(e)}`, hint);
  }
}

/** The heuristic's schedule for `constants`, checked against the knobs the spec declares. */
export function runHeuristic(src: KernelSource, constants: Constants): Schedule {
  const spec: KernelSpec = src.definition.spec;
  const schedule: unknown = attempt(
    src,
    ["heuristic"],
    `the heuristic of ${spec.name} (for ${shown(constants)})`,
    "the heuristic runs for every combination of constants in the matrix: make it return a schedule for each",
    () => src.definition.heuristic(constants as never),
  );
  const knobs = Object.keys(spec.schedule);
  const sf = src.fn.getSourceFile();
  const heuristic = definitionNode(sf, spec.name, ["heuristic"]) ?? src.fn.getNameNode() ?? src.fn;
  const fail = (summary: string, hint: string, at: Node = heuristic): never => {
    throw dslError("bad-spec", at, src.file, `the heuristic of ${spec.name} ${summary} (for ${shown(constants)})`, hint);
  };
  if (typeof schedule !== "object" || schedule === null) return fail(`returned ${String(schedule)}, not a schedule`, `return an object with a value for each knob: ${knobs.join(", ")}`);
  const chosen = schedule as Record<string, unknown>;
  for (const extra of Object.keys(chosen).filter((k) => !knobs.includes(k))) {
    fail(`sets '${extra}', which is not a schedule knob of ${spec.name}`, `the knobs are: ${knobs.join(", ")}`, propertyIn(heuristic, extra) ?? heuristic);
  }
  for (const [knob, { values }] of Object.entries(spec.schedule)) {
    const value = chosen[knob];
    if (value === undefined) fail(`gives no value for the knob '${knob}'`, `return one of ${values.join(", ")} for ${knob}`);
    if (!values.includes(value as number)) {
      fail(
        `chose ${knob}=${String(value)}, which is not one of the knob's values ${values.join(", ")}`,
        `return one of spec.schedule.${knob}.values, or add ${String(value)} to them`,
        propertyIn(heuristic, knob, String(value)) ?? heuristic,
      );
    }
  }
  return chosen as Schedule;
}

/** Rule `index` of the kernel on one schedule: undefined when the schedule obeys it, else what it breaks. */
export function runRule(src: KernelSource, index: number, constants: Constants, schedule: Schedule): RuleResult {
  const spec = src.definition.spec;
  return attempt(
    src,
    ["rules", index],
    `rule ${index + 1} of ${spec.name} (for ${shown(constants)}, schedule ${shown(schedule)})`,
    "a rule returns undefined when the schedule is fine and a sentence saying what it breaks otherwise; it must not throw",
    () => src.definition.rules[index](constants as never, schedule as never),
  );
}

/** Importing a kernel file failed while running its top level (a syntax error is caught before the import). */
export function importError(e: unknown, sf: SourceFile, file: string): DslError {
  const at = thrownAt(e, sf) ?? sf.getStatements()[0] ?? sf;
  return dslError("kernel-code", at, file, `importing ${file} threw: ${message(e)}`, "the file's top level runs when it is imported (its definitions): fix the code at this line");
}

/** The `knob: value` property inside a heuristic, preferring the one that spells `value`. */
function propertyIn(heuristic: Node, knob: string, value?: string): Node | undefined {
  const props = heuristic.getDescendantsOfKind(SyntaxKind.PropertyAssignment).filter((p) => p.getName() === knob);
  return props.find((p) => p.getInitializer()?.getText() === value) ?? props[0];
}
