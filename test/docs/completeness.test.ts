// The documentation stays whole and inside the repository: docs/dsl.md describes every primitive the
// language declares, docs/abi.md lists every function of the C header, and every relative link in docs/
// and the README leads to a file of the repository.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import * as lang from "../../dsl/lang/builtins.js";

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), "utf8");
const DOCS = readdirSync(join(PROJECT_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`);

describe("docs", () => {
  it("docs/dsl.md has a section for every primitive of dsl/lang/builtins.ts", () => {
    const documented = new Set([...read("docs/dsl.md").matchAll(/^#### `(\w+)/gm)].map((m) => m[1]));
    const missing = Object.keys(lang).filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  it("docs/abi.md lists every function of generated/include/lim.h", () => {
    const header = read("generated/include/lim.h");
    const declared = [...header.matchAll(/^(?:int|const char\*)\s+(lim_\w+)\(/gm)].map((m) => m[1]);
    expect(declared.length).toBeGreaterThan(10);
    const abi = read("docs/abi.md");
    expect(declared.filter((name) => !abi.includes(`\`${name}`))).toEqual([]);
  });

  it("every relative link in docs/ and README.md leads to a file of the repository", () => {
    const broken: string[] = [];
    for (const file of [...DOCS, "README.md"]) {
      for (const [, target] of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target) || target.startsWith("#")) continue;
        const path = resolve(PROJECT_ROOT, dirname(file), target.split("#")[0]);
        const inside = !relative(PROJECT_ROOT, path).startsWith(`..${sep}`);
        if (!inside || !existsSync(path)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("no page refers to a design document outside the repository", () => {
    const offenders = [...DOCS, "README.md"].filter((file) => /DESIGN\.md|\.\.\/shared\b/.test(read(file)));
    expect(offenders).toEqual([]);
  });
});
