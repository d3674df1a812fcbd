"""LessIsMore selection on the GPU beside PyTorch, in one process.

    python3 bench/selection.py [--lib build/liblim.so] [--quick] [--topk-only] [--topk-variants]

Selection layer (our attention with logits + lim_select_lessismore) against our own full attention and
against the PyTorch eager pipeline (SDPA for the layer's output, matmul logits, torch.topk per head, the
rank-major union with scatter_reduce, sinks and the recency window), at B in {1, 8}, N in {8K, 32K, 128K},
K in {1024, 2048, 4096}; Hq 32, Hkv 8, head dim 128, bf16, r 0.25, S 4. Then per-head top-k (lim_topk) against
torch.topk (--topk-only: only that), and with --topk-variants every generated top-k variant of the dispatched
budget on each shape (to compare schedules, e.g. cluster sizes, built with `lim generate --schedules topk=...`);
every timed variant's lists are first checked equal to the default's. Timing: python/lessismore/timing.py
(CUDA-graph replays). Writes JSON under bench/results/.
"""

import argparse
import datetime
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from lessismore import Lim  # noqa: E402
from lessismore.timing import time_us  # noqa: E402
from shapes import shape_list  # noqa: E402

HQ, HKV, D, R, S = 32, 8, 128, 0.25, 4


def torch_selection(q, k, v, n, budget, scale):
    """The eager PyTorch pipeline: the layer's attention output plus the LessIsMore token set of request 0..B-1."""
    B = q.shape[0]
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]):
        out = F.scaled_dot_product_attention(q.unsqueeze(2), k, v, scale=scale, enable_gqa=True)
    kk = k.repeat_interleave(HQ // HKV, dim=1)  # [B, Hq, N, D]
    z = torch.matmul(q.unsqueeze(2).float(), kk.float().transpose(-1, -2)).squeeze(2) * scale  # [B, Hq, N]
    middle = math.floor(budget * (1 - R))
    recent = budget - middle - S
    top = torch.topk(z[:, :, S:n - recent], middle, dim=-1).indices + S  # [B, Hq, middle]
    picks = top.transpose(1, 2).reshape(B, -1)  # rank-major
    keys = torch.arange(picks.shape[1], device=q.device).expand(B, -1)
    first = torch.full((B, n), picks.shape[1], device=q.device, dtype=torch.long).scatter_reduce(1, picks, keys, reduce="amin")
    chosen = torch.topk(first[:, S:n - recent], middle, dim=-1, largest=False).indices + S
    sinks = torch.arange(S, device=q.device).expand(B, -1)
    window = torch.arange(n - recent, n, device=q.device).expand(B, -1)
    return out, torch.sort(torch.cat([sinks, chosen, window], dim=1), dim=1).values


class SelectionLayer:
    """One selection layer's inputs and outputs (Hq 32, Hkv 8, D 128, bf16, r 0.25, S 4), shared by every library
    timed on them; calls(lim) gives a library's closures over them, each with its own workspaces."""

    def __init__(self, B, N, budget, seed):
        self.B, self.N, self.budget, self.scale = B, N, budget, 1.0 / math.sqrt(D)
        gen = torch.Generator(device="cuda").manual_seed(seed)
        self.q = torch.randn(B, HQ, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        self.k = torch.randn(B, HKV, N, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        self.v = torch.randn(B, HKV, N, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        self.seqlens = torch.full((B,), N, dtype=torch.int32, device="cuda")
        self.out = torch.empty(B, HQ, D, device="cuda", dtype=torch.bfloat16)
        self.logits = torch.empty(B, HQ, N, device="cuda", dtype=torch.float32)
        self.indices = torch.empty(B, budget, device="cuda", dtype=torch.int32)
        self.counts = torch.empty(B, device="cuda", dtype=torch.int32)
        self.keys = torch.empty(B, N, device="cuda", dtype=torch.int32)

    def calls(self, lim):
        """full attention, attention writing the logits, the selection, its two halves (the tensor-parallel entry
        points on one GPU: the keys, i.e. their reset and the top-k that lowers them, and the union that reads
        them), and the layer (logits, then the selection)."""
        B, N, budget, t = self.B, self.N, self.budget, self
        att_ws = lim.decode_attention_workspace(B, HQ, HKV, D, N, torch.bfloat16)
        sel_ws = lim.select_lessismore_workspace(B, HQ, N, budget, R, S)

        def with_logits():
            lim.decode_attention(t.q, t.k, t.v, t.seqlens, t.out, None, N, t.scale, att_ws, logits=t.logits)

        def select():
            lim.select_lessismore(t.logits, t.seqlens, t.indices, t.counts, N, budget, R, S, sel_ws)

        return {
            "full": lambda: lim.decode_attention(t.q, t.k, t.v, t.seqlens, t.out, None, N, t.scale, att_ws),
            "with_logits": with_logits,
            "select": select,
            "keys": lambda: lim.select_lessismore_local_keys(t.logits, t.seqlens, t.keys, 0, HQ, N, budget, R, S),
            "union": lambda: lim.select_lessismore_union(t.keys, t.seqlens, t.indices, t.counts, HQ, N, budget, R, S),
            "layer": lambda: (with_logits(), select()),
        }


def bench_selection(lim, B, N, budget, union_variants=(), layer_kernel=None, layer_variants=()):
    t = SelectionLayer(B, N, budget, seed=B * 131 + N + budget)
    call = t.calls(lim)
    call["layer"]()
    lim.check_device_status()
    _, torch_set = torch_selection(t.q, t.k, t.v, N, budget, t.scale)
    same = sum(int(torch.equal(t.indices[b].long(), torch_set[b])) for b in range(B))
    row = {"B": B, "N": N, "K": budget, "requests_matching_torch": same}
    for part in ("full", "with_logits", "select", "keys", "union"):
        row[f"{part}_us"], _ = time_us([call[part]], reps=20)
    row["union_variants"] = time_variants(lim, "lessismore_union", union_variants, [call["union"]], t.indices, reps=20, what=f"the set at B {B}, N {N}, K {budget}")
    row["layer_us"], _ = time_us([call["layer"]], reps=20)
    # A kernel's schedules timed in the layer, between the attention whose SMs they take over and the next
    # layer's, not alone.
    row["layer_variants"] = time_variants(lim, layer_kernel, layer_variants, [call["layer"]], t.indices, reps=20, what=f"the layer's set at B {B}, N {N}, K {budget}")
    row["torch_us"], row["torch_timing"] = time_us([lambda: torch_selection(t.q, t.k, t.v, N, budget, t.scale)], reps=5, trials=5)
    row["layer_over_full"] = row["layer_us"] / row["full_us"]
    row["speedup_vs_torch"] = row["torch_us"] / row["layer_us"]
    return row


def bench_topk(lim, rows, length, k, variants=()):
    gen = torch.Generator(device="cuda").manual_seed(rows + length + k)
    sets = [torch.randn(rows, length, device="cuda", generator=gen) for _ in range(8)]
    idx = torch.empty(rows, k, device="cuda", dtype=torch.int32)
    vals = torch.empty(rows, k, device="cuda", dtype=torch.float32)
    lim.topk(sets[0], idx, vals, k)
    ref = torch.topk(sets[0], k, dim=-1)
    row = {"rows": rows, "length": length, "k": k, "values_match_torch": bool(torch.equal(vals, ref.values))}
    launches = [lambda x=x: lim.topk(x, idx, vals, k) for x in sets]
    row["ours_us"], _ = time_us(launches, reps=40)
    row["torch_us"], _ = time_us([lambda x=x: torch.topk(x, k, dim=-1) for x in sets], reps=40)
    row["speedup"] = row["torch_us"] / row["ours_us"]
    row["variants"] = time_variants(lim, "topk", variants, launches, idx, reps=40, what=f"the top-k lists on {rows} x {length}, k {k}")
    return row


def time_variants(lim, kernel, names, launches, out, reps, what):
    """Each named variant of `kernel`, forced in turn: the first launch's `out` checked equal to the default
    variant's, then every launch timed. A schedule the shape cannot launch (e.g. too much shared memory) is
    reported as failed and the rest are timed."""
    if not names:
        return {}
    launches[0]()
    want, times = out.clone(), {}
    for name in names:
        lim.use_variant(kernel, name)
        try:
            out.fill_(-7)
            launches[0]()
            if not torch.equal(out, want):
                raise SystemExit(f"{name}: {what} differ from the default variant's")
            times[name], _ = time_us(launches, reps=reps)
        except RuntimeError as error:
            times[name] = f"failed: {error}"
        finally:
            lim.use_variant(kernel, None)
    return times


def generated_variants(kernel):
    """The manifest's entries of one kernel's generated variants."""
    manifest = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "generated", "manifest.json")))
    return [v for v in manifest["variants"] if v["kernel"] == kernel]


def topk_variants_of(k):
    """The generated top-k variants of the budget a k dispatches to (the smallest budget >= k)."""
    topk = generated_variants("topk")
    budget = min(v["constants"]["K"] for v in topk if v["constants"]["K"] >= k)
    return sorted(v["name"] for v in topk if v["constants"]["K"] == budget)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "build", "liblim.so"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    ap.add_argument("--topk-only", action="store_true", help="only the per-head top-k against torch.topk")
    ap.add_argument("--topk-variants", action="store_true", help="also time every generated top-k variant of each shape's budget")
    ap.add_argument("--union-variants", action="store_true", help="also time every generated lessismore_union variant")
    ap.add_argument("--layer-variants", default="", metavar="KERNEL:V1,V2", help="variants of one kernel (topk, lessismore_union) to time the whole layer with, each forced in turn")
    ap.add_argument("--sizes", default="", metavar="B:N:K,...", help="the selection layers to time (default: B 1 and 8 x N 32K and 128K (--quick) or 8K-128K x K 1K-4K)")
    ap.add_argument("--selection-only", action="store_true", help="only the selection layer and its parts (no standalone top-k)")
    ap.add_argument("--topk-shapes", default="", metavar="ROWS:N:K,...", help="the standalone top-k shapes to time (default: issue 12's, 32 x 8K to 32 x 256K)")
    args = ap.parse_args()
    lim = Lim(args.lib)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}; torch {torch.__version__}; liblim {lim.version}", flush=True)
    rows = []
    unions = sorted(v["name"] for v in generated_variants("lessismore_union")) if args.union_variants else ()
    layer_kernel, _, names = args.layer_variants.partition(":")
    sizes = shape_list(args.sizes, (3,)) or [
        (B, N, budget) for B in [1, 8] for N in ([32768, 131072] if args.quick else [8192, 32768, 131072]) for budget in ([2048] if args.quick else [1024, 2048, 4096])]
    for B, N, budget in ([] if args.topk_only else sizes):
        r = bench_selection(lim, B, N, budget, unions, layer_kernel, [v for v in names.split(",") if v])
        rows.append(r)
        print(json.dumps(r), flush=True)
        torch.cuda.empty_cache()
    topk_shapes = shape_list(args.topk_shapes, (3,)) or [
        (32, 32768, 2048), (32, 32768, 1536), (256, 32768, 2048), (32, 131072, 4096), (32, 8192, 1024), (32, 262144, 8192), (8, 131072, 2048)]
    topk_rows = [] if args.selection_only else [bench_topk(lim, r, n, k, topk_variants_of(k) if args.topk_variants else ()) for r, n, k in topk_shapes]
    for r in topk_rows:
        print(json.dumps(r), flush=True)

    print(f"\n{'B':>2} {'N':>7} {'K':>5} {'full us':>8} {'+logits':>8} {'select':>7} {'(keys':>6} {'union)':>7} {'layer us':>9} {'layer/full':>10} {'torch us':>9} {'vs torch':>9} {'same set':>8}")
    for r in rows:
        for part, times in (("union", r["union_variants"]), (f"layer with {layer_kernel}", r["layer_variants"])):
            for name, us in times.items():
                print(f"B {r['B']} N {r['N']} K {r['K']} {part} {name}: {us if isinstance(us, str) else f'{us:.1f} us'}")
    for r in rows:
        print(f"{r['B']:>2} {r['N']:>7} {r['K']:>5} {r['full_us']:>8.1f} {r['with_logits_us']:>8.1f} {r['select_us']:>7.1f} {r['keys_us']:>6.1f} {r['union_us']:>7.1f} {r['layer_us']:>9.1f} "
              f"{r['layer_over_full']:>9.2f}x {r['torch_us']:>9.1f} {r['speedup_vs_torch']:>8.1f}x {r['requests_matching_torch']:>5}/{r['B']}")
    print(f"\n{'rows':>5} {'length':>7} {'k':>5} {'lim_topk us':>12} {'torch.topk us':>14} {'speedup':>8}  values equal")
    for r in topk_rows:
        print(f"{r['rows']:>5} {r['length']:>7} {r['k']:>5} {r['ours_us']:>12.1f} {r['torch_us']:>14.1f} {r['speedup']:>7.1f}x  {r['values_match_torch']}")
        for name, us in r["variants"].items():
            print(f"{'':>19} {name}: {us if isinstance(us, str) else f'{us:.1f} us'}")
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.out, f"selection-{props.name.replace(' ', '_')}-{stamp}.json")
    json.dump({"device": props.name, "torch": torch.__version__, "date": stamp, "selection": rows, "topk": topk_rows}, open(path, "w"), indent=1)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
