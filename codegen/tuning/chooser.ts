// Generation from tuning databases: each (kernel, constants, shape bucket) gets the schedule its device's
// database measured best, or the kernel's heuristic where nothing usable was tuned. Databases of another
// device are for that device: skipped, with a warning only when the user named the file. Databases of
// another toolkit version, and entries whose kernel changed since they were measured, are ignored with a
// warning saying why.

import { TOOLKIT_VERSION } from "../version.js";
import type { Constants, KernelSource } from "../types.js";
import { parseScheduleTag } from "../schedules.js";
import { bucketRanges, heuristicSchedule, type ScheduleChoice, type ScheduleChooser } from "../variants.js";
import { minorVersion, retiredEntries, tuningKey, type TuningDatabase } from "./database.js";
import { kernelDigest } from "./digest.js";

export interface LoadedTuning {
  readonly path: string;
  readonly db: TuningDatabase;
  /** Named by the user (--tuning), not found in tuning/: a device mismatch is then worth a warning. */
  readonly named?: boolean;
}

export interface TunedChooser {
  readonly choose: ScheduleChooser;
  /** Why a database or an entry was not used; filled while choosing. */
  readonly warnings: string[];
  /** Keys whose tuned schedule was used. */
  readonly used: Set<string>;
  /**
   * After choosing: the databases' entries of the kernels chosen for that are keyed by a shape bucket the
   * kernel no longer has (its spec now buckets by another measure), one warning per database and kernel.
   */
  readonly retiredBuckets: () => string[];
}

/** The databases that may serve `device`; the others are named in `warnings`. */
function usable(tunings: readonly LoadedTuning[], device: string, warnings: string[]): LoadedTuning[] {
  return tunings.filter(({ path, db, named }) => {
    if (db.metadata.device !== device) {
      if (named) warnings.push(`${path}: measured on ${db.metadata.device}, not the target ${device}; ignored (pass --device "${db.metadata.device}" to generate for it)`);
      return false;
    }
    if (minorVersion(db.metadata.toolkit.replace(/^lim /, "")) !== minorVersion(TOOLKIT_VERSION)) {
      warnings.push(`${path}: tuned with ${db.metadata.toolkit}, this is lim ${TOOLKIT_VERSION}; ignored (run \`lim tune\` again)`);
      return false;
    }
    return true;
  });
}

/** Adjacent buckets that chose the same schedule become one dispatch range. */
function mergeAdjacent(choices: ScheduleChoice[]): ScheduleChoice[] {
  const out: ScheduleChoice[] = [];
  for (const c of choices) {
    const last = out.at(-1);
    if (last && JSON.stringify(last.schedule) === JSON.stringify(c.schedule) && last.bucket![1] === c.bucket![0]) {
      out[out.length - 1] = { ...last, bucket: [last.bucket![0], c.bucket![1]] };
    } else {
      out.push(c);
    }
  }
  return out;
}

export function tunedSchedules(tunings: readonly LoadedTuning[], device: string): TunedChooser {
  const warnings: string[] = [];
  const used = new Set<string>();
  const dbs = usable(tunings, device, warnings);
  const bucketOf = new Map<string, string | undefined>(); // kernels chosen for -> the measure they bucket by
  const choose: ScheduleChooser = (source: KernelSource, constants) => {
    const spec = source.definition.spec;
    bucketOf.set(spec.name, spec.bucket?.name);
    const digest = kernelDigest(source.fn);
    const [fallback] = heuristicSchedule(source, constants);
    // A variant takes its own measured entry where one is current. Otherwise a paged variant takes the
    // contiguous one's (it differs only in its rows' addresses; `lim tune --caches paged` measures its own),
    // and an E5M2 variant E4M3's (it differs only in how a register of bytes widens to fp16: a byte permute,
    // not a cvt; `lim tune --kv-dtypes e5m2` measures its own), bucket by bucket: a paged E5M2 variant tries
    // paged E4M3 before contiguous E5M2, the closer producer.
    const withE4m3 = (c: Constants): Constants[] => (c.kv === "e5m2" ? [c, { ...c, kv: "e4m3" }] : [c]);
    const standIns = [...withE4m3(constants), ...(constants.cache === "paged" ? withE4m3({ ...constants, cache: "contiguous" }) : [])];
    const measuredAs = (range: readonly [number, number]) => {
      const keys = standIns.map((c) => tuningKey(spec, c, range));
      // A current entry first; else a stale one, so that generation says to tune again; else the last stand-in.
      return keys.find((key) => dbs.some(({ db }) => db.entries[key]?.source === digest)) ?? keys.find((key) => dbs.some(({ db }) => db.entries[key])) ?? keys[keys.length - 1];
    };
    const choices = bucketRanges(spec).map(({ range }): ScheduleChoice => {
      const key = measuredAs(range);
      for (const { path, db } of dbs) {
        const entry = db.entries[key];
        if (!entry) continue;
        if (entry.source !== digest) {
          warnings.push(`${path}: ${key} was tuned for an earlier ${source.file}; using the heuristic (run \`lim tune\` again)`);
          continue;
        }
        try {
          const schedule = parseScheduleTag(spec, entry.best);
          // The digest does not cover the rules: a rule added since may refuse the tuned schedule.
          const broken = source.definition.rules.map((rule) => rule(constants as never, schedule as never)).find((r) => r !== undefined);
          if (broken !== undefined) {
            warnings.push(`${path}: ${key}: the tuned schedule ${entry.best} breaks a rule of ${spec.name} (${broken}); using the heuristic`);
            continue;
          }
          used.add(key);
          const carried = entry.carried ? `; measured on an earlier source (${entry.carried.from}) and carried: ${entry.carried.reason}` : "";
          const standIn = key === tuningKey(spec, constants, range) ? "" : `; the entry of ${key}`;
          return { schedule, origin: `tuned in ${path} (${entry.speedup.toFixed(2)}x over the heuristic${standIn}${carried})`, bucket: range };
        } catch (e) {
          warnings.push(`${path}: ${key}: ${(e as Error).message}; using the heuristic`);
        }
      }
      return { ...fallback, bucket: range };
    });
    return mergeAdjacent(choices);
  };
  const retiredBuckets = (): string[] =>
    dbs.flatMap(({ path, db }) =>
      [...bucketOf].flatMap(([kernel, measure]) => {
        const retired = retiredEntries(db, kernel, measure);
        if (retired.length === 0) return [];
        const names = [...new Set(retired.map(([, e]) => e.bucket?.name ?? "no bucket"))].join(", ");
        const now = measure ? `it buckets by ${measure} now` : "it has no shape buckets now";
        return [`${path}: ${retired.length} ${kernel} entries are keyed by ${names}, which ${kernel} no longer buckets by (${now}); unused (run \`lim tune --kernels ${kernel}\` again)`];
      }),
    );
  return { choose, warnings, used, retiredBuckets };
}
