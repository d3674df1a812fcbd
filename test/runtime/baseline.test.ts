// lim decode's full-attention baseline: speed-ups are over the faster of our full attention and PyTorch's
// fastest SDPA backend (timed in the same run), never over a slower one; without PyTorch, over ours, saying why.
// And its --cache flag's bad values, refused before the GPU is touched.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../cli/common.js";
import { applyBaseline, type PolicyReport } from "../../cli/decode_command.js";
import { parseRun, preset } from "../../runtime/ts/config.js";

const model = preset("qwen3-8b"); // 36 layers
const run = parseRun({ batch: 1, context: 32768, steps: 8, budget: 2048, recencyRatio: 0.25, sinks: 4, seed: 1 });
const reports = (): PolicyReport[] => [
  { policy: "full", attentionUsPerStep: 1600, attentionTokensPerSecond: 625 },
  { policy: "lessismore", attentionUsPerStep: 800, attentionTokensPerSecond: 1250 },
];
const sdpa = (perLayerUs: number) => ({ backend: "cudnn", perLayerUs, length: 32772, backends: { cudnn: { us: perLayerUs }, flash: { us: 60 } } });

describe("the full-attention baseline of lim decode", () => {
  it("takes PyTorch's SDPA where it is faster than ours, and adds it as a row", () => {
    const r = reports();
    const note = applyBaseline(r, model, run, sdpa(40)); // 36 x 40 = 1440 us < 1600
    expect(note).toMatch(/over the fastest full attention: PyTorch SDPA cudnn, 40.0 us per layer at 32772 tokens x 36 layers \(ours: 1600.0 us per step\)/);
    expect(r.map((x) => [x.policy, x.speedupOverFull])).toEqual([["full", 0.9], ["lessismore", 1.8], ["full (PyTorch SDPA)", 1]]);
  });

  it("keeps ours where ours is faster", () => {
    const r = reports();
    expect(applyBaseline(r, model, run, sdpa(50))).toMatch(/fastest full attention: ours \(PyTorch SDPA cudnn, 50.0 us per layer/);
    expect(r[1].speedupOverFull).toBe(2);
  });

  it("says why when PyTorch could not be timed, and what the speed-ups are over", () => {
    const r = reports();
    expect(applyBaseline(r, model, run, { unavailable: "ModuleNotFoundError: No module named 'torch'" })).toBe(
      "speed-ups over our full attention (PyTorch's SDPA could not be timed: ModuleNotFoundError: No module named 'torch')",
    );
    expect(r).toHaveLength(2);
    expect(applyBaseline(reports().slice(1), model, run, undefined)).toMatch(/no full-attention run/);
  });
});

describe("lim decode --cache", () => {
  it("refuses a layout that is not contiguous or paged<power of two>, before touching the GPU", () => {
    const r = spawnSync(join(PROJECT_ROOT, "bin/lim"), ["decode", "--cache", "paged12"], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/option '--cache <layout>' argument 'paged12' is invalid\. 'paged12' is not a cache layout; use contiguous or paged<N> with N a power of two/);
  });
});
