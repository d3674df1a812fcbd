"""End-to-end decode of a Qwen3-8B-shaped model in transformers, every dense layer included, beside SDPA.

    python3 bench/e2e_decode.py [--lib build/liblim.so] [--quick] [--contexts 8192,32768,131072] [--batches 1,8] [--out bench/results]

The model is built from its configuration with random weights (36 layers, 32 query and 8 KV heads, head dim
128, hidden 4096, bf16; nothing downloaded). For each context N and batch B a StaticCache is filled with N
random tokens per request (synthetic K/V, so selections are arbitrary but every kernel reads what it would),
and one decode step (the token at position N) is captured as a CUDA graph and replayed. Attention backends,
switched on the same model: PyTorch SDPA (its cuDNN and efficient backends tried; the fastest is
reported), our full decode attention, LessIsMore (K 2048, r 0.25, S 4, the selection layers of the preset of
the model's shape: the backend's default) and TidalDecode (per-head sets at the same layers), and a no-op attention
whose step time is the dense part (the attention share of a step is 1 - no-op / step). Prints tokens per
second (B / step time), and for each of our modes what a replayed step spends beyond the dense part and our
kernels (glue kernels and gaps, from a profiled replay); writes JSON and an SVG plot (tokens/s against
context) under --out.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from transformers import AutoModelForCausalLM, AttentionInterface, Qwen3Config, StaticCache
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import lessismore.transformers_backend as lim_hf  # noqa: E402
from lessismore import ops, presets  # noqa: E402

BUDGET = 2048
# The masked decode step rules out flash; math is never the fastest at these sizes (and the slowest to time).
SDPA_BACKENDS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION}


def qwen3_8b_config():
    return Qwen3Config(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                       num_key_value_heads=8, head_dim=128, max_position_embeddings=262144, rope_theta=1e6, tie_word_embeddings=False)


def noop_attention(module, query, key, value, attention_mask, **kwargs):
    """Attention that does nothing (returns the queries): the step time of everything else."""
    return query.transpose(1, 2), None


def set_attention(model, name):
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(name)
    else:
        model.config._attn_implementation = name


def our_kernel_names():
    """The kernels this toolkit generates (their launches are named <kernel>__<variant>_kernel)."""
    manifest = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated", "manifest.json")))
    return re.compile(r"\b(" + "|".join(sorted({v["kernel"] for v in manifest["variants"]})) + r")__")


def kernel_time(graph, ours, replays=5):
    """Milliseconds per replay of the graph's kernels: (ours, all), from the profiler's CUDA activity."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(replays):
            graph.replay()
        torch.cuda.synchronize()
    mine = every = 0.0
    for e in prof.key_averages():
        us = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0.0)
        every += us
        mine += us if ours.search(e.key) else 0.0
    return mine / replays / 1000.0, every / replays / 1000.0


def time_graph(step, replays=10, trials=3, ours=None):
    """Median milliseconds of one captured step (after warm-up calls that create every workspace); with `ours`
    (a pattern of kernel names) also (ours, all) kernel milliseconds per replay, from a profiled replay."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(trials):
        start.record()
        for _ in range(replays):
            graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / replays)
    kernels = kernel_time(graph, ours) if ours is not None else None
    del graph
    return statistics.median(times) if ours is None else (statistics.median(times), *kernels)


def run_shape(model, config, N, B, ours):
    cache = StaticCache(config=config, max_cache_len=N + 1)
    tok = torch.zeros(B, 1, dtype=torch.long, device="cuda")
    pos = torch.full((B, 1), N, dtype=torch.long, device="cuda")
    cp = torch.tensor([N], dtype=torch.long, device="cuda")

    def step():
        with torch.no_grad():
            return model(input_ids=tok, position_ids=pos, cache_position=cp, past_key_values=cache, use_cache=True).logits

    set_attention(model, "lim_noop")
    step()  # allocates the cache's tensors (with no attention: SDPA's copies of K and V may not fit beside them)
    for layer in cache.layers:  # N synthetic tokens in every layer
        layer.keys[:, :, :N].normal_()
        layer.values[:, :, :N].normal_()
    row = {"N": N, "B": B}
    sdpa = {}
    set_attention(model, "sdpa")
    for name, backend in SDPA_BACKENDS.items():
        try:
            with sdpa_kernel([backend]):
                sdpa[name] = time_graph(step)
        except RuntimeError as e:
            sdpa[name] = None
            print(f"  sdpa {name}: {str(e).splitlines()[0][:120]}", flush=True)
    best = min(((v, k) for k, v in sdpa.items() if v is not None), default=(None, None))  # None: no backend fits
    row["sdpa_ms"], row["sdpa_backend"], row["sdpa_each_ms"] = best[0], best[1], sdpa
    torch.cuda.empty_cache()
    set_attention(model, "lim_noop")
    row["dense_ms"] = time_graph(step)
    set_attention(model, "lessismore")
    for mode in ("full", "lessismore", "tidaldecode"):
        lim_hf.configure(model, mode=mode, budget=BUDGET)
        # What the backend costs beyond the dense part and our kernels: its glue kernels (copies, fills, the
        # selection's memset) and any gaps between launches, inside the replayed graph.
        row[f"{mode}_ms"], row[f"{mode}_lim_kernels_ms"], row[f"{mode}_all_kernels_ms"] = time_graph(step, ours=ours)
        row[f"{mode}_other_ms"] = row[f"{mode}_ms"] - row["dense_ms"] - row[f"{mode}_lim_kernels_ms"]
        row[f"{mode}_other_share"] = row[f"{mode}_other_ms"] / row[f"{mode}_ms"]
    for mode in ("sdpa", "full", "lessismore", "tidaldecode"):
        ms = row[f"{mode}_ms"]
        row[f"{mode}_tokens_per_s"] = None if ms is None else B * 1000.0 / ms
        row[f"{mode}_attention_share"] = None if ms is None else max(0.0, 1.0 - row["dense_ms"] / ms)
    row["lessismore_over_sdpa"] = None if row["sdpa_ms"] is None else row["sdpa_ms"] / row["lessismore_ms"]
    row["lessismore_over_full"] = row["full_ms"] / row["lessismore_ms"]
    del cache
    torch.cuda.empty_cache()
    return row


def svg_plot(rows, path):
    """Tokens/s against context, one panel per batch, a line per backend (log-2 context axis)."""
    modes = [("sdpa", "#888888", "SDPA (best backend)"), ("full", "#1f77b4", "ours, full"), ("lessismore", "#d62728", "LessIsMore"),
             ("tidaldecode", "#2ca02c", "TidalDecode")]
    batches = sorted({r["B"] for r in rows})
    w, h, pad = 420, 300, 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(batches)}" height="{h + 40}" font-family="sans-serif" font-size="11">']
    for i, B in enumerate(batches):
        rs = sorted((r for r in rows if r["B"] == B), key=lambda r: r["N"])
        if not rs:
            continue
        x0 = i * w
        top = max(r[f"{m}_tokens_per_s"] or 0 for r in rs for m, _, _ in modes) * 1.1
        ns = [r["N"] for r in rs]
        lo, hi = min(ns), max(ns)

        def px(n):
            import math
            return x0 + pad + (0 if hi == lo else (math.log2(n) - math.log2(lo)) / (math.log2(hi) - math.log2(lo)) * (w - 2 * pad))

        py = lambda v: h - pad + 10 - v / top * (h - 2 * pad)  # noqa: E731
        parts.append(f'<text x="{x0 + w / 2}" y="16" text-anchor="middle">B {B}: tokens/s against context (H200)</text>')
        parts.append(f'<line x1="{x0 + pad}" y1="{py(0)}" x2="{x0 + w - pad}" y2="{py(0)}" stroke="black"/>')
        for n in ns:
            parts.append(f'<text x="{px(n)}" y="{py(0) + 14}" text-anchor="middle">{n // 1024}K</text>')
        parts.append(f'<text x="{x0 + 8}" y="{py(top / 1.1)}">{top / 1.1:.0f}</text>')
        for j, (m, color, label) in enumerate(modes):
            pts = " ".join(f"{px(r['N']):.1f},{py(r[f'{m}_tokens_per_s']):.1f}" for r in rs if r[f"{m}_tokens_per_s"] is not None)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
            parts.append(f'<text x="{x0 + w - pad - 110}" y="{40 + 14 * j}" fill="{color}">{label}</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", help="the library to use (default: $LIM_LIBRARY or build/liblim.so)")
    ap.add_argument("--quick", action="store_true", help="B 1 at 8K and 32K only")
    ap.add_argument("--contexts", default="8192,32768,131072")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    if args.quick:
        args.contexts, args.batches = "8192,32768", "1"
    if args.lib:
        ops.use_library(args.lib)
    lim_hf.register()
    AttentionInterface.register("lim_noop", noop_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register("lim_noop", ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    config = qwen3_8b_config()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa").eval()
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}; torch {torch.__version__}; model: Qwen3-8B shape, random weights", flush=True)
    rows = []
    ours = our_kernel_names()
    for B in [int(b) for b in args.batches.split(",")]:
        for N in [int(n) for n in args.contexts.split(",")]:
            try:
                row = run_shape(model, config, N, B, ours)
            except torch.OutOfMemoryError as e:
                where = e.__traceback__
                while where.tb_next is not None and "e2e_decode" in where.tb_next.tb_frame.f_code.co_filename:
                    where = where.tb_next
                print(f"B {B}, N {N}: out of memory at e2e_decode.py:{where.tb_lineno} ({str(e).splitlines()[0][:100]}), skipped", flush=True)
                torch.cuda.empty_cache()
                continue
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'B':>2} {'N':>7} {'SDPA':>14} {'ours full':>10} {'LessIsMore':>11} {'TidalDecode':>12} {'dense ms':>9} {'LIM/SDPA':>9} {'LIM/full':>9}   tokens/s (attention share)")
    for r in rows:
        cell = lambda m: "out of memory" if r[f"{m}_ms"] is None else f"{r[f'{m}_tokens_per_s']:.0f} ({r[f'{m}_attention_share'] * 100:.0f}%)"  # noqa: E731
        over_sdpa = "-" if r["lessismore_over_sdpa"] is None else f"{r['lessismore_over_sdpa']:.2f}x"
        print(f"{r['B']:>2} {r['N']:>7} {cell('sdpa'):>14} {cell('full'):>10} {cell('lessismore'):>11} {cell('tidaldecode'):>12} {r['dense_ms']:>9.2f} "
              f"{over_sdpa:>9} {r['lessismore_over_full']:>8.2f}x   SDPA backend: {r['sdpa_backend']}")
    if rows:
        print(f"\n{'B':>2} {'N':>7} {'mode':>12} {'step ms':>8} {'dense ms':>9} {'our kernels ms':>15} {'other ms':>9} {'other / step':>13}")
        for r in rows:
            for m in ("full", "lessismore", "tidaldecode"):
                print(f"{r['B']:>2} {r['N']:>7} {m:>12} {r[f'{m}_ms']:>8.3f} {r['dense_ms']:>9.3f} {r[f'{m}_lim_kernels_ms']:>15.3f} "
                      f"{r[f'{m}_other_ms']:>9.3f} {r[f'{m}_other_share'] * 100:>12.1f}%")
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = os.path.join(args.out, f"e2e_decode-{props.name.replace(' ', '_')}-{stamp}")
    json.dump({"device": props.name, "torch": torch.__version__, "date": stamp, "model": "qwen3-8b shape, random weights", "budget": BUDGET,
               "selection_layers": presets.preset_for(config, presets.load_presets())["selectionLayers"], "rows": rows}, open(base + ".json", "w"), indent=1)
    if rows:
        svg_plot(rows, base + ".svg")
    print(f"\nwrote {base}.json and .svg")


if __name__ == "__main__":
    main()
