// The decode runtime's TypeScript API. Device memory is owned by the native runtime object; JavaScript
// sees measurements and host copies, and dispose() frees the GPU memory.

import type { ModelConfig, RunConfig } from "./config.js";
import { decode } from "./half.js";
import type { NativeAddon } from "./native.js";

export type Policy = "full" | "lessismore" | "tidaldecode";
export const POLICIES: readonly Policy[] = ["full", "lessismore", "tidaldecode"];

/** The native object (runtime/addon/runtime_binding.cpp). */
export interface NativeRuntime {
  step(policy: Policy): { attentionMs: number };
  attend(policy: Policy): void;
  recall(policy: Policy): Float32Array[];
  fullOutput(layer: number): Uint16Array;
  read(buffer: "query" | "output" | "newKey" | "keyCache" | "valueCache", layer: number): Uint16Array;
  seqlens(): Int32Array;
  uploadLayer(layer: number, k: Uint16Array, v: Uint16Array, q: Uint16Array): void;
  reset(): void;
  dispose(): void;
}

export interface RecallStats {
  readonly layer: number;
  readonly mean: number;
  readonly min: number;
}

function nativeConfig(model: ModelConfig, run: RunConfig, synthetic: boolean) {
  return {
    layers: model.layers, qHeads: model.qHeads, kvHeads: model.kvHeads, headDim: model.headDim, dtype: model.dtype,
    selectionLayers: model.selectionLayers, batch: run.batch, context: run.context, capacity: run.context + run.steps,
    budget: run.budget, recencyRatio: run.recencyRatio, sinks: run.sinks, seed: run.seed, synthetic, pageSize: run.pageSize,
    ...(run.kvDtype === "auto" ? {} : { kvDtype: run.kvDtype }),
  };
}

export class DecodeRuntime {
  private disposed = false;

  private constructor(
    private readonly native: NativeRuntime,
    readonly model: ModelConfig,
    readonly run: RunConfig,
  ) {}

  /** Device memory the runtime would take (without the library's workspaces). */
  static deviceBytes(addon: NativeAddon, model: ModelConfig, run: RunConfig): number {
    return addon.DecodeRuntime.deviceBytes(nativeConfig(model, run, true));
  }

  /**
   * Allocates the caches (after checking free memory) and, with synthetic data, fills the prompts; with
   * `synthetic: false` the caller uploads each layer's caches and query with uploadLayer().
   */
  static create(addon: NativeAddon, model: ModelConfig, run: RunConfig, synthetic = true): DecodeRuntime {
    return new DecodeRuntime(new addon.DecodeRuntime(nativeConfig(model, run, synthetic)), model, run);
  }

  private live(): NativeRuntime {
    if (this.disposed) throw new Error("DecodeRuntime: the runtime was disposed");
    return this.native;
  }

  /** One decode step (new token, then every layer's attention) replayed as a CUDA graph; the attention part's time. */
  step(policy: Policy): number {
    return this.live().step(policy).attentionMs;
  }

  /** Every layer's attention once, eagerly, over the current caches and queries. */
  attend(policy: Policy): void {
    this.live().attend(policy);
  }

  /** Attention recall of the selected set(s) at each selection layer, over requests and heads. */
  recall(policy: Exclude<Policy, "full">): RecallStats[] {
    return this.live()
      .recall(policy)
      .map((values, i) => ({
        layer: this.model.selectionLayers[i],
        mean: values.reduce((a, b) => a + b, 0) / values.length,
        min: values.reduce((a, b) => Math.min(a, b), Infinity),
      }));
  }

  /** ||out - full|| / ||full|| of a layer's last output against full attention over the same cache and query. */
  layerError(layer: number): number {
    const full = decode(this.model.dtype, this.live().fullOutput(layer));
    const out = decode(this.model.dtype, this.live().read("output", layer));
    let num = 0;
    let den = 0;
    for (let i = 0; i < full.length; i++) {
      num += (out[i] - full[i]) ** 2;
      den += full[i] ** 2;
    }
    return Math.sqrt(num / den);
  }

  /** Raw 16-bit contents of one layer's buffer (queries, outputs, the new token's keys, the caches). */
  read(buffer: "query" | "output" | "newKey" | "keyCache" | "valueCache", layer: number): Uint16Array {
    return this.live().read(buffer, layer);
  }

  seqlens(): number[] {
    return Array.from(this.live().seqlens());
  }

  uploadLayer(layer: number, k: Uint16Array, v: Uint16Array, q: Uint16Array): void {
    this.live().uploadLayer(layer, k, v, q);
  }

  /** Every request back to its prompt length; later steps write the same synthetic tokens again. */
  reset(): void {
    this.live().reset();
  }

  dispose(): void {
    if (this.disposed) return;
    this.native.dispose();
    this.disposed = true;
  }
}
