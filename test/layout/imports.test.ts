// Who may import what: product code (everything outside test/ and bench/) never imports tests or
// benchmarks, and nothing outside test/ imports test/. The CPU references and seeded generators that the
// tuner shares with the tests live in reference/, the tuner in autotune/, the report in report/.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";

/** Folders that hold no source of ours (or only outputs). */
const SKIPPED = new Set(["node_modules", ".git", "build", ".carry"]);

/** Every .ts file under the project root, relative to it, with forward slashes. */
function typescriptFiles(dir = PROJECT_ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.has(entry.name) ? [] : typescriptFiles(path);
    return entry.isFile() && entry.name.endsWith(".ts") ? [relative(PROJECT_ROOT, path).split(sep).join("/")] : [];
  });
}

/** Specifiers of static imports and re-exports, side-effect imports and dynamic import() calls. */
function importSpecifiers(text: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;
  return [...text.matchAll(pattern)].map((m) => m[1]);
}

/** The project folder (first path segment) each relative import of `file` lands in. */
function importedFolders(file: string): { specifier: string; folder: string }[] {
  const text = readFileSync(join(PROJECT_ROOT, file), "utf8");
  return importSpecifiers(text)
    .filter((s) => s.startsWith("."))
    .map((specifier) => {
      const target = relative(PROJECT_ROOT, resolve(PROJECT_ROOT, dirname(file), specifier)).split(sep);
      return { specifier, folder: target[0] };
    });
}

const topFolder = (file: string) => (file.includes("/") ? file.slice(0, file.indexOf("/")) : "");

describe("layout", () => {
  const files = typescriptFiles();

  it("finds the imports it checks", () => {
    expect(importSpecifiers(`import { a } from "./a.js";\nexport * from '../b.js';\nimport "./c.js";\nawait import("../d.js");\nimport type {\n  E,\n} from "./e.js";`)).toEqual([
      "./a.js", "../b.js", "./c.js", "../d.js", "./e.js",
    ]);
    expect(files).toContain("cli/tune_command.ts");
    expect(importedFolders("cli/tune_command.ts").map((i) => i.folder)).toContain("autotune");
  });

  it("no file outside test/ imports test/", () => {
    const offenders = files
      .filter((f) => topFolder(f) !== "test")
      .flatMap((f) => importedFolders(f).filter((i) => i.folder === "test").map((i) => `${f}: ${i.specifier}`));
    expect(offenders).toEqual([]);
  });

  it("dependencies flow one way: dsl/ imports nothing outside it, codegen/ nothing of the runtime, the CLI or the tools", () => {
    const downstream: Record<string, readonly string[]> = {
      dsl: ["codegen", "templates", "generated", "runtime", "cli", "autotune", "report", "reference", "bench", "tuning"],
      codegen: ["generated", "runtime", "cli", "autotune", "report", "bench"],
      runtime: ["cli", "autotune", "report", "bench"],
    };
    const offenders = files.flatMap((f) =>
      importedFolders(f).filter((i) => downstream[topFolder(f)]?.includes(i.folder)).map((i) => `${f}: ${i.specifier}`),
    );
    expect(offenders).toEqual([]);
  });

  it("no product code imports bench/", () => {
    const offenders = files
      .filter((f) => topFolder(f) !== "test" && topFolder(f) !== "bench")
      .flatMap((f) => importedFolders(f).filter((i) => i.folder === "bench").map((i) => `${f}: ${i.specifier}`));
    expect(offenders).toEqual([]);
  });
});
