// Model and run configurations of the decode runtime, validated with zod: every error names the field
// and says what it must be.

import { readFileSync } from "node:fs";
import { z } from "zod";

export const ModelConfig = z
  .object({
    name: z.string().min(1),
    layers: z.number().int().min(1).max(1024),
    qHeads: z.number().int().min(1).max(1024),
    kvHeads: z.number().int().min(1).max(1024),
    headDim: z.number().int().min(8).max(256).multipleOf(8, { message: "headDim must be a multiple of 8 (rows are read 16 bytes at a time)" }),
    dtype: z.enum(["bf16", "fp16"]),
    /** The hidden size, where known: with the attention shape it matches a transformers model to its preset. */
    hiddenSize: z.number().int().min(1).optional(),
    /** Layers that rank tokens (full attention + selection); layers before the first use full attention. */
    selectionLayers: z.array(z.number().int().min(0)).min(1, { message: "selectionLayers needs at least one layer" }),
  })
  .superRefine((m, ctx) => {
    if (m.qHeads % m.kvHeads !== 0) ctx.addIssue({ code: "custom", path: ["qHeads"], message: `qHeads (${m.qHeads}) must be a multiple of kvHeads (${m.kvHeads})` });
    m.selectionLayers.forEach((l, i) => {
      if (l >= m.layers) ctx.addIssue({ code: "custom", path: ["selectionLayers", i], message: `selection layer ${l} does not exist: the model has layers 0..${m.layers - 1}` });
      if (i > 0 && l <= m.selectionLayers[i - 1]) ctx.addIssue({ code: "custom", path: ["selectionLayers", i], message: "selectionLayers must be strictly ascending" });
    });
  });
export type ModelConfig = z.infer<typeof ModelConfig>;

export const RunConfig = z
  .object({
    batch: z.number().int().min(1).max(65535),
    context: z.number().int().min(1, { message: "context must be at least 1 token" }),
    steps: z.number().int().min(0),
    budget: z.number().int().min(1),
    recencyRatio: z.number().min(0).lt(1, { message: "recencyRatio must be below 1 (the ranked part would be empty)" }),
    sinks: z.number().int().min(0),
    seed: z.number().int().min(0).max(0xffffffff),
    /** 0: contiguous caches [batch, kv_heads, capacity, head_dim]; else paged caches of this many positions per page (NHD, pages shuffled). */
    pageSize: z.number().int().min(0).max(1 << 20).default(0),
    /** K/V cache element type: "auto" (the model's dtype) or an FP8 format, "e4m3" or "e5m2" (scale 1; lim_fp8_* functions). */
    kvDtype: z.enum(["auto", "e4m3", "e5m2"]).default("auto"),
  })
  .superRefine((r, ctx) => {
    if ((r.pageSize & (r.pageSize - 1)) !== 0) ctx.addIssue({ code: "custom", path: ["pageSize"], message: `pageSize (${r.pageSize}) must be 0 (contiguous caches) or a power of two` });
    if (r.budget < r.sinks + 2) ctx.addIssue({ code: "custom", path: ["budget"], message: `budget (${r.budget}) must be at least sinks + 2 = ${r.sinks + 2}` });
    const middle = Math.floor(r.budget * (1 - r.recencyRatio));
    const recent = r.budget - middle - r.sinks;
    if (recent < 1) ctx.addIssue({ code: "custom", path: ["recencyRatio"], message: `budget ${r.budget}, recencyRatio ${r.recencyRatio} and ${r.sinks} sinks leave ${recent} recent tokens; the current token must stay in the set` });
  });
export type RunConfig = z.infer<typeof RunConfig>;

/**
 * The paper's models: LessIsMore selects at layer 2 and re-selects at one later layer. They live in
 * runtime/presets.json, which the Python package's transformers backend reads too (its default selection layers).
 */
export const PRESETS: Readonly<Record<string, ModelConfig>> = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync(new URL("../presets.json", import.meta.url), "utf8")) as Record<string, unknown>).map(([name, m]) => [name, parseModel(m)]),
);

export const DEFAULT_RUN: RunConfig = { batch: 1, context: 32768, steps: 128, budget: 2048, recencyRatio: 0.25, sinks: 4, seed: 1, pageSize: 0, kvDtype: "auto" };

/** A cache layout as the command line names it: "contiguous", or "paged<N>" for pages of N positions; its page size (0: contiguous). */
export function parseCacheLayout(text: string): number {
  if (text === "contiguous") return 0;
  const m = /^paged(\d+)$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!(n >= 1 && (n & (n - 1)) === 0)) throw new Error(`--cache: '${text}' is not a cache layout; use contiguous or paged<N> with N a power of two (paged16, paged1)`);
  return n;
}

/** The command-line name of a page size. */
export const cacheLayoutName = (pageSize: number): string => (pageSize > 0 ? `paged${pageSize}` : "contiguous");

/** Formats zod's issues as "field: message" lines. */
function describe(error: z.ZodError, what: string): string {
  return error.issues.map((i) => `${what}${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`).join("\n");
}

export function parseModel(input: unknown): ModelConfig {
  const r = ModelConfig.safeParse(input);
  if (!r.success) throw new Error(`invalid model configuration:\n${describe(r.error, "model")}`);
  return r.data;
}

export function parseRun(input: unknown): RunConfig {
  const r = RunConfig.safeParse(input);
  if (!r.success) throw new Error(`invalid run configuration:\n${describe(r.error, "run")}`);
  return r.data;
}

export function preset(name: string): ModelConfig {
  const m = PRESETS[name];
  if (!m) throw new Error(`unknown preset '${name}': choose ${Object.keys(PRESETS).join(", ")}`);
  return m;
}
