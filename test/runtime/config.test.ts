// Model and run configurations: the presets, and errors that name the field and what it must be.

import { describe, expect, it } from "vitest";
import { cacheLayoutName, DEFAULT_RUN, parseCacheLayout, parseModel, parseRun, preset, PRESETS } from "../../runtime/ts/config.js";
import { sampledSparseLayers } from "../../cli/decode_command.js";

describe("presets", () => {
  it("describe the paper's models", () => {
    expect(preset("qwen3-8b")).toMatchObject({ layers: 36, qHeads: 32, kvHeads: 8, headDim: 128, selectionLayers: [2, 12] });
    expect(preset("qwen3-4b")).toMatchObject({ layers: 36, qHeads: 32, kvHeads: 8, headDim: 128, selectionLayers: [2, 20] });
    expect(preset("llama-3.1-8b")).toMatchObject({ layers: 32, qHeads: 32, kvHeads: 8, headDim: 128, selectionLayers: [2, 13] });
    for (const m of Object.values(PRESETS)) expect(parseModel(m)).toEqual(m);
  });
  it("an unknown preset names the known ones", () => {
    expect(() => preset("gpt-9")).toThrow(/unknown preset 'gpt-9': choose qwen3-8b, qwen3-4b, llama-3.1-8b/);
  });
  it("errors are sampled at the first sparse layer after each selection layer and at the last layer", () => {
    expect(sampledSparseLayers(preset("qwen3-8b"))).toEqual([3, 13, 35]);
  });
});

describe("invalid configurations", () => {
  const model = preset("qwen3-8b");
  it.each([
    ["heads that do not divide", { qHeads: 30 }, /model.qHeads: qHeads \(30\) must be a multiple of kvHeads \(8\)/],
    ["a selection layer past the last layer", { selectionLayers: [2, 40] }, /model.selectionLayers.1: selection layer 40 does not exist: the model has layers 0..35/],
    ["selection layers out of order", { selectionLayers: [12, 2] }, /model.selectionLayers.1: selectionLayers must be strictly ascending/],
    ["a head dim that breaks 16-byte rows", { headDim: 100 }, /model.headDim: headDim must be a multiple of 8/],
    ["an unknown dtype", { dtype: "fp8" }, /model.dtype/],
  ])("model: %s", (_label, change, message) => {
    expect(() => parseModel({ ...model, ...change })).toThrow(message);
  });
  it.each([
    ["a budget below sinks + 2", { budget: 5 }, /run.budget: budget \(5\) must be at least sinks \+ 2 = 6/],
    ["no room for the current token", { budget: 10, recencyRatio: 0.05 }, /run.recencyRatio: budget 10, recencyRatio 0.05 and 4 sinks leave -3 recent tokens/],
    ["a recency ratio of 1", { recencyRatio: 1 }, /run.recencyRatio: recencyRatio must be below 1/],
    ["an empty batch", { batch: 0 }, /run.batch/],
    ["an empty prompt", { context: 0 }, /run.context: context must be at least 1 token/],
    ["a page size that is not a power of two", { pageSize: 12 }, /run.pageSize: pageSize \(12\) must be 0 \(contiguous caches\) or a power of two/],
  ])("run: %s", (_label, change, message) => {
    expect(() => parseRun({ ...DEFAULT_RUN, ...change })).toThrow(message);
  });
  it("reads cache layouts as the command line names them", () => {
    expect([parseCacheLayout("contiguous"), parseCacheLayout("paged16"), parseCacheLayout("paged1")]).toEqual([0, 16, 1]);
    expect(cacheLayoutName(16)).toBe("paged16");
    expect(cacheLayoutName(0)).toBe("contiguous");
    for (const bad of ["paged12", "paged", "paged0", "pages16"]) {
      expect(() => parseCacheLayout(bad), bad).toThrow(/is not a cache layout; use contiguous or paged<N> with N a power of two/);
    }
  });
});
