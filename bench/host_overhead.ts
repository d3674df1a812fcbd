// Host-side costs with the `benchmark` package: validating configurations (zod), and one replayed decode
// step of a tiny model (N-API call, CUDA-graph launch, wait), whose GPU time is subtracted to leave the
// host's share.
//
//   npx tsx bench/host_overhead.ts

import Benchmark from "benchmark";
import { DEFAULT_RUN, parseModel, parseRun, PRESETS } from "../runtime/ts/config.js";
import { probeGpu } from "../runtime/ts/native.js";
import { DecodeRuntime } from "../runtime/ts/runtime.js";

const suite = new Benchmark.Suite();
suite.add("parse the qwen3-8b preset (zod)", () => parseModel(PRESETS["qwen3-8b"]));
suite.add("parse a run configuration (zod)", () => parseRun(DEFAULT_RUN));

const probe = probeGpu();
let runtime: DecodeRuntime | undefined;
let stepBench: Benchmark | undefined;
const gpuMs: number[] = [];
if (probe.ok) {
  const model = parseModel({ name: "tiny", layers: 36, qHeads: 32, kvHeads: 8, headDim: 128, dtype: "bf16", selectionLayers: [2, 12] });
  runtime = DecodeRuntime.create(probe.native, model, parseRun({ ...DEFAULT_RUN, context: 1024, steps: 100000, budget: 256 }));
  runtime.step("lessismore"); // captures the graph
  stepBench = new Benchmark("one replayed 36-layer decode step, B 1, 1K context (N-API + graph launch + wait)", () => {
    gpuMs.push(runtime!.step("lessismore"));
  });
  suite.push(stepBench);
} else {
  console.warn(`[lim] GPU part SKIPPED: ${probe.reason}`);
}

suite
  .on("cycle", (event: Benchmark.Event) => console.log(String(event.target)))
  .on("complete", () => {
    if (runtime && stepBench) {
      const wallUs = stepBench.stats.mean * 1e6;
      const attentionUs = (gpuMs.reduce((a, b) => a + b, 0) / gpuMs.length) * 1000;
      console.log(`step: ${wallUs.toFixed(1)} us wall per call, of which ${attentionUs.toFixed(1)} us attention on the GPU (events in the graph);`);
      console.log(`host share (N-API, launch, wait, non-attention kernels of the step): ${(wallUs - attentionUs).toFixed(1)} us`);
      runtime.dispose();
    }
  })
  .run();
