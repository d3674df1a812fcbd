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
 */
export function carryTuning(db: TuningDatabase, kernel: string, digest: string, reason: string, date: string): { carried: number; restated: number } {
  let carried = 0;
  let restated = 0;
  for (const entry of Object.values(db.entries)) {
    if (entry.kernel !== kernel) continue;
    if (entry.source !== digest) carried++;
    else if (entry.carried) restated++;
    else continue;
    entry.carried = { from: entry.carried?.from ?? entry.source, reason, date };
    entry.source = digest;
  }
  return { carried, restated };
}
