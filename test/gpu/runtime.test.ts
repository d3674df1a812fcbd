// The decode runtime on the GPU: full attention against the float64 reference after a few steps, paged and
// FP8 caches against contiguous ones, LessIsMore with a budget that keeps every token equals full attention
// with recall 1, the cache grows by one row per step, dispose gives the memory back, and a configuration too
// large for the GPU is refused.

import { describe, expect, it } from "vitest";
import { parseModel, parseRun, type ModelConfig, type RunConfig } from "../../runtime/ts/config.js";
import { decode } from "../../runtime/ts/half.js";
import type { NativeAddon } from "../../runtime/ts/native.js";
import { DecodeRuntime } from "../../runtime/ts/runtime.js";
import { gpu } from "../helpers/gpu.js";
import { decodeAttentionReference, relativeError } from "../../reference/attention.js";

const model: ModelConfig = parseModel({ name: "tiny", layers: 4, qHeads: 8, kvHeads: 2, headDim: 64, dtype: "bf16", selectionLayers: [2] });
const run: RunConfig = parseRun({ batch: 3, context: 300, steps: 4, budget: 64, recencyRatio: 0.25, sinks: 4, seed: 7 });

describe.skipIf(!gpu)("decode runtime on the GPU", () => {
  const addon = gpu as NativeAddon;

  it("full attention after a few steps matches the float64 reference at every layer", () => {
    const rt = DecodeRuntime.create(addon, model, run);
    try {
      for (let s = 0; s < 3; s++) rt.step("full");
      const seqlens = rt.seqlens();
      expect(seqlens).toEqual([303, 303, 303]);
      const cap = run.context + run.steps;
      for (let l = 0; l < model.layers; l++) {
        const ref = decodeAttentionReference({
          batch: run.batch, numQHeads: model.qHeads, numKvHeads: model.kvHeads, headDim: model.headDim, seqlens, scale: 1 / Math.sqrt(model.headDim),
          q: { data: decode("bf16", rt.read("query", l)), strides: [model.qHeads * model.headDim, model.headDim] },
          k: { data: decode("bf16", rt.read("keyCache", l)), strides: [model.kvHeads * cap * model.headDim, cap * model.headDim, model.headDim] },
          v: { data: decode("bf16", rt.read("valueCache", l)), strides: [model.kvHeads * cap * model.headDim, cap * model.headDim, model.headDim] },
        });
        expect(relativeError(decode("bf16", rt.read("output", l)), ref.out), `layer ${l}`).toBeLessThan(1e-2);
      }
    } finally {
      rt.dispose();
    }
  });

  /** Every policy's outputs at every layer after 3 steps, with caches of that layout and element type. */
  const outputs = (pageSize: number, kvDtype: RunConfig["kvDtype"] = "auto") => {
    const rt = DecodeRuntime.create(addon, model, parseRun({ ...run, pageSize, kvDtype }));
    try {
      return (["full", "lessismore", "tidaldecode"] as const).map((policy) => {
        rt.reset();
        for (let s = 0; s < 3; s++) rt.step(policy);
        return Array.from({ length: model.layers }, (_, l) => decode("bf16", rt.read("output", l)));
      });
    } finally {
      rt.dispose();
    }
  };

  it("paged caches (pages of 16 and of 1, shuffled) give every policy the outputs of contiguous caches", () => {
    const contiguous = outputs(0);
    for (const pageSize of [16, 1]) {
      outputs(pageSize).forEach((perLayer, p) =>
        perLayer.forEach((out, l) => expect(relativeError(out, contiguous[p][l]), `page ${pageSize}, policy ${p}, layer ${l}`).toBeLessThan(1e-3)),
      );
    }
    const rt = DecodeRuntime.create(addon, model, parseRun({ ...run, pageSize: 16 }));
    try {
      expect(() => rt.read("keyCache", 0)).toThrow(/the caches of a paged runtime are pools of shuffled pages/);
    } finally {
      rt.dispose();
    }
  });

  it("FP8 (E4M3) caches, as lim decode --cache paged16 --kv-dtype fp8 runs them: pages of 16 and of 1 give every policy the outputs of contiguous FP8 caches", () => {
    // The same synthetic tokens quantised on their way into the cache (scale 1), then read through each layout.
    const contiguous = outputs(0, "e4m3");
    for (const perLayer of contiguous) for (const out of perLayer) expect(out.every(Number.isFinite)).toBe(true);
    for (const pageSize of [16, 1]) {
      outputs(pageSize, "e4m3").forEach((perLayer, p) =>
        perLayer.forEach((out, l) => expect(relativeError(out, contiguous[p][l]), `FP8, page ${pageSize}, policy ${p}, layer ${l}`).toBeLessThan(1e-3)),
      );
    }
    const rt = DecodeRuntime.create(addon, model, parseRun({ ...run, kvDtype: "e4m3" }));
    try {
      expect(() => rt.read("keyCache", 0)).toThrow(/the caches of an FP8 runtime hold bytes/);
    } finally {
      rt.dispose();
    }
  });

  it("LessIsMore with a budget that keeps every token equals full attention, with recall 1", () => {
    const everything = parseRun({ ...run, budget: run.context + run.steps });
    const rt = DecodeRuntime.create(addon, model, everything);
    try {
      rt.step("full");
      const full = Array.from({ length: model.layers }, (_, l) => decode("bf16", rt.read("output", l)));
      rt.reset();
      rt.step("lessismore");
      for (let l = 0; l < model.layers; l++) expect(relativeError(decode("bf16", rt.read("output", l)), full[l]), `layer ${l}`).toBeLessThan(2e-3);
      for (const r of rt.recall("lessismore")) {
        expect(r.min).toBeGreaterThan(0.9999);
        expect(r.mean).toBeLessThan(1.0001);
      }
    } finally {
      rt.dispose();
    }
  });

  it("LessIsMore and TidalDecode with a real budget keep most of the attention and stay close to full attention", () => {
    const rt = DecodeRuntime.create(addon, model, run);
    try {
      for (const policy of ["lessismore", "tidaldecode"] as const) {
        rt.reset();
        rt.step(policy);
        for (const r of rt.recall(policy)) expect(r.mean, `${policy} recall at layer ${r.layer}`).toBeGreaterThan(0.5);
        expect(rt.layerError(3), `${policy} output error at layer 3`).toBeLessThan(0.5);
      }
    } finally {
      rt.dispose();
    }
  });

  it("each step appends the new token's key at the next row of every layer's cache", () => {
    const rt = DecodeRuntime.create(addon, model, run);
    try {
      const cap = run.context + run.steps;
      const before = rt.seqlens();
      rt.step("lessismore");
      expect(rt.seqlens()).toEqual(before.map((n) => n + 1));
      for (const l of [0, model.layers - 1]) {
        const cache = rt.read("keyCache", l);
        const added = rt.read("newKey", l);
        for (let b = 0; b < run.batch; b++) {
          for (let h = 0; h < model.kvHeads; h++) {
            const row = ((b * model.kvHeads + h) * cap + before[b]) * model.headDim;
            const mine = ((b * model.kvHeads + h) * model.headDim);
            expect(Array.from(cache.subarray(row, row + model.headDim))).toEqual(Array.from(added.subarray(mine, mine + model.headDim)));
          }
        }
      }
    } finally {
      rt.dispose();
    }
  });

  it("dispose gives the device memory back over repeated create/dispose cycles", () => {
    const bigger = parseRun({ ...run, context: 20000 });
    const start = addon.deviceInfo().freeBytes;
    for (let i = 0; i < 4; i++) {
      const rt = DecodeRuntime.create(addon, model, bigger);
      expect(addon.deviceInfo().freeBytes).toBeLessThan(start - DecodeRuntime.deviceBytes(addon, model, bigger) * 0.9);
      rt.step("lessismore");
      rt.dispose();
      expect(() => rt.step("full")).toThrow(/the runtime was disposed/);
    }
    expect(Math.abs(addon.deviceInfo().freeBytes - start)).toBeLessThan(64 * 2 ** 20);
  });

  it("refuses a configuration that does not fit, saying how much it needs and how much is free", () => {
    const huge = parseModel({ ...model, layers: 512, kvHeads: 8, qHeads: 8, headDim: 256 });
    expect(() => DecodeRuntime.create(addon, huge, parseRun({ ...run, context: 1 << 20, batch: 4 }))).toThrow(/the runtime needs [\d.]+ GB, [\d.]+ GB free of [\d.]+ GB on the GPU/);
  });
});
