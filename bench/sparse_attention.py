"""Sparse attention over selected tokens beside PyTorch's gather + SDPA, in one process.

    python3 bench/sparse_attention.py [--lib build/liblim.so] [--quick] [--batches 1] [--budgets 128,512,2048]

For B in {1, 8, 32}, N in {32K, 128K}, K in {1024, 2048, 4096, 8192} (Hq 32, Hkv 8, head dim 128, bf16; random
ascending sets): our fused shared-set sparse attention (lim_sparse_attention), our gather + dense attention
(lim_gather_kv then lim_decode_attention over the compact rows), PyTorch's gather + SDPA, and, at the same K,
our per-head sparse attention (lim_sparse_attention_per_head, one list per query head: the TidalDecode
baseline), and the fused shared-set attention over the same K and V in an engine's layout: FP8 (E4M3, one scale
per tensor: amax / 448) in NHD pages of 16 in shuffled order (lim_fp8_paged_sparse_attention; its error includes
the quantisation). Timing: python/lessismore/timing.py (CUDA-graph replays), each call over the next of several
input sets (lists of their own, over several copies of the caches), so that the rows read together exceed the L2
four times, counted at FP8's size, and a call reads its rows from memory, as a decode step's layers do (the
"cold" column says where memory allowed it); "warm": the shared-list call over one set, its rows L2-resident,
the method of bench/NOTES.md sections 3-21.
Writes JSON under bench/results/.
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
from lessismore import Lim, PagedKV  # noqa: E402
from lessismore.timing import L2_BYTES, input_sets_for, time_us  # noqa: E402

HQ, HKV, D = 32, 8, 128
G = HQ // HKV


def random_sets(B, lists, N, K, gen):
    """[B, lists, K] ascending random positions below N."""
    keys = torch.rand(B * lists, N, device="cuda", generator=gen)
    return torch.topk(keys, K, dim=-1).indices.sort(dim=-1).values.to(torch.int32).view(B, lists, K)


class Caches:
    """One copy of a request batch's caches: bf16, and E4M3 in shuffled NHD pages of 16 (scale amax / 448)."""

    def __init__(self, B, N, gen):
        self.k = torch.randn(B, HKV, N, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        self.v = torch.randn(B, HKV, N, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        self.fp8_scales = [(x.abs().amax().float() / 448.0).reshape(1) for x in (self.k, self.v)]
        self.paged_fp8 = PagedKV.from_contiguous(*((x / s).to(torch.float8_e4m3fn) for x, s in zip((self.k, self.v), self.fp8_scales)), 16)


class Call:
    """The inputs of one timed call: a cache copy and lists of its own (one shared by the heads, one per head)."""

    def __init__(self, caches, B, N, K, gen):
        self.c = caches
        self.shared = random_sets(B, 1, N, K, gen)[:, 0].contiguous()  # [B, K]
        self.per_head = random_sets(B, HQ, N, K, gen)  # [B, Hq, K]


def bench(lim, B, N, K):
    scale = 1.0 / math.sqrt(D)
    gen = torch.Generator(device="cuda").manual_seed(B * 7 + N + K)
    q = torch.randn(B, HQ, D, device="cuda", dtype=torch.bfloat16, generator=gen)
    seqlens = torch.full((B,), N, dtype=torch.int32, device="cuda")
    # The timed calls cycle through input sets: enough lists that the rows they read (counted at FP8's size,
    # the smaller) exceed the L2 several times, over as many cache copies as 32 GB hold (a small cache has too
    # few rows to stay cold under many lists; a large one has room enough). "cold" in the row says whether the
    # distinct rows read in one cycle, at most the copies' rows, reach four times the L2.
    elements = B * HKV * N * D
    row_bytes = 2 * B * HKV * K * D  # K and V rows of one call, one byte each (FP8)
    sets = input_sets_for(row_bytes)
    copies = max(1, min(sets, (32 << 30) // (6 * elements)))  # bf16 K and V (4 bytes an element), FP8 pools (2)
    caches = [Caches(B, N, gen) for _ in range(copies)]
    inputs = [Call(caches[i % copies], B, N, K, gen) for i in range(sets)]
    cold = min(sets * row_bytes, copies * 2 * elements) >= 4 * L2_BYTES
    first = inputs[0]
    counts = torch.full((B,), K, dtype=torch.int32, device="cuda")
    head_counts = torch.full((B, HQ), K, dtype=torch.int32, device="cuda")
    out = torch.empty(B, HQ, D, device="cuda", dtype=torch.bfloat16)
    out_head = torch.empty_like(out)
    compact_k = torch.empty(B, HKV, K, D, device="cuda", dtype=torch.bfloat16)
    compact_v = torch.empty_like(compact_k)
    ws_shared = lim.sparse_attention_workspace(B, HQ, HKV, D, K, torch.bfloat16, False)
    ws_head = lim.sparse_attention_workspace(B, HQ, HKV, D, K, torch.bfloat16, True)
    ws_dense = lim.decode_attention_workspace(B, HQ, HKV, D, K, torch.bfloat16)
    ws_paged_fp8 = lim.sparse_attention_workspace(B, HQ, HKV, D, K, torch.bfloat16, False, paged=True, cache_dtype=torch.float8_e4m3fn)
    out_paged_fp8 = torch.empty_like(out)
    b_idx = torch.arange(B, device="cuda")[:, None, None]
    h_idx = (torch.arange(HQ, device="cuda") // G)[None, :, None]

    def fused(s=first):
        lim.sparse_attention(q, s.c.k, s.c.v, seqlens, s.shared, counts, out, N, scale, ws_shared)

    def gather_dense(s=first):
        lim.gather_kv(s.c.k, s.c.v, seqlens, s.shared, counts, compact_k, compact_v, N)
        lim.decode_attention(q, compact_k, compact_v, counts, out, None, K, scale, ws_dense)

    def fused_paged_fp8(s=first):
        lim.sparse_attention(q, s.c.paged_fp8, None, seqlens, s.shared, counts, out_paged_fp8, N, scale, ws_paged_fp8,
                             k_scale=s.c.fp8_scales[0], v_scale=s.c.fp8_scales[1])

    def heads(s=first):
        lim.sparse_attention_per_head(q, s.c.k, s.c.v, seqlens, s.per_head, head_counts, out_head, N, scale, ws_head)

    def torch_gather_sdpa(s=first):
        idx = s.shared.long()[:, None, :, None].expand(B, HKV, K, D)
        ks, vs = torch.gather(s.c.k, 2, idx), torch.gather(s.c.v, 2, idx)
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]):
            return F.scaled_dot_product_attention(q.unsqueeze(2), ks, vs, scale=scale, enable_gqa=True).squeeze(2)

    def torch_per_head(s=first):
        lists = s.per_head.long()
        ks, vs = s.c.k[b_idx, h_idx, lists], s.c.v[b_idx, h_idx, lists]  # [B, Hq, K, D]
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]):
            return F.scaled_dot_product_attention(q.unsqueeze(2), ks, vs, scale=scale).squeeze(2)

    fused()
    heads()
    fused_paged_fp8()
    lim.check_device_status()
    ref, ref_head = torch_gather_sdpa().float(), torch_per_head().float()
    row = {"B": B, "N": N, "K": K,
           "err_shared": ((out.float() - ref).norm() / ref.norm()).item(),
           "err_per_head": ((out_head.float() - ref_head).norm() / ref_head.norm()).item(),
           "err_paged_fp8": ((out_paged_fp8.float() - ref).norm() / ref.norm()).item()}
    gather_dense()
    row["err_gather_dense"] = ((out.float() - ref).norm() / ref.norm()).item()
    rotated = lambda fn: [lambda s=s: fn(s) for s in inputs]  # noqa: E731
    row["input_sets"], row["cache_copies"], row["cold"] = sets, copies, cold
    row["fused_warm_us"], _ = time_us([fused], reps=40)
    row["fused_us"], _ = time_us(rotated(fused), reps=max(40, sets))
    row["gather_dense_us"], _ = time_us(rotated(gather_dense), reps=max(40, sets))
    row["paged_fp8_us"], _ = time_us(rotated(fused_paged_fp8), reps=max(40, sets))
    row["per_head_us"], _ = time_us(rotated(heads), reps=max(20, sets))
    row["torch_us"], row["torch_timing"] = time_us(rotated(torch_gather_sdpa), reps=max(20, sets))
    row["torch_per_head_us"], _ = time_us(rotated(torch_per_head), reps=max(10, sets))
    row["speedup_vs_torch"] = row["torch_us"] / row["fused_us"]
    row["shared_vs_per_head"] = row["per_head_us"] / row["fused_us"]
    row["kv_MB_read"] = 2 * B * HKV * K * D * 2 / 1e6
    row["fused_TBps"] = row["kv_MB_read"] / row["fused_us"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "build", "liblim.so"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--batches", help="comma-separated batch sizes (default: 1 with --quick, else 1,8,32)")
    ap.add_argument("--budgets", help="comma-separated list lengths K (default: 2048 with --quick, else 1024-8192)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    ints = lambda text: [int(x) for x in text.split(",")]  # noqa: E731
    lim = Lim(args.lib)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}; torch {torch.__version__}; liblim {lim.version}", flush=True)
    rows = []
    for B in ints(args.batches) if args.batches else ([1] if args.quick else [1, 8, 32]):
        for N in ([32768] if args.quick else [32768, 131072]):
            for K in ints(args.budgets) if args.budgets else ([2048] if args.quick else [1024, 2048, 4096, 8192]):
                r = bench(lim, B, N, K)
                rows.append(r)
                print(json.dumps(r), flush=True)
                torch.cuda.empty_cache()
    print(f"\n{'B':>2} {'N':>7} {'K':>5} {'cold':>4} {'fused us':>9} {'warm us':>8} {'TB/s':>5} {'gather+dense':>12} {'torch us':>9} {'vs torch':>8} "
          f"{'per-head us':>11} {'shared gain':>11} {'torch per-head':>14} {'paged FP8 us':>12}")
    for r in rows:
        print(f"{r['B']:>2} {r['N']:>7} {r['K']:>5} {'yes' if r['cold'] else 'no':>4} {r['fused_us']:>9.1f} {r['fused_warm_us']:>8.1f} {r['fused_TBps']:>5.2f} {r['gather_dense_us']:>12.1f} "
              f"{r['torch_us']:>9.1f} {r['speedup_vs_torch']:>7.1f}x {r['per_head_us']:>11.1f} {r['shared_vs_per_head']:>10.2f}x "
              f"{r['torch_per_head_us']:>14.1f} {r['paged_fp8_us']:>12.1f}")
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.out, f"sparse_attention-{props.name.replace(' ', '_')}-{stamp}.json")
    json.dump({"device": props.name, "torch": torch.__version__, "date": stamp, "rows": rows}, open(path, "w"), indent=1)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
