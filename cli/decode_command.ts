// `lim decode`: LessIsMore against full attention (and TidalDecode) in the minimal decode runtime, on this
// GPU, for a model's shape: attention time per step, tokens per second of the attention part, speed-up,
// attention recall at the selection layers and the output error at sampled sparse layers.

import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import { cacheLayoutName, DEFAULT_RUN, parseCacheLayout, parseModel, parseRun, preset, PRESETS, type ModelConfig, type RunConfig } from "../runtime/ts/config.js";
import { probeGpu } from "../runtime/ts/native.js";
import { measureSdpaBaseline, type SdpaBaseline } from "../runtime/ts/baseline.js";
import { DecodeRuntime, POLICIES, type Policy } from "../runtime/ts/runtime.js";
import { readSavedCaches } from "../runtime/ts/safetensors.js";
import { median } from "../report/stats.js";
import { parseInteger, parseList, runAction } from "./common.js";
import { Progress } from "./progress.js";

interface DecodeFlags {
  preset: string;
  context: number;
  steps: number;
  budget: number;
  batch: number;
  policy: Policy[];
  seed: number;
  cache: number;
  kvDtype: "auto" | "e4m3" | "e5m2";
  load?: string;
  json?: boolean;
  sdpa: boolean;
}

export interface PolicyReport {
  policy: Policy | "full (PyTorch SDPA)";
  attentionUsPerStep: number;
  attentionTokensPerSecond: number;
  speedupOverFull?: number;
  recall?: { layer: number; mean: number; min: number }[];
  layerErrors?: { layer: number; relativeError: number }[];
}

/** The first sparse layer after each selection layer, and the last layer: where errors are sampled. */
export function sampledSparseLayers(model: ModelConfig): number[] {
  const sel = model.selectionLayers;
  const out = new Set<number>();
  for (const l of sel) if (l + 1 < model.layers && !sel.includes(l + 1)) out.add(l + 1);
  if (!sel.includes(model.layers - 1)) out.add(model.layers - 1);
  return [...out].sort((a, b) => a - b);
}

/** Runs each policy for run.steps steps from the same prompt; the first step (graph capture) is not counted. */
export function measurePolicies(rt: DecodeRuntime, policies: readonly Policy[], onStep?: (policy: Policy, step: number) => void): PolicyReport[] {
  const reports: PolicyReport[] = [];
  for (const policy of policies) {
    rt.reset();
    const times: number[] = [];
    for (let s = 0; s < rt.run.steps; s++) {
      const ms = rt.step(policy);
      if (s > 0 || rt.run.steps === 1) times.push(ms);
      onStep?.(policy, s + 1);
    }
    const us = median(times) * 1000;
    const report: PolicyReport = { policy, attentionUsPerStep: us, attentionTokensPerSecond: rt.run.batch / (us / 1e6) };
    if (policy !== "full") {
      report.recall = rt.recall(policy);
      report.layerErrors = sampledSparseLayers(rt.model).map((layer) => ({ layer, relativeError: rt.layerError(layer) }));
    }
    reports.push(report);
  }
  return reports;
}

/**
 * The full-attention baseline: our full policy, or PyTorch's fastest SDPA backend times the layers where that
 * is faster (measured in this run); every policy's speed-up is over the faster of the two.
 */
export function applyBaseline(reports: PolicyReport[], model: ModelConfig, run: RunConfig, sdpa: SdpaBaseline | { unavailable: string } | undefined): string {
  const ours = reports.find((r) => r.policy === "full");
  if (!ours) return "no full-attention run: speed-ups are not computed (add full to --policy)";
  let base = ours.attentionUsPerStep;
  let note = "speed-ups over our full attention";
  if (sdpa && "unavailable" in sdpa) {
    note += ` (PyTorch's SDPA could not be timed: ${sdpa.unavailable})`;
  } else if (sdpa) {
    const stepUs = sdpa.perLayerUs * model.layers;
    reports.push({ policy: "full (PyTorch SDPA)", attentionUsPerStep: stepUs, attentionTokensPerSecond: run.batch / (stepUs / 1e6) });
    const timed = `PyTorch SDPA ${sdpa.backend}, ${sdpa.perLayerUs.toFixed(1)} us per layer at ${sdpa.length} tokens x ${model.layers} layers`;
    if (stepUs < base) {
      base = stepUs;
      note = `speed-ups over the fastest full attention: ${timed} (ours: ${ours.attentionUsPerStep.toFixed(1)} us per step)`;
    } else {
      note = `speed-ups over the fastest full attention: ours (${timed})`;
    }
  }
  for (const r of reports) r.speedupOverFull = base / r.attentionUsPerStep;
  return note;
}

/** Recall and output errors on uploaded caches and queries: one attention pass per policy, no new token. */
function measureSaved(rt: DecodeRuntime, policies: readonly Policy[]): PolicyReport[] {
  return policies.map((policy) => {
    rt.attend(policy);
    const report: PolicyReport = { policy, attentionUsPerStep: NaN, attentionTokensPerSecond: NaN };
    if (policy !== "full") {
      report.recall = rt.recall(policy);
      report.layerErrors = sampledSparseLayers(rt.model).map((layer) => ({ layer, relativeError: rt.layerError(layer) }));
    }
    return report;
  });
}

function table(model: ModelConfig, run: RunConfig, reports: PolicyReport[], data: string, baseline?: string): string {
  const lines = [
    `${model.name}: ${model.layers} layers, ${model.qHeads}/${model.kvHeads} heads, head dim ${model.headDim}, ${model.dtype}; ` +
      `batch ${run.batch}, context ${run.context}, ${run.steps} steps, budget K ${run.budget} (r ${run.recencyRatio}, S ${run.sinks}); ${cacheLayoutName(run.pageSize)}${run.kvDtype === "auto" ? "" : ` FP8 (${run.kvDtype})`} caches; data: ${data}`,
    "",
    ...(baseline ? [baseline] : []),
    "",
    `${"policy".padEnd(12)} ${"attention us/step".padStart(18)} ${"tokens/s".padStart(10)} ${"vs full".padStart(8)}  recall at selection layers (mean / min)   output error at sampled layers`,
  ];
  for (const r of reports) {
    const recall = r.recall?.map((x) => `L${x.layer} ${x.mean.toFixed(3)}/${x.min.toFixed(3)}`).join("  ") ?? "-";
    const errors = r.layerErrors?.map((x) => `L${x.layer} ${x.relativeError.toExponential(2)}`).join("  ") ?? "-";
    const us = Number.isNaN(r.attentionUsPerStep) ? "-" : r.attentionUsPerStep.toFixed(1);
    const tps = Number.isNaN(r.attentionTokensPerSecond) ? "-" : r.attentionTokensPerSecond.toFixed(0);
    const speed = r.speedupOverFull === undefined || Number.isNaN(r.speedupOverFull) ? "-" : `${r.speedupOverFull.toFixed(2)}x`;
    lines.push(`${r.policy.padEnd(19)} ${us.padStart(11)} ${tps.padStart(10)} ${speed.padStart(8)}  ${recall.padEnd(40)} ${errors}`);
  }
  return lines.join("\n");
}

function parseKvDtype(text: string): "auto" | "e4m3" | "e5m2" {
  if (text === "fp8") return "e4m3";
  if (text === "auto" || text === "e4m3" || text === "e5m2") return text;
  throw new InvalidArgumentError(`'${text}' is not a KV cache dtype; use auto (the model's dtype), e4m3 or e5m2 (FP8; fp8 means e4m3)`);
}

function parseCacheOption(text: string): number {
  try {
    return parseCacheLayout(text);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--cache: /, ""));
  }
}

export function registerDecode(program: Command): void {
  program
    .command("decode")
    .description("decode with LessIsMore, TidalDecode and full attention in the minimal runtime on this GPU, and compare them")
    .option("--preset <name>", `model shape: ${Object.keys(PRESETS).join(", ")}`, "qwen3-8b")
    .option("--context <n>", "prompt tokens per request", parseInteger("--context"), DEFAULT_RUN.context)
    .option("--steps <n>", "decode steps per policy", parseInteger("--steps"), DEFAULT_RUN.steps)
    .option("--budget <n>", "LessIsMore's token budget K", parseInteger("--budget"), DEFAULT_RUN.budget)
    .option("--batch <n>", "requests decoded together", parseInteger("--batch"), DEFAULT_RUN.batch)
    .option("--seed <n>", "seed of the synthetic data", parseInteger("--seed"), DEFAULT_RUN.seed)
    // Page size 0 is a contiguous cache; the help says so in words.
    .addOption(new Option("--cache <layout>", "KV cache layout: contiguous, or paged<N> (NHD pages of N positions, a power of two, in shuffled order; e.g. paged16)").argParser(parseCacheOption).default(0, "contiguous"))
    .option("--kv-dtype <type>", "KV cache element type: auto (the model's dtype), e4m3 or e5m2 (FP8, half the bytes; fp8 means e4m3; e5m2 needs variants made with lim generate --kv-dtypes auto,e4m3,e5m2)", parseKvDtype, "auto")
    .option("--policy <list>", `policies to run: ${POLICIES.join(", ")}`, parseList("--policy", POLICIES), ["full", "lessismore"])
    .option("--load <file>", "measure recall and errors on K caches and queries saved from a model (safetensors; see runtime/ts/safetensors.ts)")
    .option("--no-sdpa", "do not time PyTorch's SDPA for the full-attention baseline (it runs python3 with PyTorch when present)")
    .option("--json", "print the results as JSON")
    .action((flags: DecodeFlags) =>
      runAction(async () => {
        const model = parseModel(preset(flags.preset));
        // Every argument is checked before the GPU is looked for: a mistake is named on any machine.
        if (flags.load && (flags.cache !== 0 || flags.kvDtype !== "auto")) throw new Error("--load uploads the saved caches into contiguous caches in the model's dtype; leave --cache and --kv-dtype out");
        const saved = flags.load ? readSavedCaches(flags.load, model) : undefined;
        const run = saved
          ? parseRun({ ...DEFAULT_RUN, batch: saved.batch, context: saved.context, steps: 0, budget: flags.budget, seed: flags.seed })
          : parseRun({ ...DEFAULT_RUN, context: flags.context, steps: flags.steps, budget: flags.budget, batch: flags.batch, seed: flags.seed, pageSize: flags.cache, kvDtype: flags.kvDtype });
        if (!saved && run.steps < 1) throw new Error("--steps must be at least 1 with synthetic data");
        const gpu = probeGpu(); // no GPU or driver, no addon, or a library built for another GPU: said as such
        if (!gpu.ok) throw new Error(gpu.reason);
        const addon = gpu.native;
        if (saved) {
          const rt = DecodeRuntime.create(addon, model, run, false);
          try {
            saved.layers.forEach((t, l) => rt.uploadLayer(l, t.k, t.v, t.q));
            const reports = measureSaved(rt, flags.policy);
            console.log(flags.json ? JSON.stringify({ model, run, data: flags.load, reports }, null, 2) : table(model, run, reports, flags.load!));
          } finally {
            rt.dispose();
          }
          return 0;
        }
        const rt = DecodeRuntime.create(addon, model, run, true);
        let reports: PolicyReport[];
        try {
          const progress = new Progress(flags.policy.length * run.steps);
          reports = measurePolicies(rt, flags.policy, (policy, s) => progress.tick(`${policy} step ${s}/${run.steps}`));
          progress.done();
        } finally {
          rt.dispose();
        }
        // Once the runtime's memory is back: PyTorch's SDPA on the same shape, in another process.
        const sdpa = flags.sdpa && flags.policy.includes("full") ? measureSdpaBaseline(model, run) : undefined;
        const baseline = applyBaseline(reports, model, run, sdpa);
        const data = "synthetic (sinks, heavy hitters, recent tokens: dsl/kernels/synthetic.ts)";
        console.log(flags.json ? JSON.stringify({ model, run, data: "synthetic", baseline, sdpa, reports }, null, 2) : table(model, run, reports, data, baseline));
        return 0;
      }),
    );
}
