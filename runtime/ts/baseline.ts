// The full-attention baseline of `lim decode`: PyTorch's fastest SDPA backend (cuDNN, flash) on the run's
// decode shape, timed in the same run by python/lessismore/baseline.py, so that a policy's speed-up over full
// attention is over the fastest full-attention kernel a user could run instead, not only over ours.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ModelConfig, RunConfig } from "./config.js";

export interface SdpaBaseline {
  /** The fastest backend, e.g. "cudnn". */
  readonly backend: string;
  /** Microseconds of one layer's decode attention. */
  readonly perLayerUs: number;
  /** The cached tokens it was timed at: the run's mean sequence length. */
  readonly length: number;
  /** Every backend's time, or why it could not run. */
  readonly backends: Readonly<Record<string, { us: number | null; error?: string }>>;
}

const PYTHON_PACKAGE_DIR = fileURLToPath(new URL("../../python", import.meta.url));

/** Times PyTorch's SDPA backends on one layer of the run; `unavailable` says why not (no python3, no PyTorch, no GPU). */
export function measureSdpaBaseline(model: ModelConfig, run: RunConfig): SdpaBaseline | { unavailable: string } {
  const length = run.context + Math.ceil(run.steps / 2); // the steps attend over context + 1 .. context + steps tokens
  const args = ["-m", "lessismore.baseline", "--batch", `${run.batch}`, "--q-heads", `${model.qHeads}`, "--kv-heads", `${model.kvHeads}`,
    "--length", `${length}`, "--head-dim", `${model.headDim}`, "--dtype", model.dtype];
  const r = spawnSync("python3", args, { cwd: PYTHON_PACKAGE_DIR, encoding: "utf8", timeout: 600_000 });
  if (r.error) return { unavailable: `python3 could not run (${r.error.message})` };
  if (r.status !== 0) return { unavailable: (r.stderr.trim().split("\n").at(-1) ?? "").slice(0, 200) || `python3 exited with ${r.status}` };
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { best: string | null; best_us: number | null; backends: SdpaBaseline["backends"] };
  if (out.best === null || out.best_us === null) return { unavailable: `no SDPA backend ran: ${JSON.stringify(out.backends)}` };
  return { backend: out.best, perLayerUs: out.best_us, length, backends: out.backends };
}
