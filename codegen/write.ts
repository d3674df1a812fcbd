// Writing the output folder: only files whose content changed are written, all of them or none (see
// staged_write.ts), and nothing at all until every file has been produced in memory. Files that are no
// longer generated are removed only when the folder's previous manifest.json lists them: anything else
// there, such as a user's own file in kernels/, is left alone. (The library files are written by every
// generation, so of what a manifest lists only its variants' files can go stale.)

import { readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, normalize } from "node:path";
import { OutputError } from "./fs_errors.js";
import { checkFilePath, checkOutputFolder, kindOf, replaceFiles } from "./staged_write.js";

export type FileStatus = "written" | "unchanged" | "removed" | "stale" | "missing" | "extra";

export interface FileReport {
  readonly path: string;
  readonly status: FileStatus;
}

function read(path: string): string | undefined {
  return kindOf(path) === "file" ? readFileSync(path, "utf8") : undefined;
}

/** A manifest entry that names a file inside the output folder (a hand-edited one could name any path). */
function inside(path: unknown): path is string {
  return typeof path === "string" && path !== "" && !isAbsolute(path) && normalize(path) === path && !path.startsWith("..");
}

/** The variant files the output folder's manifest.json lists that are on disk (none without a readable manifest). */
function previouslyGenerated(outDir: string): string[] {
  const text = read(join(outDir, "manifest.json"));
  let manifest: { variants?: { file?: unknown }[] } | undefined;
  try {
    manifest = text === undefined ? undefined : JSON.parse(text);
  } catch {
    return []; // a manifest that is not JSON owns nothing: better to leave a stale file than remove a user's
  }
  const files = Array.isArray(manifest?.variants) ? manifest.variants.map((v) => v?.file) : [];
  return files.filter(inside).filter((f) => kindOf(join(outDir, f)) === "file");
}

/**
 * `lim generate` writes into a new or empty folder, or one it wrote before (its manifest.json names lim as the
 * generator): anywhere else its include/, abi.cpp, ... would replace files of the same names that are not its
 * own (`--out .` in a project's root, say). Checked by the command before planning.
 */
export function checkOwnedFolder(outDir: string): void {
  if (kindOf(outDir) !== "folder" || readdirSync(outDir).every((name) => name.startsWith("."))) return; // new, or only .gitkeep and the like
  // Read as text: a manifest with a merge's conflict markers is still lim's, and regenerating is its fix.
  if (/"generator": "lim /.test(read(join(outDir, "manifest.json")) ?? "")) return;
  throw new OutputError(
    `the output folder ${outDir} holds files, and no manifest.json of lim generate says they are generated; ` +
      "choose a new or empty folder, or one lim generate wrote (nothing was written)",
  );
}

/** Compares the planned files with the output folder without writing anything. */
export function compareGenerated(outDir: string, files: ReadonlyMap<string, string>): FileReport[] {
  checkOutputFolder(outDir, [], false);
  const reports: FileReport[] = [];
  for (const [path, content] of files) {
    const current = read(join(outDir, path));
    reports.push({ path, status: current === undefined ? "missing" : current === content ? "unchanged" : "stale" });
  }
  for (const path of previouslyGenerated(outDir)) if (!files.has(path)) reports.push({ path, status: "extra" });
  return reports;
}

/**
 * Writes the planned files where they differ and removes the previous manifest's files that are no longer
 * planned, all or nothing; a problem is an OutputError naming the path, with the folder left as it was.
 */
export function writeGenerated(outDir: string, files: ReadonlyMap<string, string>): FileReport[] {
  checkOutputFolder(outDir); // again: the folder may have changed while planning
  const writes = new Map<string, string>();
  const reports: FileReport[] = [];
  for (const [path, content] of files) {
    if (read(join(outDir, path)) === content) {
      reports.push({ path, status: "unchanged" });
      continue;
    }
    checkFilePath(outDir, path);
    writes.set(path, content);
    reports.push({ path, status: "written" });
  }
  const removals = previouslyGenerated(outDir).filter((path) => !files.has(path));
  for (const path of removals) reports.push({ path, status: "removed" });
  if (writes.size > 0 || removals.length > 0) replaceFiles(outDir, writes, removals);
  return reports;
}
