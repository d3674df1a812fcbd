// The report of one `lim bench` run: markdown tables of every suite beside PyTorch, the targets (docs/benchmarks.md)
// met or missed as measured, and an SVG of achieved bandwidth per shape against the copy roofline and
// PyTorch. Reads the JSON files the Python benchmarks wrote into the run's folder.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { barChartSvg } from "./svg.js";

/* The rows the Python benchmarks write (bench/*.py); only the fields the report reads. */
interface DecodeRow { B: number; N: number; D: number; G?: number; dtype?: string; kv_MB: number; ours_us: number; ours_TBps: number; flash_us: number | null; cudnn_us: number | null; sdpa_best_us: number | null; speedup: number | null }
interface SparseRow {
  B: number; N: number; K: number; fused_us: number; fused_TBps: number; kv_MB_read: number; torch_us: number; per_head_us: number; speedup_vs_torch: number;
  paged_fp8_us?: number; // over an E4M3 cache in shuffled NHD pages of 16 (from bench/NOTES.md section 21 on)
}
/** A decode row of the engine-caches suite: the same K and V contiguous, paged (pages of 16 and 1) and in E4M3. */
interface CachesRow extends DecodeRow {
  paged16_us?: number; paged16_over_contiguous?: number; paged1_us?: number; paged1_over_contiguous?: number;
  e4m3_us?: number; e4m3_over_ours?: number; e4m3_speedup?: number | null;
}
interface SelectionRow { B: number; N: number; K: number; full_us: number; layer_us: number; layer_over_full: number; torch_us: number; speedup_vs_torch: number }
interface TopkRow { rows: number; length: number; k: number; ours_us: number; torch_us: number; speedup: number }
interface EndToEndRow {
  B: number; N: number; sdpa_backend: string | null; sdpa_ms: number | null; dense_ms: number; full_ms: number; lessismore_ms: number; tidaldecode_ms: number;
  sdpa_tokens_per_s: number | null; full_tokens_per_s: number; lessismore_tokens_per_s: number; tidaldecode_tokens_per_s: number;
  // With --overhead: the share of each of our modes' step beyond the dense part and our kernels (glue kernels, gaps).
  full_other_share?: number; lessismore_other_share?: number; tidaldecode_other_share?: number;
}

export interface BenchResults {
  device?: string;
  copyTBps?: number;
  decode: DecodeRow[];
  caches: CachesRow[];
  sparse: SparseRow[];
  selection: SelectionRow[];
  topk: TopkRow[];
  endToEnd: EndToEndRow[];
}

/** Reads the newest result of each suite in `dir`. */
export function readResults(dir: string): BenchResults {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist: pass the folder of an earlier \`lim bench\` run`);
  const newest = (prefix: string) => {
    const files = readdirSync(dir).filter((f) => f.startsWith(`${prefix}-`) && f.endsWith(".json")).sort();
    return files.length ? JSON.parse(readFileSync(join(dir, files.at(-1)!), "utf8")) : undefined;
  };
  const copy = newest("copy_roofline");
  const decode = newest("decode_attention");
  const caches = newest("engine_caches");
  const sparse = newest("sparse_attention");
  const selection = newest("selection");
  const e2e = newest("e2e_decode");
  return {
    device: copy?.device ?? decode?.device ?? sparse?.device ?? selection?.device,
    copyTBps: copy?.copy_TBps,
    decode: decode?.rows ?? [],
    caches: caches?.rows ?? [],
    sparse: sparse?.rows ?? [],
    selection: selection?.selection ?? [],
    topk: selection?.topk ?? [],
    endToEnd: e2e?.rows ?? [],
  };
}

const f1 = (v: number | null | undefined) => (v === null || v === undefined ? "-" : v.toFixed(1));
const f2 = (v: number | null | undefined) => (v === null || v === undefined ? "-" : v.toFixed(2));
const kib = (n: number) => (n >= 1024 ? `${n / 1024}K` : String(n));

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

interface Target {
  readonly what: string;
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

/** The targets of docs/benchmarks.md, evaluated on this run's numbers (undefined: the run lacks the shapes). */
function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const minOf = (xs: number[]) => (xs.length ? Math.min(...xs) : undefined);
  const add = (what: string, goal: string, value: number | undefined, show: (v: number) => string, met: (v: number) => boolean) =>
    out.push({ what, goal, measured: value === undefined ? "not measured" : show(value), met: value === undefined ? undefined : met(value) });
  const decode = (B: number, N: number) => r.decode.find((d) => d.B === B && d.N === N && d.D === 128 && (d.G ?? 4) === 4 && (d.dtype ?? "bf16") === "bf16");
  add("full decode, whole grid", "never slower than the best SDPA", minOf(r.decode.filter((d) => d.speedup).map((d) => d.speedup!)), (v) => `${v.toFixed(2)}x (worst)`, (v) => v >= 1);
  add("full decode, K+V > 1 GB", ">= 4.2 TB/s", minOf(r.decode.filter((d) => d.kv_MB > 1000).map((d) => d.ours_TBps)), (v) => `${v.toFixed(2)} TB/s (worst)`, (v) => v >= 4.2);
  add("full decode, B 1, N 32K", "<= 36 us", decode(1, 32768)?.ours_us, (v) => `${v.toFixed(1)} us`, (v) => v <= 36);
  add("full decode, B 1, N 4K", "<= 10 us", decode(1, 4096)?.ours_us, (v) => `${v.toFixed(1)} us`, (v) => v <= 10);
  const layer = r.selection.find((s) => s.B === 1 && s.N === 32768 && s.K === 2048);
  add("selection layer, B 1, 32K, K 2048", "<= 1.3x full attention", layer?.layer_over_full, (v) => `${v.toFixed(2)}x`, (v) => v <= 1.3);
  const topk = (rows: number, length: number, k: number) => r.topk.find((t) => t.rows === rows && t.length === length && t.k === k)?.ours_us;
  add("top-k, 32 rows x 32K, k 2048", "<= 12 us", topk(32, 32768, 2048), (v) => `${v.toFixed(1)} us`, (v) => v <= 12);
  add("top-k, 32 rows x 128K, k 4096", "<= 40 us", topk(32, 131072, 4096), (v) => `${v.toFixed(1)} us`, (v) => v <= 40);
  add("top-k, 256 rows x 32K, k 2048", "<= 45 us", topk(256, 32768, 2048), (v) => `${v.toFixed(1)} us`, (v) => v <= 45);
  const sparse = r.sparse.find((s) => s.B === 1 && s.K === 2048);
  add("sparse attention, 2048 tokens, B 1", "<= 6 us", sparse?.fused_us, (v) => `${v.toFixed(1)} us`, (v) => v <= 6);
  // Engines' caches (the engine-caches suite and the sparse suite's paged FP8 call).
  const worst = (key: "paged16_over_contiguous" | "paged1_over_contiguous") => {
    const xs = r.caches.map((c) => c[key]).filter((v): v is number => v !== undefined);
    return xs.length ? Math.max(...xs) : undefined;
  };
  const over = (v: number) => `${((v - 1) * 100).toFixed(1)}% (worst)`;
  add("paged caches, pages of 16 (shuffled)", "within 3% of contiguous", worst("paged16_over_contiguous"), over, (v) => v <= 1.03);
  add("paged caches, pages of 1 (shuffled)", "within 10% of contiguous", worst("paged1_over_contiguous"), over, (v) => v <= 1.1);
  const large = r.caches.filter((c) => c.kv_MB > 1000);
  add("FP8 (E4M3) decode, K+V > 1 GB, over our bf16", ">= 1.8x", minOf(large.flatMap((c) => (c.e4m3_over_ours ? [c.e4m3_over_ours] : []))), (v) => `${v.toFixed(2)}x (worst)`, (v) => v >= 1.8);
  add("FP8 (E4M3) decode, K+V > 1 GB, over the best SDPA backend on bf16", ">= 1.8x", minOf(large.flatMap((c) => (c.e4m3_speedup ? [c.e4m3_speedup] : []))),
    (v) => `${v.toFixed(2)}x (worst)`, (v) => v >= 1.8);
  add("sparse attention over a paged FP8 cache, K 2048, B 1", "<= 6 us", sparse?.paged_fp8_us, (v) => `${v.toFixed(1)} us`, (v) => v <= 6);
  // End to end (bench/e2e_decode.py): tokens per second, every dense layer included.
  const e2e = (B: number, N: number) => r.endToEnd.find((e) => e.B === B && e.N === N);
  const ratio = (B: number, N: number, over: "full" | "sdpa") => {
    const base = e2e(B, N)?.[`${over}_ms`];
    return base ? base / e2e(B, N)!.lessismore_ms : undefined; // no SDPA time: no backend fitted in memory
  };
  add("end to end, 32K, B 1: LessIsMore over our full attention", ">= 1.3x", ratio(1, 32768, "full"), (v) => `${v.toFixed(2)}x`, (v) => v >= 1.3);
  add("end to end, 32K, B 1: LessIsMore over SDPA", ">= 1.15x", ratio(1, 32768, "sdpa"), (v) => `${v.toFixed(2)}x`, (v) => v >= 1.15);
  add("end to end, 128K, B 1: LessIsMore over SDPA", ">= 1.5x", ratio(1, 131072, "sdpa"), (v) => `${v.toFixed(2)}x`, (v) => v >= 1.5);
  add("end to end, 32K, B 8: LessIsMore over SDPA", ">= 2.0x", ratio(8, 32768, "sdpa"), (v) => `${v.toFixed(2)}x`, (v) => v >= 2);
  add("end to end: our full attention over SDPA", ">= 1x everywhere", minOf(r.endToEnd.filter((e) => e.sdpa_ms).map((e) => e.sdpa_ms! / e.full_ms)), (v) => `${v.toFixed(2)}x (worst)`, (v) => v >= 1);
  const overheads = r.endToEnd.flatMap((e) => [e.full_other_share, e.lessismore_other_share, e.tidaldecode_other_share]).filter((v): v is number => v !== undefined);
  add("end to end: a replayed step beyond the dense part and our kernels", "< 3% everywhere", overheads.length ? Math.max(...overheads) : undefined,
    (v) => `${(v * 100).toFixed(1)}% (worst)`, (v) => v < 0.03);
  return out;
}

export function reportMarkdown(r: BenchResults): string {
  const parts: string[] = [`# lim bench on ${r.device ?? "unknown device"}`, ""];
  if (r.copyTBps) parts.push(`Copy roofline (device-to-device copy, read + write): ${r.copyTBps.toFixed(2)} TB/s.`, "");
  parts.push("## Targets (docs/benchmarks.md)", "");
  parts.push(table(["target", "goal", "measured", "met"], targets(r).map((t) => [t.what, t.goal, t.measured, t.met === undefined ? "-" : t.met ? "yes" : "**no**"])), "");
  if (r.decode.length) {
    parts.push("## Full decode attention (Hq 32; G 4 and bf16 where not said)", "");
    parts.push(table(
      ["B", "N", "D", "G", "dtype", "K+V MB", "ours us", "ours TB/s", "of copy", "flash us", "cuDNN us", "SDPA TB/s", "speed-up"],
      r.decode.map((d) => [String(d.B), kib(d.N), String(d.D), String(d.G ?? 4), d.dtype ?? "bf16", d.kv_MB.toFixed(0), f1(d.ours_us), f2(d.ours_TBps), r.copyTBps ? `${((d.ours_TBps / r.copyTBps) * 100).toFixed(0)}%` : "-",
        f1(d.flash_us), f1(d.cudnn_us), d.sdpa_best_us ? f2(d.kv_MB / d.sdpa_best_us) : "-", d.speedup ? `${d.speedup.toFixed(2)}x` : "-"]),
    ), "");
  }
  if (r.caches.length) {
    parts.push("## Engines' caches: the same K and V paged (NHD, shuffled) and in FP8 (E4M3, per-tensor scale), Hq 32, G 4, bf16 queries", "");
    const times = (us: number | undefined, ratio: number | undefined | null, unit: string) => (us === undefined ? "-" : `${f1(us)} (${f2(ratio)}${unit})`);
    parts.push(table(
      ["B", "N", "D", "K+V MB", "contiguous us", "best SDPA us", "pages of 16 us (/ contiguous)", "pages of 1 us (/ contiguous)", "E4M3 us (x over bf16)", "E4M3 over SDPA"],
      r.caches.map((c) => [String(c.B), kib(c.N), String(c.D), c.kv_MB.toFixed(0), f1(c.ours_us), f1(c.sdpa_best_us), times(c.paged16_us, c.paged16_over_contiguous, ""),
        times(c.paged1_us, c.paged1_over_contiguous, ""), times(c.e4m3_us, c.e4m3_over_ours, "x"), c.e4m3_speedup ? `${c.e4m3_speedup.toFixed(2)}x` : "-"]),
    ), "");
  }
  if (r.sparse.length) {
    parts.push("## Sparse attention over a shared token set (LessIsMore layers)", "");
    parts.push(table(
      ["B", "N", "K", "ours us", "ours TB/s", "over a paged FP8 cache us", "per-head lists us", "torch gather + SDPA us", "speed-up"],
      r.sparse.map((s) => [String(s.B), kib(s.N), kib(s.K), f1(s.fused_us), f2(s.fused_TBps), f1(s.paged_fp8_us), f1(s.per_head_us), f1(s.torch_us), `${s.speedup_vs_torch.toFixed(2)}x`]),
    ), "");
  }
  if (r.selection.length) {
    parts.push("## Selection layer (attention + logits + top-k + union)", "");
    parts.push(table(
      ["B", "N", "K", "full us", "layer us", "layer / full", "torch eager us", "speed-up"],
      r.selection.map((s) => [String(s.B), kib(s.N), kib(s.K), f1(s.full_us), f1(s.layer_us), `${s.layer_over_full.toFixed(2)}x`, f1(s.torch_us), `${s.speedup_vs_torch.toFixed(1)}x`]),
    ), "");
  }
  if (r.topk.length) {
    parts.push("## Top-k", "");
    parts.push(table(["rows", "length", "k", "lim_topk us", "torch.topk us", "speed-up"], r.topk.map((t) => [String(t.rows), kib(t.length), kib(t.k), f1(t.ours_us), f1(t.torch_us), `${t.speedup.toFixed(2)}x`])), "");
  }
  if (r.endToEnd.length) {
    parts.push("## End to end: a Qwen3-8B-shaped transformers model, one decode step (tokens/s)", "");
    parts.push(table(
      ["B", "N", "SDPA (backend)", "ours full", "LessIsMore", "TidalDecode", "dense part ms", "LessIsMore / full", "LessIsMore / SDPA"],
      r.endToEnd.map((e) => [String(e.B), kib(e.N), e.sdpa_tokens_per_s ? `${e.sdpa_tokens_per_s.toFixed(0)} (${e.sdpa_backend})` : "out of memory", e.full_tokens_per_s.toFixed(0),
        e.lessismore_tokens_per_s.toFixed(0), e.tidaldecode_tokens_per_s.toFixed(0), f2(e.dense_ms), `${(e.full_ms / e.lessismore_ms).toFixed(2)}x`,
        e.sdpa_ms ? `${(e.sdpa_ms / e.lessismore_ms).toFixed(2)}x` : "-"]),
    ), "");
    parts.push("SDPA here is what transformers runs on a static cache (a masked call after copying K and V per query head), not PyTorch's fastest kernel alone: the full-decode table above compares kernels.", "");
  }
  parts.push("Bandwidth per shape: bandwidth.svg. Timing: CUDA-graph replays with CUDA events, inputs rotated past the L2 (bench/timing.py).", "");
  return parts.join("\n");
}

/** Achieved TB/s of K and V per shape: ours and PyTorch's, with the copy roofline. */
export function bandwidthSvg(r: BenchResults): string {
  const decode = r.decode.filter((d) => d.sdpa_best_us);
  const groups = [...decode.map((d) => `full B${d.B} ${kib(d.N)} d${d.D}${d.G && d.G !== 4 ? ` g${d.G}` : ""}${d.dtype && d.dtype !== "bf16" ? ` ${d.dtype}` : ""}`), ...r.sparse.map((s) => `sparse B${s.B} K${kib(s.K)}`)];
  const ours = [...decode.map((d) => d.ours_TBps), ...r.sparse.map((s) => s.fused_TBps)];
  // MB per microsecond is TB/s.
  const torch = [...decode.map((d) => d.kv_MB / d.sdpa_best_us!), ...r.sparse.map((s) => s.kv_MB_read / s.torch_us)];
  return barChartSvg({
    title: `Decode attention bandwidth on ${r.device ?? "this GPU"} (bytes of K and V read / time)`,
    yLabel: "TB/s",
    groups,
    series: [{ name: "lim (generated)", values: ours }, { name: "PyTorch (best SDPA; gather + SDPA for sparse)", values: torch }],
    lines: r.copyTBps ? [{ name: "copy roofline", value: r.copyTBps }] : [],
  });
}
