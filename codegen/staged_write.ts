// Replacing files of a folder as one step. New contents are written into a staging folder beside it (on the
// same file system, so moving a file into place is a rename) and only when every one of them was written
// are they moved in. Files being replaced or removed are first moved into the staging folder, so a failure
// while moving puts everything back. The staging folder is removed in the end, whatever happened, unless
// putting something back failed: then it holds the only copy and the message says where it is.

import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { describeFsError, OutputError } from "./fs_errors.js";

type Kind = "file" | "folder" | "other" | undefined;

/** What is at `path`: undefined when nothing is (or a file stands where a folder of the path should be). */
export function kindOf(path: string): Kind {
  try {
    const st = statSync(path);
    return st.isFile() ? "file" : st.isDirectory() ? "folder" : "other";
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw fsFailure(e, "", "read");
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The closest of `path` and its ancestors that exists. */
function nearestExisting(path: string): string {
  let at = path;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

function fsFailure(e: unknown, tail: string, verb: "write" | "read" = "write"): OutputError {
  if (e instanceof OutputError) return e;
  return new OutputError(`${describeFsError(e, verb) ?? `cannot ${verb}: ${e instanceof Error ? e.message : String(e)}`}${tail}`);
}

const MOVE_OR_CHOOSE = "move it away or choose another output folder";

/**
 * Before the slow planning, and again before writing: `outDir` is a folder, or one can be made there, no
 * file stands where one of `folders` (relative to it) goes, and (when `writing`) all of them are writable.
 */
export function checkOutputFolder(outDir: string, folders: readonly string[] = [], writing = true): void {
  const base = nearestExisting(outDir);
  if (kindOf(base) !== "folder") {
    throw new OutputError(base === outDir ? `the output folder ${outDir} is a file; ${MOVE_OR_CHOOSE}` : `cannot create the output folder ${outDir}: ${base} is a file; ${MOVE_OR_CHOOSE}`);
  }
  if (!writing) return;
  if (!writable(base)) {
    throw new OutputError(base === outDir ? `the output folder ${outDir} is not writable; make it writable or choose another output folder` : `cannot create the output folder ${outDir}: ${base} is not writable; make it writable or choose another output folder`);
  }
  if (base !== outDir) return;
  for (const folder of folders) {
    const kind = kindOf(join(outDir, folder));
    if (kind !== undefined && kind !== "folder") throw new OutputError(`${join(outDir, folder)} is ${kind === "file" ? "a file" : "not a folder"}, but generation writes a folder there; ${MOVE_OR_CHOOSE}`);
    if (kind === "folder" && !writable(join(outDir, folder))) throw new OutputError(`${join(outDir, folder)} is not writable; make it writable or choose another output folder`);
  }
}

/** A planned file's path is free: every folder on the way is a folder (or absent), and it is not a folder itself. */
export function checkFilePath(outDir: string, path: string): void {
  const parts = path.split("/");
  checkOutputFolder(outDir, parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/")));
  const kind = kindOf(join(outDir, path));
  if (kind !== undefined && kind !== "file") throw new OutputError(`${join(outDir, path)} is ${kind === "folder" ? "a folder" : "not a regular file"}, but generation writes a file there; ${MOVE_OR_CHOOSE}`);
}

const UNCHANGED = " (the output folder was left as it was)";

/**
 * Writes `writes` (paths relative to `outDir`, with their contents) and removes `removals`, all or nothing.
 * `outDir` need not exist: then it is built in the staging folder and moved into place whole.
 */
export function replaceFiles(outDir: string, writes: ReadonlyMap<string, string>, removals: readonly string[]): void {
  // Real paths: a symbolic link to another file system must not put the staging folder on the wrong one.
  const base = nearestExisting(outDir);
  const target = join(realpathSync(base), relative(base, outDir));
  const exists = base === outDir;
  // Beside the folder, or inside it where its parent is not writable or another file system (a mount point).
  const inside = exists && (!writable(dirname(target)) || statSync(dirname(target)).dev !== statSync(target).dev);
  const parent = inside ? target : exists ? dirname(target) : realpathSync(base);
  let staging: string;
  try {
    staging = mkdtempSync(join(parent, `.${basename(target)}.lim-staging-`));
  } catch (e) {
    throw fsFailure(e, UNCHANGED);
  }
  let keepStaging = false;
  try {
    const fresh = join(staging, "new");
    try {
      for (const [path, content] of writes) {
        mkdirSync(dirname(join(fresh, path)), { recursive: true });
        writeFileSync(join(fresh, path), content);
      }
    } catch (e) {
      throw fsFailure(e, UNCHANGED);
    }
    if (!exists) {
      moveNewFolder(fresh, target);
      return;
    }
    const failed = moveIntoPlace(target, fresh, join(staging, "old"), [...writes.keys()], removals);
    if (failed) {
      keepStaging = failed.lost.length > 0;
      throw fsFailure(failed.error, keepStaging ? `; putting back ${failed.lost.join(", ")} failed too: the previous files are in ${staging}` : UNCHANGED);
    }
  } finally {
    if (!keepStaging) rmSync(staging, { recursive: true, force: true });
  }
}

/** The output folder did not exist: create its parents and move the staged folder there in one rename. */
function moveNewFolder(fresh: string, target: string): void {
  let made: string | undefined;
  try {
    made = mkdirSync(dirname(target), { recursive: true });
    renameSync(fresh, target);
  } catch (e) {
    if (made) rmSync(made, { recursive: true, force: true });
    throw fsFailure(e, " (nothing was created)");
  }
}

/**
 * Moves the old files out of the way (into `old`) and the new ones in, keeping a list of what to undo. On a
 * failure everything is undone; returns the failure and whatever could not be put back.
 */
function moveIntoPlace(target: string, fresh: string, old: string, paths: readonly string[], removals: readonly string[]): { error: unknown; lost: string[] } | undefined {
  const undo: { what: string; run: () => void }[] = [];
  const move = (from: string, to: string) => {
    mkdirSync(dirname(to), { recursive: true });
    renameSync(from, to);
    undo.push({ what: from, run: () => renameSync(to, from) });
  };
  try {
    for (const path of removals) move(join(target, path), join(old, path));
    for (const path of paths) {
      const dest = join(target, path);
      if (existsSync(dest)) move(dest, join(old, path));
      const made = mkdirSync(dirname(dest), { recursive: true });
      // Only folders this run made: by the time this undo runs, the file moved into them is out again.
      if (made) undo.push({ what: made, run: () => rmSync(made, { recursive: true, force: true }) });
      renameSync(join(fresh, path), dest);
      undo.push({ what: dest, run: () => renameSync(dest, join(fresh, path)) });
    }
    return undefined;
  } catch (error) {
    const lost: string[] = [];
    for (const step of undo.reverse()) {
      try {
        step.run();
      } catch {
        lost.push(step.what);
      }
    }
    return { error, lost };
  }
}
