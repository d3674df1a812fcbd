"""Builds of the library side by side in one process: each shape timed on every build in turn, for a few rounds,
so that clocks and the L2 treat the builds alike; cuDNN's time beside. What bench/NOTES.md's A/B rows come from.

    python3 bench/ab.py before=buildA/liblim.so after=buildB/liblim.so [--shapes 1:4096:128:4,1:131072:128:4:4096] [--sparse 1:32768:2048]
                        [--selection 1:32768:2048,8:32768:2048]

A dense shape is B:N:D:G (Hq 32, bf16), or B:N:D:G:L for requests of L tokens under a plan for N (max_seqlen N, as
a CUDA graph captured at a cache's capacity runs shorter requests). A sparse shape is B:N:K: bench/sparse_attention.py's
calls (shared list, per-head lists, gather + dense, paged FP8) over lists of K positions. Prints, per shape, each
build's best time over the rounds and its error against SDPA, and cuDNN's time (dense) or PyTorch's gather + SDPA
(sparse). A selection shape is B:N:K: bench/selection.py's layer (attention writing the logits, then
lim_select_lessismore) and its parts, each build's set checked equal to the first's. Writes nothing.
"""

import argparse
import math
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "python")]
from decode_attention import HQ, Case  # noqa: E402
from lessismore import Lim  # noqa: E402
from lessismore.baseline import BACKENDS  # noqa: E402
from lessismore.timing import time_us  # noqa: E402
from selection import SelectionLayer  # noqa: E402
from shapes import ints  # noqa: E402
import sparse_attention  # noqa: E402

# The shapes section 29's A/B timed, and a 128K plan over 4K requests (the prefetch's bound, section 30).
DENSE = "1:4096:128:4,1:4096:256:8,1:4096:64:4,1:32768:128:4,1:131072:128:4,8:4096:128:4,8:32768:128:4,1:131072:128:4:4096"
SPARSE = "1:32768:2048"
SPARSE_CALLS = ["fused_us", "per_head_us", "gather_dense_us", "paged_fp8_us"]


def dense(libs: dict, shape: str, rounds: int):
    B, N, D, G, *L = ints(shape, (4, 5))
    if HQ % G:
        sys.exit(f"shape {shape!r}: G must divide the {HQ} query heads")
    if L and not 1 <= L[0] <= N:
        sys.exit(f"shape {shape!r}: the requests' length L must lie in [1, N = {N}]")
    case = Case(B, N, D, hkv=HQ // G, length=L[0] if L else 0)
    best, err = {}, {}
    for _ in range(rounds):
        for name, lim in libs.items():
            us, rel, _ = case.ours(lim)
            best[name], err[name] = min(best.get(name, us), us), max(err.get(name, 0.0), rel)
    cudnn = case.sdpa(BACKENDS["cudnn"])[0]
    print(f"B {B:>2} N {N:>6}{f' (L {L[0]})' if L else ''} D {D:>3} G {G:>2}: cudnn {cudnn:7.1f} | "
          + " | ".join(f"{name} {best[name]:7.1f} ({cudnn / best[name]:.2f}x, err {err[name]:.0e})" for name in libs), flush=True)
    del case
    torch.cuda.empty_cache()


def sparse(libs: dict, shape: str, rounds: int):
    B, N, K = ints(shape, (3,))
    rows = {name: [] for name in libs}
    for _ in range(rounds):
        for name, lim in libs.items():
            rows[name].append(sparse_attention.bench(lim, B, N, K))
            torch.cuda.empty_cache()
    for call in SPARSE_CALLS:
        print(f"B {B:>2} N {N:>6} K {K:>5} {call[:-3]:<12}: torch {min(r['torch_us'] for rs in rows.values() for r in rs):7.1f} | "
              + " | ".join(f"{name} {min(r[call] for r in rs):7.1f}" for name, rs in rows.items()), flush=True)
    errors = {name: max(max(v for k, v in r.items() if k.startswith("err_")) for r in rs) for name, rs in rows.items()}
    print("  largest error: " + ", ".join(f"{name} {e:.0e}" for name, e in errors.items()), flush=True)


def selection(libs: dict, shape: str, rounds: int):
    B, N, K = ints(shape, (3,))
    layer = SelectionLayer(B, N, K, seed=B * 7 + N + K)
    calls, want = {}, None
    for name, lim in libs.items():
        calls[name] = layer.calls(lim)
        layer.indices.fill_(-7)
        calls[name]["layer"]()
        lim.check_device_status()
        if want is None:
            want = layer.indices.clone()
        elif not torch.equal(layer.indices, want):
            sys.exit(f"selection {shape}: {name}'s sets differ from {next(iter(libs))}'s")
    parts = ("full", "with_logits", "select", "keys", "layer")
    best = {}
    for _ in range(rounds):
        for name in libs:
            for part in parts:
                best[name, part] = min(best.get((name, part), math.inf), time_us([calls[name][part]], reps=20)[0])
    for name in libs:
        print(f"B {B:>2} N {N:>6} K {K:>5} selection {name}: " + "  ".join(f"{part} {best[name, part]:7.2f}" for part in parts)
              + f"  layer / full {best[name, 'layer'] / best[name, 'full']:.3f}", flush=True)
    del layer, calls
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("libs", nargs="+", help="name=path/to/liblim.so, two or more")
    ap.add_argument("--shapes", default=DENSE, help=f"dense shapes B:N:D:G[:L], comma-separated (default {DENSE}); empty: none")
    ap.add_argument("--sparse", default=SPARSE, help=f"sparse shapes B:N:K, comma-separated (default {SPARSE}); empty: none")
    ap.add_argument("--selection", default="", help="selection layer shapes B:N:K, comma-separated (default none)")
    ap.add_argument("--rounds", type=int, default=2, help="times each build is timed on each shape (its best counts)")
    args = ap.parse_args()
    libs = {}
    for spec in args.libs:
        name, _, path = spec.partition("=")
        if not name or not path:
            sys.exit(f"{spec!r}: expected name=path/to/liblim.so")
        if not os.path.exists(path):
            sys.exit(f"{path}: no such library (build one with bench/device/build.sh)")
        libs[name] = Lim(path)
    for shape in filter(None, args.shapes.split(",")):
        dense(libs, shape, args.rounds)
    for shape in filter(None, args.sparse.split(",")):
        sparse(libs, shape, args.rounds)
    for shape in filter(None, args.selection.split(",")):
        selection(libs, shape, args.rounds)


if __name__ == "__main__":
    main()
