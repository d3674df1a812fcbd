// What `lim generate` prints. Progress goes to stderr, with the warnings: the settings once, a line per
// kernel as it is lowered (seconds each, minutes for a schedule space, which also gets a bar with an ETA).
// The result goes to stdout: the files written, removed or differing, and the summary. So a log or a pipe
// keeps the result, and a terminal shows both. Loaded with the code generator, not at start-up.

import type { PlanEvent, PlanProgress } from "../codegen/generate.js";
import { MATRIX_CONSTANTS, type Matrix } from "../codegen/variants.js";
import type { FileReport } from "../codegen/write.js";
import { Progress } from "./progress.js";

export interface GenerateSettings {
  readonly device: string;
  readonly deviceIsDefault: boolean;
  readonly matrix: Matrix;
  /** Tuning databases read (paths as shown), or false for --no-tuning. */
  readonly tuning: readonly string[] | false;
  readonly schedules?: Readonly<Record<string, string>>;
}

const AXIS_WORDS: Readonly<Record<keyof Matrix, string>> = { headDims: "head dims", groupSizes: "group sizes", dtypes: "dtypes", budgets: "budgets", caches: "caches", kvDtypes: "K/V dtypes" };

function settingsLine(s: GenerateSettings, e: Extract<PlanEvent, { kind: "loaded" }>): string {
  const axes = (Object.entries(MATRIX_CONSTANTS) as [keyof Matrix, string][]).map(([axis, constant]) => {
    const words = AXIS_WORDS[axis];
    const given = s.matrix[axis];
    if (given) return `${words} ${given.join(",")}`;
    // Not given: each kernel covers its own list; show what they add up to.
    const all = [...new Set(e.sources.flatMap((src) => (src.definition.spec.constants[constant] ?? []) as (number | string)[]))];
    return all.length ? `${words} ${all.join(",")} (default)` : undefined;
  }).filter(Boolean);
  const schedules =
    s.tuning === false ? "heuristic schedules (--no-tuning)"
    : s.tuning.length ? `schedules tuned in ${s.tuning.join(", ")}, heuristics elsewhere`
    : "heuristic schedules (no tuning database of this device in tuning/)";
  const requested = s.schedules ? `; --schedules ${Object.entries(s.schedules).map(([k, v]) => `${k}=${v}`).join(",")}` : "";
  const kernels = `${e.sources.length} kernel${e.sources.length === 1 ? "" : "s"} (loaded in ${e.seconds.toFixed(1)} s)`;
  const parts = [`generating ${kernels} for ${s.device}${s.deviceIsDefault ? " (default --device)" : ""}`, axes.join(", "), `${schedules}${requested}`];
  return parts.filter((p) => p !== "").join("; ");
}

/** Prints planning as it goes. */
export function planReporter(settings: GenerateSettings): PlanProgress {
  let bar: Progress | undefined;
  let done = 0;
  let of = 0;
  return (e) => {
    if (e.kind === "loaded") {
      console.error(settingsLine(settings, e));
    } else if (e.kind === "kernel") {
      // A schedule space takes minutes: it gets a bar with an ETA; the other kernels take seconds each.
      bar = e.space ? new Progress(e.candidates, `[${e.index + 1}/${e.total}] ${e.kernel}`) : undefined;
      done = 0;
      of = e.candidates;
    } else if (e.kind === "candidate") {
      bar?.tick(`${++done}/${of} candidates`);
    } else {
      bar?.done();
      const variants = e.variants === 0 ? "no variants" : `${e.variants} variant${e.variants === 1 ? "" : "s"}`;
      const candidates = bar && of !== e.variants ? ` of ${of} candidates` : "";
      console.error(`[${e.index + 1}/${e.total}] ${e.kernel}: ${variants}${candidates} (${e.seconds.toFixed(1)} s)`);
    }
  };
}

/** After writing: what changed, then the summary. */
export function printWritten(reports: readonly FileReport[], out: string, variants: number): void {
  for (const r of reports) if (r.status !== "unchanged") console.log(`  ${r.status.padEnd(8)} ${r.path}`);
  const count = (s: string) => reports.filter((r) => r.status === s).length;
  console.log(`${variants} variants in ${out}: ${count("written")} written, ${count("unchanged")} unchanged, ${count("removed")} removed`);
}

/** After --check: the exit status, 1 with the files that differ, 0 when everything matches. */
export function printChecked(reports: readonly FileReport[], out: string, variants: number, files: number): number {
  const bad = reports.filter((r) => r.status !== "unchanged");
  if (bad.length > 0) {
    console.error(`${out} is stale: ${bad.length} file(s) differ from the DSL sources:`);
    for (const r of bad) console.error(`  ${r.status.padEnd(8)} ${r.path}`);
    console.error("run `npm run generate` (with the same options) and commit the result");
    return 1;
  }
  console.log(`${out} matches the sources (${variants} variants, ${files} files)`);
  return 0;
}
