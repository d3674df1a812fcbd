"""Full decode attention: our generated kernel (through the C ABI) beside PyTorch SDPA, in one process.

    python3 bench/decode_attention.py [--lib build/liblim.so] [--quick | --full] [--pages 16,1 [--page-layout HND]] [--fp8 [e4m3,e5m2]]
    python3 bench/decode_attention.py --batches 1 --lengths 4096 --head-dims 64,128,256 --group-sizes 4,8

Grid: B in {1, 8, 32} x N in {4K, 16K, 32K, 128K} (K+V over 8 GB skipped), Hq 32, Hkv 8, head dim 128, bf16;
plus head dims 64 and 256 at B 1, N 32K. --full: every B and N with head dims 64/128/256, group sizes 4 and 8
(Hkv 8 and 4) and bf16 and fp16. PyTorch: scaled_dot_product_attention with enable_gqa=True on
the flash and cuDNN backends. Prints microseconds, achieved TB/s (bytes of K and V over time) and our
speed-up over the best SDPA backend; writes JSON under bench/results/. Timing: python/lessismore/timing.py (CUDA-graph
replays, inputs rotated past the L2). --pages: also time the same K and V in paged caches (pages of each
given size in shuffled order (--page-order in-order: in order), NHD or --page-layout HND, through lim_paged_decode_attention) and print each one's
time over the contiguous time; with NHD pages also the contiguous cache stored token-major (an NHD page's order). --fp8: also time the same K and V quantised to FP8 (E4M3 unless formats are given, e.g. --fp8 e4m3,e5m2; one scale
per tensor: amax / the format's largest value) through lim_fp8_decode_attention, and print each one's speed-up over our
bf16 time and over the best SDPA backend (bf16).
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
from lessismore import FP8_DTYPES, Lim, PagedKV  # noqa: E402
from lessismore.baseline import BACKENDS, DTYPES  # noqa: E402  (the SDPA backends and dtype names lim decode's baseline uses)
from lessismore.timing import input_sets_for, reps_for, time_us  # noqa: E402

HQ, HKV = 32, 8


def grid(quick: bool, full: bool, batches=None, lengths=None, head_dims=None, groups=None):
    """(B, N, D, Hkv, dtype) of every shape to time; batches, lengths, head dims and group sizes replace the grid's
    (bf16; head dim 128 and G 4 unless given)."""
    if batches or lengths or head_dims or groups:
        for g in groups or [HQ // HKV]:
            for d in head_dims or [128]:
                for b in batches or [1, 8]:
                    for n in lengths or [32768]:
                        yield b, n, d, HQ // g, "bf16"
        return
    batches, lengths = ([1, 8], [4096, 32768]) if quick else ([1, 8, 32], [4096, 16384, 32768, 131072])
    heads = [(64, 128, 256), (HKV, HQ // 8), ("bf16", "fp16")] if full else [(128,), (HKV,), ("bf16",)]
    for dtype in heads[2]:
        for hkv in heads[1]:
            for d in heads[0]:
                for b in batches:
                    for n in lengths:
                        if 2 * b * hkv * n * d * 2 <= 8e9:
                            yield b, n, d, hkv, dtype
    if not full:
        yield 1, 32768, 64, HKV, "bf16"
        yield 1, 32768, 256, HKV, "bf16"


class Case:
    """Inputs of one shape: enough copies of q, K, V to rotate through (see timing.input_sets_for)."""

    def __init__(self, B: int, N: int, D: int, hq: int = HQ, hkv: int = HKV, dtype=torch.bfloat16, length: int = 0):
        """length: the requests' tokens (default N), under a plan for N (max_seqlen), as a CUDA graph captured at a
        cache's capacity of N runs shorter requests; SDPA and the reference see the first `length` tokens."""
        self.B, self.N, self.D, self.hq, self.hkv, self.dtype = B, N, D, hq, hkv, dtype
        self.L = length or N
        # The bytes a call reads (of L tokens), which set how many input sets keep them past the L2 and the reps.
        self.kv_bytes = 2 * B * hkv * self.L * D * torch.finfo(dtype).bits // 8
        self.scale = 1.0 / math.sqrt(D)
        gen = torch.Generator(device="cuda").manual_seed(B * 7919 + N + D)
        self.inputs = []
        for _ in range(input_sets_for(self.kv_bytes)):
            q = torch.randn(B, hq, D, device="cuda", dtype=dtype, generator=gen)
            k = torch.randn(B, hkv, N, D, device="cuda", dtype=dtype, generator=gen)
            v = torch.randn(B, hkv, N, D, device="cuda", dtype=dtype, generator=gen)
            self.inputs.append((q, k, v))
        self.seqlens = torch.full((B,), self.L, dtype=torch.int32, device="cuda")
        self.out = torch.empty(B, hq, D, device="cuda", dtype=dtype)
        q, k, v = self.inputs[0]
        with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION]):
            self.reference = F.scaled_dot_product_attention(q.unsqueeze(2), k[:, :, :self.L], v[:, :, :self.L], scale=self.scale, enable_gqa=True).squeeze(2).float()

    def ours(self, lim: Lim, sets=None):
        """Checks our output on the first input set against SDPA's, then times it: (us, relative error, timing method).
        sets: the (q, k, v) to run instead of the input sets (the same values in another layout)."""
        sets = sets or self.inputs
        ws = lim.decode_attention_workspace(self.B, self.hq, self.hkv, self.D, self.N, self.dtype)
        q, k, v = sets[0]
        self.out.fill_(float("nan"))
        lim.decode_attention(q, k, v, self.seqlens, self.out, None, self.N, self.scale, ws)
        lim.check_device_status()
        rel = ((self.out.float() - self.reference).norm() / self.reference.norm()).item()
        calls = [lambda q=q, k=k, v=v: lim.decode_attention(q, k, v, self.seqlens, self.out, None, self.N, self.scale, ws)
                 for q, k, v in sets]
        us, method = time_us(calls, reps=reps_for(self.kv_bytes / 2.5e6))
        return us, rel, method

    def ours_token_major(self, lim: Lim):
        """As ours(), over the same K and V stored token-major ([B, N, Hkv, D], an NHD page's order, seen through
        strides as [B, Hkv, N, D]): what the rows' layout alone costs, apart from the paging."""
        token_major = lambda x: x.transpose(1, 2).contiguous().transpose(1, 2)  # noqa: E731
        result = self.ours(lim, [(q, token_major(k), token_major(v)) for q, k, v in self.inputs])
        torch.cuda.empty_cache()
        return result

    def paged(self, page: int, layout: str, shuffle: bool):
        """The input sets' K and V copied into pages of `page` positions (NHD or HND), shuffled or in order, one pool per set."""
        return [(q, PagedKV.from_contiguous(k, v, page, layout, shuffle=shuffle)) for q, k, v in self.inputs]

    def ours_paged(self, lim: Lim, page: int, layout: str = "NHD", shuffle: bool = True):
        """As ours(), over paged caches of `page` positions: (us, relative error, timing method)."""
        sets = self.paged(page, layout, shuffle)
        ws = lim.decode_attention_workspace(self.B, self.hq, self.hkv, self.D, self.N, self.dtype, paged=True)
        q, cache = sets[0]
        self.out.fill_(float("nan"))
        lim.decode_attention(q, cache, None, self.seqlens, self.out, None, self.N, self.scale, ws)
        lim.check_device_status()
        rel = ((self.out.float() - self.reference).norm() / self.reference.norm()).item()
        calls = [lambda q=q, c=c: lim.decode_attention(q, c, None, self.seqlens, self.out, None, self.N, self.scale, ws) for q, c in sets]
        us, method = time_us(calls, reps=reps_for(self.kv_bytes / 2.5e6))
        del sets, calls
        torch.cuda.empty_cache()
        return us, rel, method

    def ours_fp8(self, lim: Lim, fp8_dtype):
        """As ours(), over the input sets' K and V quantised to FP8 (fp8_dtype) with a per-tensor scale (amax / the
        format's largest value): (us, relative error against SDPA on the 16-bit caches, quantisation included, timing method)."""
        sets = []
        largest = torch.finfo(fp8_dtype).max
        for q, k, v in self.inputs:
            scales = [(x.abs().amax().float() / largest).reshape(1) for x in (k, v)]
            sets.append((q, *((x / s).to(fp8_dtype) for x, s in zip((k, v), scales)), *scales))
        ws = lim.decode_attention_workspace(self.B, self.hq, self.hkv, self.D, self.N, self.dtype, cache_dtype=fp8_dtype)
        q, k8, v8, ks, vs = sets[0]
        self.out.fill_(float("nan"))
        lim.decode_attention(q, k8, v8, self.seqlens, self.out, None, self.N, self.scale, ws, k_scale=ks, v_scale=vs)
        lim.check_device_status()
        rel = ((self.out.float() - self.reference).norm() / self.reference.norm()).item()
        calls = [lambda q=q, k=k, v=v, ks=ks, vs=vs: lim.decode_attention(q, k, v, self.seqlens, self.out, None, self.N, self.scale, ws, k_scale=ks, v_scale=vs)
                 for q, k, v, ks, vs in sets]
        us, method = time_us(calls, reps=reps_for(self.kv_bytes / 2 / 2.5e6))
        del sets, calls
        torch.cuda.empty_cache()
        return us, rel, method

    def sdpa(self, backend):
        def call(q, k, v):
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q.unsqueeze(2), k, v, scale=self.scale, enable_gqa=True)
        calls = [lambda q=q, k=k[:, :, :self.L], v=v[:, :, :self.L]: call(q, k, v) for q, k, v in self.inputs]
        return time_us(calls, reps=reps_for(self.kv_bytes / 2.5e6))


def run_shape(lim: Lim, B: int, N: int, D: int, hkv: int, dtype: str, pages=(), page_layout="NHD", page_order="shuffled", fp8=()):
    case = Case(B, N, D, hkv=hkv, dtype=DTYPES[dtype])
    row = {"B": B, "N": N, "D": D, "G": HQ // hkv, "dtype": dtype, "kv_MB": case.kv_bytes / 1e6, "input_sets": len(case.inputs)}
    row["ours_us"], row["rel_err_vs_sdpa"], row["ours_timing"] = case.ours(lim)
    if pages:
        row["page_layout"], row["page_order"] = page_layout, page_order
        if page_layout == "NHD":
            row["token_major_us"], row["token_major_rel_err_vs_sdpa"], row["token_major_timing"] = case.ours_token_major(lim)
    for page in pages:
        us, rel, method = case.ours_paged(lim, page, page_layout, page_order == "shuffled")
        row[f"paged{page}_us"], row[f"paged{page}_rel_err_vs_sdpa"], row[f"paged{page}_timing"] = us, rel, method
        row[f"paged{page}_over_contiguous"] = us / row["ours_us"]
    for f in fp8:
        row[f"{f}_us"], row[f"{f}_rel_err_vs_sdpa"], row[f"{f}_timing"] = case.ours_fp8(lim, FP8_DTYPES[f])
    for name, backend in BACKENDS.items():
        try:
            row[f"{name}_us"], row[f"{name}_timing"] = case.sdpa(backend)
        except RuntimeError as e:
            row[f"{name}_us"] = None
            row[f"{name}_err"] = str(e).splitlines()[0][:120]
    sdpa_times = [row[f"{n}_us"] for n in BACKENDS if row.get(f"{n}_us")]
    row["sdpa_best_us"] = min(sdpa_times) if sdpa_times else None
    row["ours_TBps"] = case.kv_bytes / row["ours_us"] / 1e6
    row["speedup"] = row["sdpa_best_us"] / row["ours_us"] if row["sdpa_best_us"] else None
    for f in fp8:
        row[f"{f}_TBps"] = case.kv_bytes / 2 / row[f"{f}_us"] / 1e6
        row[f"{f}_over_ours"] = row["ours_us"] / row[f"{f}_us"]
        row[f"{f}_speedup"] = row["sdpa_best_us"] / row[f"{f}_us"] if row["sdpa_best_us"] else None
    del case
    torch.cuda.empty_cache()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "..", "build", "liblim.so"))
    ap.add_argument("--quick", action="store_true", help="a smaller grid")
    ap.add_argument("--full", action="store_true", help="head dims 64/128/256, group sizes 4 and 8, bf16 and fp16 on every B and N")
    ap.add_argument("--pages", default="", help="comma-separated page sizes to time paged caches at too, e.g. 16,1")
    ap.add_argument("--page-layout", default="NHD", choices=["NHD", "HND"], help="the pages' layout (default NHD, vLLM's); NHD also times the contiguous cache stored token-major")
    ap.add_argument("--page-order", default="shuffled", choices=["shuffled", "in-order"], help="the pages' order in the pool (default shuffled, as an engine's allocator leaves them); in-order tells the memory system's share apart")
    ap.add_argument("--fp8", nargs="?", const="e4m3", default="", help="also time FP8 caches of the same data: comma-separated formats (default e4m3; e.g. e4m3,e5m2)")
    ap.add_argument("--batches", default="", help="comma-separated batch sizes instead of the grid's (head dim 128, bf16)")
    ap.add_argument("--lengths", default="", help="comma-separated sequence lengths instead of the grid's (head dim 128, bf16)")
    ap.add_argument("--head-dims", default="", help="comma-separated head dims instead of the grid's (with the batches and lengths given, or 1,8 x 32K)")
    ap.add_argument("--group-sizes", default="", help="comma-separated query heads per KV head (Hq 32) instead of the grid's 4")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    ap.add_argument("--prefix", default="decode_attention", help="the JSON file's name prefix (lim bench's engine-caches suite writes engine_caches)")
    args = ap.parse_args()

    lim = Lim(args.lib)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}, {props.multi_processor_count} SMs; torch {torch.__version__}; liblim {lim.version}", flush=True)
    fp8 = [f for f in args.fp8.split(",") if f]
    for f in fp8:
        if f not in FP8_DTYPES:
            ap.error(f"--fp8: '{f}' is not an FP8 format; use e4m3, e5m2 or both (comma-separated)")
    rows = []
    numbers = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    for B, N, D, hkv, dtype in grid(args.quick, args.full, numbers(args.batches), numbers(args.lengths), numbers(args.head_dims), numbers(args.group_sizes)):
        row = run_shape(lim, B, N, D, hkv, dtype, pages=[int(p) for p in args.pages.split(",") if p], page_layout=args.page_layout, page_order=args.page_order, fp8=fp8)
        rows.append(row)
        print(json.dumps(row), flush=True)

    print()
    print(f"{'B':>3} {'N':>7} {'D':>4} {'G':>2} {'dtype':>5} {'K+V MB':>8} {'ours us':>9} {'TB/s':>6} {'flash us':>9} {'cudnn us':>9} {'speedup':>8} {'err':>8}  timing")
    for r in rows:
        fmt = lambda v: f"{v:9.1f}" if v else f"{'-':>9}"  # noqa: E731
        print(f"{r['B']:>3} {r['N']:>7} {r['D']:>4} {r['G']:>2} {r['dtype']:>5} {r['kv_MB']:>8.0f} {r['ours_us']:>9.1f} {r['ours_TBps']:>6.2f} "
              f"{fmt(r.get('flash_us'))} {fmt(r.get('cudnn_us'))} {r['speedup'] or 0:>7.2f}x {r['rel_err_vs_sdpa']:>8.1e}  "
              f"{r['ours_timing']}/{r.get('flash_timing', '-')}/{r.get('cudnn_timing', '-')}")
    pages = [int(p) for p in args.pages.split(",") if p]
    if pages:
        print()
        print(f"{args.page_layout} pages, {args.page_order}; token-major: the contiguous cache stored [B, N, Hkv, D], an NHD page's row order")
        print(f"{'B':>3} {'N':>7} {'D':>4} {'G':>2} {'contiguous us':>13} {'token-major us':>14} " + " ".join(f"{f'paged{p} us':>10} {'/contig':>7} {'err':>8}" for p in pages))
        for r in rows:
            token_major = f"{r['token_major_us']:>14.1f}" if "token_major_us" in r else f"{'-':>14}"
            print(f"{r['B']:>3} {r['N']:>7} {r['D']:>4} {r['G']:>2} {r['ours_us']:>13.1f} {token_major} " +
                  " ".join(f"{r[f'paged{p}_us']:>10.1f} {r[f'paged{p}_over_contiguous']:>7.3f} {r[f'paged{p}_rel_err_vs_sdpa']:>8.1e}" for p in pages))

    for f in fp8:
        print()
        print(f"{'B':>3} {'N':>7} {'D':>4} {'G':>2} {'K+V MB':>8} {'bf16 us':>9} {f + ' us':>9} {'TB/s':>8} {'/ours':>8} {'/SDPA':>8} {'err':>8}")
        for r in rows:
            print(f"{r['B']:>3} {r['N']:>7} {r['D']:>4} {r['G']:>2} {r['kv_MB']:>8.0f} {r['ours_us']:>9.1f} {r[f'{f}_us']:>9.1f} {r[f'{f}_TBps']:>8.2f} "
                  f"{r[f'{f}_over_ours']:>7.2f}x {r[f'{f}_speedup'] or 0:>7.2f}x {r[f'{f}_rel_err_vs_sdpa']:>8.1e}")

    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.out, f"{args.prefix}-{props.name.replace(' ', '_')}-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"device": props.name, "sms": props.multi_processor_count, "torch": torch.__version__, "lim": lim.version,
                   "date": stamp, "rows": rows}, f, indent=1)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
