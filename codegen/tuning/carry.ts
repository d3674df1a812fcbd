// Carrying a kernel's tuned schedules across an edit of its code without measuring them again (`lim tune
// --carry`), for an edit that cannot change which schedule wins: code outside the loop the schedule shapes, say,
// where a retune would cost GPU time and measure the same thing. Each carried entry keeps the digest it was
// measured on and the reason it was carried, and every variant generated from it says so in its header, so
// that a carried schedule is never taken for a measured one. A later `lim tune --retune` replaces it.

import type { TuningDatabase } from "./database.js";

/**
 * Points the entries of `kernel` that were measured on another source at `digest`, recording `reason` and
 * `date` (an entry carried before keeps the digest it was measured on). An entry already carried to `digest`
 * gets the new reason and date: the record of why it stands, restated (say, once an experiment it was carried
 * for has been measured and landed). Entries measured on `digest` stay as they are.
 *
 * `unreadable` says why a schedule tag is not one of the kernel's current schedule space (undefined where it
 * is): an edit that added or dropped a knob leaves entries naming schedules that no longer exist, and carrying
 * them would only defer the failure to generation. Then nothing is carried and the error names the entries.
 */
export function carryTuning(
  db: TuningDatabase, kernel: string, digest: string, reason: string, date: string, unreadable: (schedule: string) => string | undefined,
): { carried: number; restated: number } {
  const entries = Object.entries(db.entries).filter(([, e]) => e.kernel === kernel && (e.source !== digest || e.carried));
  const stale = entries.flatMap(([key, e]) => {
    const why = unreadable(e.best);
    return why ? [`${key} (${why})`] : [];
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
