// Carrying a kernel's tuned schedules across an edit of its code without measuring them again (`lim tune
// --carry`), for an edit that cannot change which schedule wins: code outside the loop the schedule shapes, say,
// where a retune would cost GPU time and measure the same thing. Each carried entry keeps the digest it was
// measured on and the reason it was carried, and every variant generated from it says so in its header, so
// that a carried schedule is never taken for a measured one. A later `lim tune --retune` replaces it.

import type { KernelSpec } from "../../dsl/lang/kernel.js";
import { parseScheduleTag } from "../schedules.js";
import type { TuningDatabase } from "./database.js";

/**
 * Points the entries of the kernel of `spec` that were measured on another source at `digest`, recording `reason` and
 * `date` (an entry carried before keeps the digest it was measured on). An entry already carried to `digest`
 * gets the new reason and date: the record of why it stands, restated (say, once an experiment it was carried
 * for has been measured and landed). Entries measured on `digest` stay as they are.
 *
 * An edit that added or dropped a schedule knob leaves entries naming schedules that the kernel's current
 * space cannot read, and carrying them would only defer the failure to generation: then nothing is carried
 * and the error names the entries.
 */
export function carryTuning(db: TuningDatabase, spec: KernelSpec, digest: string, reason: string, date: string): { carried: number; restated: number } {
  const kernel = spec.name;
  const entries = Object.entries(db.entries).filter(([, e]) => e.kernel === kernel && (e.source !== digest || e.carried));
  const stale = entries.flatMap(([key, e]) => {
    try {
      parseScheduleTag(spec, e.best);
      return [];
    } catch (error) {
      return [`${key} (${(error as Error).message})`];
    }
  });
  if (stale.length) {
    const shown = stale.slice(0, 3).join("; ") + (stale.length > 3 ? `; and ${stale.length - 3} more` : "");
    throw new Error(
      `--carry: ${stale.length} entries of ${kernel} name schedules outside its current schedule space, so they cannot be carried: ${shown}. ` +
        `Measure them again (\`lim tune --kernels ${kernel} --retune\`), or, where the knobs' new values reproduce the measured code, rename their schedules first`,
    );
  }
  let carried = 0;
  let restated = 0;
  for (const [, entry] of entries) {
    if (entry.source !== digest) carried++;
    else restated++;
    entry.carried = { from: entry.carried?.from ?? entry.source, reason, date };
    entry.source = digest;
  }
  return { carried, restated };
}
