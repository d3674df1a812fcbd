// What the sweep and its worker process tell each other: the job (a JSON file) and the events the worker
// prints, one JSON object per line. The worker is a separate process so that a candidate that crashes
// the GPU context costs only that candidate: the sweep records it and starts a fresh worker.

import type { TunedCandidate } from "../codegen/tuning/database.js";
import type { Constants } from "../codegen/types.js";
import type { TimingOptions } from "../runtime/ts/native.js";

export interface JobKey {
  readonly key: string;
  readonly kernel: string;
  readonly constants: Constants;
  /** The bucket's measure the shapes are built at. */
  readonly tunedAt: number;
  /** Schedule tag and variant name of each candidate, the heuristic first. */
  readonly candidates: readonly { schedule: string; variant: string }[];
}

export interface TuningJob {
  /** The addon copy placed beside the candidates' liblim.so. */
  readonly addon: string;
  readonly seed: number;
  readonly timing: TimingOptions;
  readonly keys: readonly JobKey[];
}

export type WorkerEvent =
  | { readonly type: "shapes"; readonly key: string; readonly labels: string[] }
  | { readonly type: "start"; readonly key: string; readonly schedule: string }
  | { readonly type: "result"; readonly key: string; readonly candidate: TunedCandidate };
