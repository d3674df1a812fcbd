// Writing the output folder: all or nothing, only changed files, and removals limited to what the previous
// manifest lists. Small in-memory file sets stand in for a generation (the writer does not care).

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OutputError } from "../../codegen/fs_errors.js";
import { checkOwnedFolder, compareGenerated, writeGenerated } from "../../codegen/write.js";
import { hashFolder } from "../helpers/folder_hash.js";

/** What a generation of these variant files produces: the files, a library header and the manifest. */
function generation(variants: readonly string[], version = 1): Map<string, string> {
  const files = new Map(variants.map((v) => [`kernels/${v}.cu`, `// ${v}, version ${version}\n`]));
  files.set("include/lim.h", `// library, version ${version}\n`);
  files.set("manifest.json", `${JSON.stringify({ variants: variants.map((v) => ({ name: v, file: `kernels/${v}.cu` })) }, null, 2)}\n`);
  return files;
}

let parent: string;
let out: string;
beforeEach(() => {
  parent = mkdtempSync(join(tmpdir(), "lim-write-"));
  out = join(parent, "out");
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

/** Runs a write that must fail: one line naming the problem, the folder byte-identical, no staging left. */
function expectFailure(files: ReadonlyMap<string, string>, message: RegExp): string {
  const before = hashFolder(parent);
  let error: unknown;
  try {
    writeGenerated(out, files);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(OutputError);
  const text = (error as Error).message;
  expect(text).toMatch(message);
  expect(text).not.toContain("\n");
  expect(text).not.toMatch(/^E[A-Z]+:/);
  expect(hashFolder(parent)).toEqual(before);
  return text;
}

describe("writing the output folder", () => {
  it("creates a missing folder whole, then writes only the files that changed", () => {
    const first = writeGenerated(join(out, "deeper"), generation(["a", "b"]));
    expect(first.map((r) => r.status)).toEqual(["written", "written", "written", "written"]);
    const a = join(out, "deeper/kernels/a.cu");
    const mtime = statSync(a).mtimeMs;
    const next = generation(["a", "b"]);
    next.set("kernels/b.cu", "// b, edited\n");
    const second = writeGenerated(join(out, "deeper"), next);
    expect(second.filter((r) => r.status !== "unchanged")).toEqual([{ path: "kernels/b.cu", status: "written" }]);
    expect(statSync(a).mtimeMs).toBe(mtime);
    expect(readdirSync(parent)).toEqual(["out"]); // no staging folder left beside it
  });

  it("keeps a user's own file in kernels/ and removes only what the previous manifest listed", () => {
    writeGenerated(out, generation(["a", "b"]));
    writeFileSync(join(out, "kernels/my_kernel.cu"), "// mine\n");
    const reports = writeGenerated(out, generation(["a"]));
    expect(reports.filter((r) => r.status !== "unchanged")).toEqual([
      { path: "manifest.json", status: "written" },
      { path: "kernels/b.cu", status: "removed" },
    ]);
    expect(readdirSync(join(out, "kernels")).sort()).toEqual(["a.cu", "my_kernel.cu"]);
    expect(readFileSync(join(out, "kernels/my_kernel.cu"), "utf8")).toBe("// mine\n");
  });

  it("never removes a manifest entry that points outside the folder", () => {
    mkdirSync(out);
    writeFileSync(join(parent, "precious.cu"), "// outside\n");
    writeFileSync(join(out, "manifest.json"), JSON.stringify({ variants: [{ file: "../precious.cu" }, { file: join(parent, "precious.cu") }] }));
    writeGenerated(out, generation(["a"]));
    expect(existsSync(join(parent, "precious.cu"))).toBe(true);
  });

  it("--check reports what a write would remove as extra, and not a user's file", () => {
    writeGenerated(out, generation(["a", "b"]));
    writeFileSync(join(out, "kernels/my_kernel.cu"), "// mine\n");
    const bad = compareGenerated(out, generation(["a"])).filter((r) => r.status !== "unchanged");
    expect(bad).toEqual([
      { path: "manifest.json", status: "stale" },
      { path: "kernels/b.cu", status: "extra" },
    ]);
  });
});

describe("a write that cannot be done leaves the folder byte-identical", () => {
  beforeEach(() => {
    writeGenerated(out, generation(["a", "b"]));
    writeFileSync(join(out, "kernels/my_kernel.cu"), "// mine\n");
  });

  it("when a file stands where a folder goes", () => {
    rmSync(join(out, "include"), { recursive: true });
    writeFileSync(join(out, "include"), "not a folder\n");
    expectFailure(generation(["a", "c"], 2), new RegExp(`^${join(out, "include")} is a file, but generation writes a folder there; move it away or choose another output folder$`));
  });

  it("when a folder stands where a file goes", () => {
    mkdirSync(join(out, "kernels/c.cu"));
    expectFailure(generation(["a", "c"], 2), /kernels\/c\.cu is a folder, but generation writes a file there/);
  });

  it("when the output folder is a file", () => {
    rmSync(out, { recursive: true });
    writeFileSync(out, "a file\n");
    expectFailure(generation(["a"]), new RegExp(`^the output folder ${out} is a file`));
    // --check too, through compare: the same error, same words.
    expect(() => compareGenerated(out, generation(["a"]))).toThrow(OutputError);
    expect(() => compareGenerated(out, generation(["a"]))).toThrow(new RegExp(`^the output folder ${out} is a file`));
  });

  it("when a name is too long for the file system", () => {
    expectFailure(generation(["a", "b", "x".repeat(300)], 2), /kernels\/x+\.cu: the name is too long for the file system/);
  });

  it.skipIf(process.getuid?.() === 0)("when the folder is read-only", () => {
    chmodSync(join(out, "kernels"), 0o555);
    try {
      expectFailure(generation(["a", "c"], 2), /kernels is not writable; make it writable or choose another output folder/);
    } finally {
      chmodSync(join(out, "kernels"), 0o755);
    }
  });
});

describe("checkOwnedFolder (lim generate's check of --out)", () => {
  it("takes a new folder, one of dotfiles only, and one whose manifest names lim, conflict markers and all", () => {
    expect(() => checkOwnedFolder(out)).not.toThrow();
    mkdirSync(out);
    writeFileSync(join(out, ".gitkeep"), "");
    expect(() => checkOwnedFolder(out)).not.toThrow();
    writeFileSync(join(out, "manifest.json"), '<<<<<<< HEAD\n{\n  "generator": "lim 0.1.0",\n=======\n>>>>>>> theirs\n');
    expect(() => checkOwnedFolder(out)).not.toThrow();
  });

  it("refuses a folder of other files, or with another tool's manifest.json", () => {
    mkdirSync(out);
    writeFileSync(join(out, "abi.cpp"), "// the user's own\n");
    expect(() => checkOwnedFolder(out)).toThrow(OutputError);
    writeFileSync(join(out, "manifest.json"), '{"generator": "another tool"}\n');
    expect(() => checkOwnedFolder(out)).toThrow(/holds files, and no manifest.json of lim generate says they are generated; choose a new or empty folder/);
  });
});
