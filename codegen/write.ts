// Writing generated/: only files whose content changed are written (each through a temporary file and a
// rename, so a reader never sees half a file), variant files that are no longer generated are removed,
// and nothing at all is written until every file has been produced in memory.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Folders under the output folder whose every file the generator owns (others are left alone). */
const OWNED_FOLDERS = ["kernels"];

export type FileStatus = "written" | "unchanged" | "removed" | "stale" | "missing" | "extra";

export interface FileReport {
  readonly path: string;
  readonly status: FileStatus;
}

function read(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
}

function ownedFilesOnDisk(outDir: string): string[] {
  return OWNED_FOLDERS.flatMap((folder) => {
    const dir = join(outDir, folder);
    return existsSync(dir) ? readdirSync(dir).map((f) => `${folder}/${f}`) : [];
  });
}

/** Compares the planned files with the output folder without writing anything. */
export function compareGenerated(outDir: string, files: ReadonlyMap<string, string>): FileReport[] {
  const reports: FileReport[] = [];
  for (const [path, content] of files) {
    const current = read(join(outDir, path));
    reports.push({ path, status: current === undefined ? "missing" : current === content ? "unchanged" : "stale" });
  }
  for (const path of ownedFilesOnDisk(outDir)) if (!files.has(path)) reports.push({ path, status: "extra" });
  return reports;
}

/** Writes the planned files where they differ and removes owned files that are no longer planned. */
export function writeGenerated(outDir: string, files: ReadonlyMap<string, string>): FileReport[] {
  const reports: FileReport[] = [];
  for (const [path, content] of files) {
    const target = join(outDir, path);
    if (read(target) === content) {
      reports.push({ path, status: "unchanged" });
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, content);
    renameSync(tmp, target);
    reports.push({ path, status: "written" });
  }
  for (const path of ownedFilesOnDisk(outDir)) {
    if (files.has(path)) continue;
    rmSync(join(outDir, path));
    reports.push({ path, status: "removed" });
  }
  return reports;
}
