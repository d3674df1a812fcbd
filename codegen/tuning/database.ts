// The tuning database: for one device, the best measured schedule of each (kernel, constants, shape
// bucket), beside every candidate's times or the reason it was rejected. One JSON file per device under
// tuning/, written atomically (a temporary file renamed over the old one) after every key, so an
// interrupted sweep loses at most the key it was measuring.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { KernelSpec } from "../../dsl/lang/kernel.js";
import type { Constants } from "../types.js";
import { constantsTag } from "../names.js";
import { ANY_BUCKET } from "../variants.js";
import { fsReason } from "../fs_errors.js";

export const TUNING_FORMAT = "lim-tuning/1";

const Metadata = z.object({
  device: z.string().min(1),
  computeCapability: z.string(),
  multiprocessors: z.number().int().positive(),
  cudaDriver: z.string(),
  cudaRuntime: z.string(),
  nvcc: z.string(),
  toolkit: z.string(), // "lim <version>"
  created: z.string(),
  updated: z.string(),
});
export type TuningMetadata = z.infer<typeof Metadata>;

const Candidate = z.object({
  schedule: z.string(),
  /** ok: correct and timed; wrong: disagreed with the reference; failed: did not build or launch. */
  status: z.enum(["ok", "wrong", "failed"]),
  /** Median microseconds at each of the entry's shapes (status ok). */
  us: z.array(z.number()).optional(),
  error: z.string().optional(),
});
export type TunedCandidate = z.infer<typeof Candidate>;

const Entry = z.object({
  kernel: z.string(),
  constants: z.record(z.string(), z.union([z.number(), z.string()])),
  /** The range [lo, hi) of the kernel's bucket measure (hi null: unbounded); null when it has none. */
  bucket: z.object({ name: z.string(), lo: z.number().int(), hi: z.number().int().nullable() }).nullable(),
  /** The shapes the candidates were timed at, in words. */
  shapes: z.array(z.string()),
  /** Digest of the kernel's function when it was tuned (tuning/digest.ts): an edit of its code makes the entry stale. */
  source: z.string(),
  heuristic: z.string(),
  best: z.string(),
  /** Geometric-mean time of the heuristic over that of the best schedule (1 when the heuristic won). */
  speedup: z.number(),
  tuned: z.string(),
  candidates: z.array(Candidate),
  /**
   * Present when the schedules were measured on an earlier source and carried to `source` without measuring
   * again (`lim tune --carry`): the digest they were measured on, why they still hold, and when.
   */
  carried: z.object({ from: z.string(), reason: z.string(), date: z.string() }).optional(),
});
export type TuningEntry = z.infer<typeof Entry>;

const Database = z.object({ format: z.literal(TUNING_FORMAT), metadata: Metadata, entries: z.record(z.string(), Entry) });
export type TuningDatabase = z.infer<typeof Database>;

/** The key of a (kernel, constants, bucket): `decode_attention__d128_g4_bf16@rows1536-3072`. */
export function tuningKey(spec: KernelSpec, constants: Constants, range: readonly [number, number]): string {
  const tag = constantsTag(spec, constants);
  const base = tag ? `${spec.name}__${tag}` : spec.name;
  if (!spec.bucket) return base;
  const hi = range[1] >= ANY_BUCKET[1] ? "" : String(range[1]);
  return `${base}@${spec.bucket.name}${range[0]}-${hi}`;
}

/**
 * The entries of `kernel` keyed by another bucket measure than `measure` (undefined: the kernel has no
 * buckets): a spec that changed its measure can never look them up again.
 */
export function retiredEntries(db: TuningDatabase, kernel: string, measure: string | undefined): [string, TuningEntry][] {
  return Object.entries(db.entries).filter(([, e]) => e.kernel === kernel && e.bucket?.name !== measure);
}

/** The digest stored with each entry (the first 16 hex digits of the file's SHA-256). */
export function sourceDigest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

/** tuning/nvidia-h100-80gb-hbm3.json for "NVIDIA H100 80GB HBM3". */
export function defaultDatabase(root: string, device: string): string {
  return join(root, "tuning", `${device.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}.json`);
}

/** Reads a database; a file that is not one is an error naming the file and the broken field. */
export function readTuning(path: string): TuningDatabase {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not a readable JSON tuning database (${e instanceof Error ? e.message : String(e)})`);
  }
  const r = Database.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${path}: not a ${TUNING_FORMAT} tuning database: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  return r.data;
}

/** Starts a database for a device, or reads the existing one (whose device must be the same). */
export function openTuning(path: string, metadata: TuningMetadata): TuningDatabase {
  if (!existsSync(path)) return { format: TUNING_FORMAT, metadata, entries: {} };
  const db = readTuning(path);
  if (db.metadata.device !== metadata.device) {
    throw new Error(`${path} holds tunings for ${db.metadata.device}, not this ${metadata.device}: pass --db with another file`);
  }
  return { ...db, metadata: { ...metadata, created: db.metadata.created } };
}

/** Writes the whole database through a temporary file and a rename: a reader never sees half a file. */
export function writeTuning(path: string, db: TuningDatabase): void {
  mkdirSync(dirname(path), { recursive: true });
  const sorted = Object.fromEntries(Object.entries(db.entries).sort(([a], [b]) => a.localeCompare(b)));
  // Written beside it, then renamed over it: a failure leaves the database as it was (and no temporary file).
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, `${JSON.stringify({ ...db, entries: sorted }, null, 1)}\n`);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write the tuning database ${path}: ${fsReason(e)} (it is replaced through a file written beside it, so its folder must be writable too); it was left as it was`);
  }
}

/** "0.1.x" of a version: databases stay usable across patch releases. */
export function minorVersion(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}
