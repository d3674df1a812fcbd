// Finds the kernels in dsl/kernels: imports each file for its definitions (plain data and schedule
// functions) and parses it with ts-morph for the bodies, which are compiled and never run.

import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { Project } from "ts-morph";
import type { AnyKernelDefinition as KernelDefinition, KernelSpec } from "../../dsl/lang/kernel.js";
import { DslError } from "./diagnostics.js";
import type { KernelSource } from "../types.js";
import { bucketRanges } from "../variants.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isDefinition(v: unknown): v is KernelDefinition {
  const d = v as KernelDefinition;
  return typeof d === "object" && d !== null && typeof d.spec === "object" && typeof d.heuristic === "function" && Array.isArray(d.rules);
}

function specError(file: string, summary: string, hint: string): DslError {
  return new DslError("bad-spec", { file, line: 1, col: 1 }, summary, hint, "");
}

/** Checks what the type checker cannot: identifiers, non-empty value lists, distinct tags. */
function checkSpec(file: string, d: KernelDefinition): void {
  const spec: KernelSpec = d.spec;
  if (!IDENT.test(spec.name)) throw specError(file, `kernel name '${spec.name}' is not a C identifier`, "use letters, digits and underscores");
  for (const [k, values] of Object.entries(spec.constants)) {
    if (!IDENT.test(k)) throw specError(file, `constant name '${k}' of ${spec.name} is not an identifier`, "use letters, digits and underscores");
    if (values.length === 0) throw specError(file, `constant '${k}' of ${spec.name} lists no values`, "list the values the default matrix covers");
  }
  const tags = Object.values(spec.schedule).map((k) => k.tag);
  if (new Set(tags).size !== tags.length) throw specError(file, `schedule tags of ${spec.name} repeat: ${tags.join(", ")}`, "give each knob its own tag; tags make variant names unique");
  try {
    bucketRanges(spec);
  } catch (e) {
    throw specError(file, (e as Error).message, "list ascending bounds and one tunedAt value inside each bucket");
  }
}

export async function loadKernels(root: string, only?: readonly string[]): Promise<KernelSource[]> {
  const dir = join(root, "dsl", "kernels");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts")).sort();
  const project = new Project({ skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true });
  const sources: KernelSource[] = [];
  for (const f of files) {
    const abs = join(dir, f);
    const file = relative(root, abs);
    const mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    const sf = project.addSourceFileAtPath(abs);
    for (const value of Object.values(mod)) {
      if (!isDefinition(value)) continue;
      checkSpec(file, value);
      if (only && !only.includes(value.spec.name)) continue;
      const fn = sf.getFunction(value.spec.name);
      if (!fn || !fn.isExported()) throw specError(file, `kernel ${value.spec.name} has no exported function '${value.spec.name}' with its body`, `add export function ${value.spec.name}(c, s, ...) { ... } to ${file}`);
      sources.push({ file, definition: value, fn });
    }
  }
  return sources;
}

/** A kernel from source text (tests and tools): the definition is given, the body is parsed from `text`. */
export function parseKernel(file: string, text: string, definition: KernelDefinition): KernelSource {
  checkSpec(file, definition);
  const project = new Project({ useInMemoryFileSystem: true, skipAddingFilesFromTsConfig: true });
  const sf = project.createSourceFile(file, text);
  const fn = sf.getFunction(definition.spec.name);
  if (!fn) throw specError(file, `no function '${definition.spec.name}' in the source`, `define function ${definition.spec.name}(c, s, ...)`);
  return { file, definition, fn };
}
