// The tuner's GPU process: for each key of the job, checks every candidate against the reference, then
// times it at the bucket's shapes, printing one event per line. It exits after a candidate fails (the
// CUDA context may be broken); the sweep restarts it with the candidates left.
//
//   node --import tsx autotune/worker.ts job.json

import { readFileSync } from "node:fs";
import type { TunedCandidate } from "../codegen/tuning/database.js";
import { loadNative } from "../runtime/ts/native.js";
import { median } from "../report/stats.js";
import { TUNABLE, type TuningProblem } from "./problems.js";
import type { TuningJob, WorkerEvent } from "./protocol.js";

function emit(e: WorkerEvent): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

const job = JSON.parse(readFileSync(process.argv[2], "utf8")) as TuningJob;
const native = loadNative(job.addon);
const problems = new Map<string, TuningProblem>(); // one per kernel: check inputs are made once per constants
let failed = false;
for (const key of job.keys) {
  if (failed) break;
  if (!problems.has(key.kernel)) problems.set(key.kernel, TUNABLE[key.kernel](native, job.seed));
  const problem = problems.get(key.kernel)!;
  const { shapes, dispose } = problem.shapes(key.constants, key.tunedAt);
  emit({ type: "shapes", key: key.key, labels: shapes.map((s) => s.label) });
  for (const { schedule, variant } of key.candidates) {
    emit({ type: "start", key: key.key, schedule });
    let candidate: TunedCandidate;
    try {
      native.useVariant({ kernel: key.kernel, variant });
      const check = problem.check(key.constants);
      if (!(check.error <= check.tolerance)) {
        candidate = { schedule, status: "wrong", error: `${check.what}: ${check.error} exceeds ${check.tolerance}` };
      } else {
        const us = shapes.map((shape) => {
          const times = native.timeCalls(shape.prepare(), job.timing);
          native.checkDeviceStatus();
          return Math.round(median(times) * 100) / 100;
        });
        candidate = { schedule, status: "ok", us };
      }
    } catch (e) {
      candidate = { schedule, status: "failed", error: e instanceof Error ? e.message : String(e) };
      failed = true;
    }
    emit({ type: "result", key: key.key, candidate });
    if (failed) break;
  }
  if (!failed) {
    native.useVariant({ kernel: key.kernel, variant: null });
    dispose();
  }
}
if (!failed) for (const p of problems.values()) p.dispose();
process.exit(failed ? 3 : 0);
