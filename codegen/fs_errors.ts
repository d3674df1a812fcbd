// File-system failures as one line a user can act on (the path, what is wrong, what to do) instead of
// Node's own text (`EEXIST: file already exists, mkdir '...'`). Plain code: the CLI loads it at start-up.

/** A problem with the output folder or a file in it; its message is one line. */
export class OutputError extends Error {
  override readonly name = "OutputError";
}

const WHY: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exhausted",
  EEXIST: "a file stands where a folder is needed",
  ENOTDIR: "a file stands where a folder is needed",
  EISDIR: "a folder stands where a file is needed",
  ENOENT: "no such file or folder",
  ENAMETOOLONG: "the name is too long for the file system",
  EXDEV: "it lies on another file system than the staging folder",
};

/** What to do about a failed write into the output folder. */
const REMEDY: Readonly<Record<string, string>> = {
  EACCES: "make it writable or choose another output folder",
  EPERM: "make it writable or choose another output folder",
  EROFS: "choose another output folder",
  ENOSPC: "free some space and run again",
  EDQUOT: "free some space and run again",
  EEXIST: "move it away or choose another output folder",
  ENOTDIR: "move it away or choose another output folder",
  EISDIR: "move it away or choose another output folder",
  EXDEV: "keep the output folder on one file system",
};

/**
 * `cannot write <path>: <why>; <what to do>` (with `verb`) or `<path>: <why>` for an error Node raised about a
 * path; undefined for any other error.
 */
/** Why a file-system call failed, in words, without its path (for a message that names another). */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (typeof err?.code === "string" && WHY[err.code]) || (err instanceof Error ? err.message : String(e));
}

export function describeFsError(e: unknown, verb?: "write" | "read"): string | undefined {
  const err = e as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof err.code !== "string" || typeof err.path !== "string") return undefined;
  const why = WHY[err.code] ?? `${err.code} (${err.syscall ?? "file system"})`;
  if (!verb) return `${err.path}: ${why}`;
  const remedy = verb === "write" && REMEDY[err.code] ? `; ${REMEDY[err.code]}` : "";
  return `cannot ${verb} ${err.path}: ${why}${remedy}`;
}
