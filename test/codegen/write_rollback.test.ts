// A write that fails part way, in the staging folder or while moving files into place, leaves the output
// folder byte-identical: every point of failure is tried, by making the n-th file-system call of that
// kind fail (as a full disk or a vanished mount would).

import * as fs from "node:fs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { OutputError } from "../../codegen/fs_errors.js";
import { writeGenerated } from "../../codegen/write.js";
import { hashFolder } from "../helpers/folder_hash.js";

const failing = vi.hoisted(() => ({ call: "" as string, after: -1, counts: {} as Record<string, number>, denied: "" }));

vi.mock("node:fs", async (original) => {
  const real = await original<typeof import("node:fs")>();
  const failOn =
    <A extends unknown[], R>(name: string, fn: (...a: A) => R) =>
    (...args: A): R => {
      failing.counts[name] = (failing.counts[name] ?? 0) + 1;
      if (failing.call === name && failing.after-- === 0) {
        throw Object.assign(new Error(`EIO: i/o error, ${name} '${String(args[0])}'`), { code: "EIO", syscall: name, path: String(args[0]) });
      }
      return fn(...args);
    };
  // A folder the user may not write to, whoever the user is (root passes every permission check of the OS).
  const accessSync = (path: fs.PathLike, mode?: number): void => {
    if (failing.denied !== "" && String(path) === failing.denied) throw Object.assign(new Error(`EACCES: permission denied, access '${String(path)}'`), { code: "EACCES" });
    real.accessSync(path, mode);
  };
  return { ...real, accessSync, renameSync: failOn("rename", real.renameSync), writeFileSync: failOn("write", real.writeFileSync) };
});

function generation(variants: readonly string[], version: number): Map<string, string> {
  const files = new Map(variants.map((v) => [`kernels/${v}.cu`, `// ${v}, version ${version}\n`]));
  files.set("include/lim.h", `// library, version ${version}\n`);
  files.set("manifest.json", JSON.stringify({ variants: variants.map((v) => ({ file: `kernels/${v}.cu` })) }));
  return files;
}

// The next generation changes a and the library, drops b and c, adds d and e (into a new folder too).
const next = () => {
  const files = generation(["a", "d", "e"], 2);
  files.set("extra/notes.h", "// new folder\n");
  return files;
};

/** The starting folder: a first generation, and a file of the user's beside it. */
function start(out: string): void {
  writeGenerated(out, generation(["a", "b", "c"], 1));
  writeFileSync(join(out, "kernels/my_kernel.cu"), "// mine\n");
}

/** Every (call, n) the write of next() over start() makes, counted on a run of it: each is a point of failure. */
const failurePoints = (() => {
  const dir = mkdtempSync(join(tmpdir(), "lim-rollback-count-"));
  try {
    start(join(dir, "out"));
    failing.counts = {};
    writeGenerated(join(dir, "out"), next());
    return (["write", "rename"] as const).flatMap((call) => Array.from({ length: failing.counts[call] ?? 0 }, (_, n) => [call, n] as const));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

let parent: string;
let out: string;
beforeEach(() => {
  parent = mkdtempSync(join(tmpdir(), "lim-rollback-"));
  out = join(parent, "out");
  failing.call = "";
  failing.denied = "";
  start(out);
});
afterEach(() => {
  failing.call = "";
  failing.denied = "";
  rmSync(parent, { recursive: true, force: true });
});

it.each(failurePoints)("a failing %s (call %i) changes nothing", (call, after) => {
  const before = hashFolder(parent);
  failing.call = call;
  failing.after = after;
  let error: unknown;
  try {
    writeGenerated(out, next());
  } catch (e) {
    error = e;
  }
  failing.call = "";
  expect(error).toBeInstanceOf(OutputError);
  expect((error as Error).message).toMatch(/^cannot write .*: EIO \((rename|write)\) \(the output folder was left as it was\)$/);
  expect(hashFolder(parent)).toEqual(before);
});

it("with no failure, the same write goes through", () => {
  writeGenerated(out, next());
  expect(fs.readdirSync(join(out, "kernels")).sort()).toEqual(["a.cu", "d.cu", "e.cu", "my_kernel.cu"]);
  expect(fs.readdirSync(parent)).toEqual(["out"]);
});

it("the table tries both kinds of call (a write makes files and moves them)", () => {
  expect(failurePoints.filter(([call]) => call === "write").length).toBeGreaterThan(0);
  expect(failurePoints.filter(([call]) => call === "rename").length).toBeGreaterThan(0);
});

it("refuses a folder the user may not write to before writing anything, also as root", () => {
  const before = hashFolder(parent);
  failing.denied = join(out, "kernels");
  expect(() => writeGenerated(out, next())).toThrow(new RegExp(`^${join(out, "kernels")} is not writable; make it writable or choose another output folder$`));
  expect(hashFolder(parent)).toEqual(before);
});
