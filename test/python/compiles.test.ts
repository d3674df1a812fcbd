// The Python side (the package in python/, its tests and examples, the benchmarks) needs PyTorch and a GPU
// to run, which CI does not have; it must at least compile, so that a syntax error never lands.

import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";

const python = spawnSync("python3", ["--version"]).status === 0;

function pythonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === "__pycache__" || name === "results") return [];
    if (statSync(path).isDirectory()) return pythonFiles(path);
    return name.endsWith(".py") ? [path] : [];
  });
}

describe.skipIf(!python)("Python sources", () => {
  const files = [...pythonFiles(join(PROJECT_ROOT, "python")), ...pythonFiles(join(PROJECT_ROOT, "bench"))];

  it("include the package, its tests and the benchmarks", () => {
    const names = files.map((f) => relative(PROJECT_ROOT, f));
    expect(names).toContain("python/lessismore/ops.py");
    expect(names).toContain("python/tests/custom_ops.py");
    expect(names).toContain("bench/e2e_decode.py");
  });

  it.each(files.map((f) => [relative(PROJECT_ROOT, f), f]))("%s compiles", (_name, file) => {
    // compile() only: nothing is imported, so PyTorch need not be installed.
    const r = spawnSync("python3", ["-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", file], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
