"""Decode attention at one shape on random data, for profilers (Nsight Compute):

    bash bench/device/suite.sh profile-decode     (ncu on this script; logs under $OUT)

    python3 bench/profile_decode.py [--batch 8] [--context 32768] [--fp8 [e4m3|e5m2]] [--pages 16] [--list 2048]

Hq 32, Hkv 8, head dim 128, bf16 (an FP8 cache with --fp8, E4M3 unless named, scales 1; NHD pages of --pages
positions in shuffled order, through the paged function; with --list, sparse attention over one list of that many
random ascending positions per request, shared by its heads), the schedule the library dispatches to
(build/liblim.so, or $LIM_LIBRARY).
"""

import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from lessismore import FP8_DTYPES, Lim, PagedKV  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--context", type=int, default=32768)
ap.add_argument("--pages", type=int, default=0, help="a paged cache of pages this many positions long (0: contiguous)")
ap.add_argument("--fp8", nargs="?", const="e4m3", choices=["e4m3", "e5m2"], help="FP8 K/V caches (the lim_fp8_* function): e4m3 (default) or e5m2")
ap.add_argument("--list", type=int, default=0, help="sparse attention over a shared list of this many positions (0: full attention)")
args = ap.parse_args()
B, HQ, HKV, D, N = args.batch, 32, 8, 128, args.context
lim = Lim()
q = torch.randn(B, HQ, D, device="cuda", dtype=torch.bfloat16)
k = torch.randn(B, HKV, N, D, device="cuda", dtype=torch.bfloat16)
v = torch.randn(B, HKV, N, D, device="cuda", dtype=torch.bfloat16)
if args.fp8:
    k, v = k.to(FP8_DTYPES[args.fp8]), v.to(FP8_DTYPES[args.fp8])
seqlens = torch.full((B,), N, dtype=torch.int32, device="cuda")
out = torch.empty_like(q)
caches = (PagedKV.from_contiguous(k, v, args.pages), None) if args.pages > 0 else (k, v)
if args.list > 0:
    K = args.list
    indices = torch.stack([torch.randperm(N, device="cuda")[:K].sort().values for _ in range(B)]).to(torch.int32)
    counts = torch.full((B,), K, dtype=torch.int32, device="cuda")
    ws = lim.sparse_attention_workspace(B, HQ, HKV, D, K, q.dtype, False, paged=args.pages > 0, cache_dtype=k.dtype)
    run = lambda: lim.sparse_attention(q, *caches, seqlens, indices, counts, out, N, 1 / math.sqrt(D), ws)  # noqa: E731
else:
    ws = lim.decode_attention_workspace(B, HQ, HKV, D, N, q.dtype, paged=args.pages > 0, cache_dtype=k.dtype)
    run = lambda: lim.decode_attention(q, *caches, seqlens, out, None, N, 1 / math.sqrt(D), ws)  # noqa: E731
for _ in range(3):
    run()
lim.check_device_status()
print("decoded", tuple(out.shape))
