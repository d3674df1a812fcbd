// Finds the kernels in dsl/kernels: parses each file with ts-morph for the bodies, which are compiled and
// never run (and for its syntax errors, reported before anything runs), then imports it for its definitions
// (plain data and schedule functions).

import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { Project, ts, type Node, type SourceFile } from "ts-morph";
import type { AnyKernelDefinition as KernelDefinition } from "../../dsl/lang/kernel.js";
import { checkSpec } from "./check_spec.js";
import { dslError, dslErrorAt } from "./diagnostics.js";
import { importError } from "./kernel_code.js";
import type { KernelSource } from "../types.js";

function isDefinition(v: unknown): v is KernelDefinition {
  const d = v as KernelDefinition;
  return typeof d === "object" && d !== null && typeof d.spec === "object" && typeof d.heuristic === "function" && Array.isArray(d.rules);
}

/** Only the syntax tree is used: no type checking, no imports or default libraries to read. */
function newProject(inMemory: boolean): Project {
  return new Project({ useInMemoryFileSystem: inMemory, skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true, compilerOptions: { noLib: true, noResolve: true, types: [] } });
}

/** The first syntax error of each file as a DslError, before the file is imported (esbuild would say it with an absolute path and no caret). */
function checkSyntax(project: Project, files: readonly { sf: SourceFile; file: string }[]): void {
  const program = project.getProgram();
  for (const { sf, file } of files) {
    const [d] = program.getSyntacticDiagnostics(sf);
    if (!d) continue;
    const text = ts.flattenDiagnosticMessageText(d.getMessageText() as string | ts.DiagnosticMessageChain, " ");
    const related = d.compilerObject.relatedInformation?.[0];
    const relatedLine = related?.start !== undefined ? sf.getLineAndColumnAtPos(related.start).line : undefined;
    const hint = related && relatedLine !== undefined
      ? `${ts.flattenDiagnosticMessageText(related.messageText, " ").replace(/\.$/, "")} (line ${relatedLine})`
      : "a kernel file is TypeScript: fix the syntax here (the file is parsed before it is imported)";
    throw dslErrorAt("syntax", sf, d.getStart() ?? 0, d.getLength() ?? 1, file, text.replace(/\.$/, "").replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase()), hint);
  }
}

/** The exported function holding the kernel's body. */
function bodyOf(sf: SourceFile, definition: KernelDefinition, file: string, at: Node) {
  const name = definition.spec.name;
  const fn = sf.getFunction(name);
  if (!fn || !fn.isExported()) throw dslError("bad-spec", at, file, `kernel ${name} has no exported function '${name}' with its body`, `add export function ${name}(c, s, ...) { ... } to ${file}`);
  return fn;
}

export async function loadKernels(root: string, only?: readonly string[]): Promise<KernelSource[]> {
  const dir = join(root, "dsl", "kernels");
  const project = newProject(false);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => ({ sf: project.addSourceFileAtPath(join(dir, f)), file: relative(root, join(dir, f)) }));
  checkSyntax(project, files);
  const sources: KernelSource[] = [];
  const seen = new Map<string, { definition: KernelDefinition; file: string }>();
  for (const { sf, file } of files) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(sf.getFilePath()).href)) as Record<string, unknown>;
    } catch (e) {
      throw importError(e, sf, file);
    }
    for (const [exported, value] of Object.entries(mod)) {
      if (!isDefinition(value)) continue;
      const at = sf.getVariableDeclaration(exported) ?? sf.getStatements()[0] ?? sf;
      checkSpec(value, file, sf, at);
      const name = value.spec.name;
      const before = seen.get(name);
      if (before?.definition === value) continue; // the same definition exported under a second name
      if (before) throw dslError("bad-spec", at, file, `kernel name '${name}' is also defined in ${before.file}`, "give each kernel its own name; names make variant files and C functions unique");
      seen.set(name, { definition: value, file });
      if (only && !only.includes(name)) continue;
      sources.push({ file, definition: value, fn: bodyOf(sf, value, file, at) });
    }
  }
  return sources;
}

/** A kernel from source text (tests and tools): the definition is given, the body is parsed from `text`. */
export function parseKernel(file: string, text: string, definition: KernelDefinition): KernelSource {
  const project = newProject(true);
  const sf = project.createSourceFile(file, text);
  checkSyntax(project, [{ sf, file }]);
  const at = sf.getStatements()[0] ?? sf;
  checkSpec(definition, file, sf, at);
  const fn = sf.getFunction(definition.spec.name);
  if (!fn) throw dslError("bad-spec", at, file, `no function '${definition.spec.name}' in the source`, `define function ${definition.spec.name}(c, s, ...)`);
  return { file, definition, fn };
}
