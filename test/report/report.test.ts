// The `lim bench` report, rendered from committed H100 results: tables beside PyTorch, the targets
// evaluated from the numbers (not asserted by hand), and a bandwidth plot with the copy roofline.

import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bandwidthSvg, readResults, reportMarkdown } from "../../report/report.js";
import { PROJECT_ROOT } from "../../cli/common.js";

const results = join(PROJECT_ROOT, "bench", "results");
const dir = mkdtempSync(join(tmpdir(), "lim-report-"));
for (const prefix of ["decode_attention-", "sparse_attention-", "selection-"]) {
  const newest = readdirSync(results).filter((f) => f.startsWith(prefix) && f.endsWith(".json")).sort().at(-1)!;
  copyFileSync(join(results, newest), join(dir, newest));
}
writeFileSync(join(dir, "copy_roofline-test.json"), JSON.stringify({ device: "NVIDIA H100 80GB HBM3", copy_TBps: 3.0, rows: [] }));
// The engine-caches suite: two rows as bench/decode_attention.py --pages 16,1 --fp8 e4m3 writes them.
const cachesRow = (B: number, N: number, kv_MB: number, ours: number, sdpa: number, paged16: number, paged1: number, e4m3: number) => ({
  B, N, D: 128, G: 4, dtype: "bf16", kv_MB, ours_us: ours, ours_TBps: kv_MB / ours, flash_us: null, cudnn_us: sdpa, sdpa_best_us: sdpa, speedup: sdpa / ours,
  paged16_us: paged16, paged16_over_contiguous: paged16 / ours, paged1_us: paged1, paged1_over_contiguous: paged1 / ours,
  e4m3_us: e4m3, e4m3_over_ours: ours / e4m3, e4m3_speedup: sdpa / e4m3,
});
writeFileSync(join(dir, "engine_caches-test.json"), JSON.stringify({ rows: [cachesRow(1, 4096, 17, 11.8, 11.5, 12.5, 12.6, 10.0), cachesRow(8, 32768, 1074, 265.6, 244.5, 271.7, 275.1, 137.4)] }));
// The end-to-end suite's committed H200 run.
const e2eRun = join(results, "h200-2026-11-29d");
const e2eFile = readdirSync(e2eRun).find((f) => f.startsWith("e2e_decode-") && f.endsWith(".json"))!;
copyFileSync(join(e2eRun, e2eFile), join(dir, e2eFile));

describe("lim bench report", () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const r = readResults(dir);

  it("tabulates every suite with PyTorch beside ours", () => {
    const md = reportMarkdown(r);
    expect(r.decode.length).toBeGreaterThan(5);
    expect(md).toContain("## Full decode attention");
    expect(md).toContain("| B | N | D | G | dtype | K+V MB | ours us | ours TB/s | of copy | flash us | cuDNN us | SDPA TB/s | speed-up |");
    const row = r.decode.find((d) => d.B === 1 && d.N === 32768 && d.D === 128)!;
    // Older runs have no G or dtype columns: they were G 4, bf16.
    expect(md).toContain(`| 1 | 32K | 128 | 4 | bf16 | ${row.kv_MB.toFixed(0)} | ${row.ours_us.toFixed(1)} |`);
    expect(md).toContain("## Sparse attention over a shared token set");
    expect(md).toContain("## Top-k");
  });

  it("evaluates the targets from the measured numbers", () => {
    const md = reportMarkdown(r);
    const topk = r.topk.find((t) => t.rows === 32 && t.length === 32768 && t.k === 2048)!;
    const line = md.split("\n").find((l) => l.startsWith("| top-k, 32 rows x 32K"))!;
    expect(line).toContain(`${topk.ours_us.toFixed(1)} us`);
    expect(line.endsWith(topk.ours_us <= 12 ? "| yes |" : "| **no** |")).toBe(true);
    const wide = r.topk.find((t) => t.rows === 256 && t.length === 32768 && t.k === 2048)!;
    const wideLine = md.split("\n").find((l) => l.startsWith("| top-k, 256 rows x 32K"))!;
    expect(wideLine).toContain(`${wide.ours_us.toFixed(1)} us`);
    expect(wideLine.endsWith(wide.ours_us <= 45 ? "| yes |" : "| **no** |")).toBe(true);
    const big = r.decode.filter((d) => d.kv_MB > 1000).map((d) => d.ours_TBps);
    const bandwidth = md.split("\n").find((l) => l.startsWith("| full decode, K+V > 1 GB"))!;
    expect(bandwidth).toContain(`${Math.min(...big).toFixed(2)} TB/s (worst)`);
    expect(bandwidth.endsWith(Math.min(...big) >= 4.2 ? "| yes |" : "| **no** |")).toBe(true);
    const b1 = r.decode.find((d) => d.B === 1 && d.N === 32768 && d.D === 128)!;
    const line32k = md.split("\n").find((l) => l.startsWith("| full decode, B 1, N 32K"))!;
    expect(line32k).toContain(`${b1.ours_us.toFixed(1)} us`);
  });

  it("tabulates the end-to-end run and evaluates its targets", () => {
    const md = reportMarkdown(r);
    expect(r.endToEnd.length).toBeGreaterThan(3);
    expect(md).toContain("## End to end: a Qwen3-8B-shaped transformers model");
    const e = r.endToEnd.find((x) => x.B === 1 && x.N === 32768)!;
    expect(md).toContain(`| 1 | 32K | ${e.sdpa_tokens_per_s!.toFixed(0)} (${e.sdpa_backend}) | ${e.full_tokens_per_s.toFixed(0)} | ${e.lessismore_tokens_per_s.toFixed(0)} |`);
    const overFull = e.full_ms / e.lessismore_ms;
    const line = md.split("\n").find((l) => l.startsWith("| end to end, 32K, B 1: LessIsMore over our full attention"))!;
    expect(line).toContain(`${overFull.toFixed(2)}x`);
    expect(line.endsWith(overFull >= 1.3 ? "| yes |" : "| **no** |")).toBe(true);
    // B 8 at 128K is not in that run: its target would say so rather than pass.
    expect(r.endToEnd.find((x) => x.B === 8 && x.N === 131072)).toBeUndefined();
  });

  it("says where SDPA did not fit, and evaluates what a replayed step spends beyond the dense part and our kernels", () => {
    const without = { ...r.endToEnd[0], B: 8, N: 131072, sdpa_ms: null, sdpa_backend: null, sdpa_tokens_per_s: null };
    const shares = { full_other_share: 0.004, lessismore_other_share: 0.014, tidaldecode_other_share: 0.012 };
    const md = reportMarkdown({ ...r, endToEnd: [...r.endToEnd, { ...without, ...shares }] });
    expect(md).toContain("| 8 | 128K | out of memory |");
    const overSdpa = md.split("\n").find((l) => l.startsWith("| end to end: our full attention over SDPA"))!;
    expect(overSdpa).not.toContain("NaN");
    const overhead = md.split("\n").find((l) => l.startsWith("| end to end: a replayed step beyond"))!;
    expect(overhead).toContain("1.4% (worst)");
    expect(overhead.endsWith("| yes |")).toBe(true);
    const worse = reportMarkdown({ ...r, endToEnd: [{ ...without, ...shares, lessismore_other_share: 0.032 }] });
    expect(worse.split("\n").find((l) => l.startsWith("| end to end: a replayed step beyond"))!.endsWith("| **no** |")).toBe(true);
  });

  it("tabulates the engines' caches and evaluates their targets, worst shape first", () => {
    const md = reportMarkdown(r);
    expect(r.caches).toHaveLength(2);
    expect(md).toContain("## Engines' caches");
    expect(md).toContain("| 8 | 32K | 128 | 1074 | 265.6 | 244.5 | 271.7 (1.02) | 275.1 (1.04) | 137.4 (1.93x) | 1.78x |");
    const line = (start: string) => md.split("\n").find((l) => l.startsWith(start))!;
    // Pages of 16: the worst is B 1 4K, 12.5 / 11.8 = 5.9% over.
    expect(line("| paged caches, pages of 16")).toContain("5.9% (worst) | **no** |");
    expect(line("| paged caches, pages of 1 (")).toContain("6.8% (worst) | yes |");
    // FP8 counts only shapes beyond 1 GB: B 8 32K, 265.6 / 137.4 and 244.5 / 137.4.
    expect(line("| FP8 (E4M3) decode, K+V > 1 GB, over our bf16")).toContain("1.93x (worst) | yes |");
    expect(line("| FP8 (E4M3) decode, K+V > 1 GB, over the best SDPA")).toContain("1.78x (worst) | **no** |");
    // The committed sparse run predates the paged FP8 call: not measured, neither met nor missed.
    expect(line("| sparse attention over a paged FP8 cache")).toContain("| not measured | - |");
  });

  it("plots ours, PyTorch and the copy roofline per shape", () => {
    const svg = bandwidthSvg(r);
    expect(svg.startsWith("<svg")).toBe(true);
    const bars = svg.match(/<rect [^>]*><title>/g) ?? [];
    const shapes = r.decode.filter((d) => d.sdpa_best_us).length + r.sparse.length;
    expect(bars.length).toBe(2 * shapes);
    expect(svg).toContain("copy roofline (3.00)");
  });
});
