"""FP8 K/V caches (E4M3 and E5M2) on one GPU: the lim_fp8_* functions against float64 references of the dequantised
caches (stored value times its scale), per-tensor and per-KV-head scales, values at the saturation limit, contiguous
and paged caches (NHD and HND, pages of 16 and 1, spare pages of NaN), full attention with its logits, lists shared
by the heads and per head (with counts and padded with -1), long sequences split across blocks, the saturating
writes of append and vLLM's slot write bit for bit against PyTorch's rounding, the gather's dequantised rows, the
custom operators, and bad arguments named.

    python3 python/tests/fp8_caches.py        (LIM_TEST_SEED=n repeats a run; LIM_FP8_FORMATS=e4m3,e5m2 names the formats)

By default it checks E4M3 and, where the library has E5M2 variants (generated on request: `lim generate
--kv-dtypes auto,e4m3,e5m2`), E5M2, saying which it skipped; a format LIM_FP8_FORMATS names must be there.

Exits non-zero naming the first check that fails.
"""

import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lessismore import FP8_DTYPES, Lim, LimError, PagedKV, ops  # noqa: E402

SEED = int(os.environ.get("LIM_TEST_SEED", random.randrange(1 << 30)))
torch.manual_seed(SEED)
print(f"LIM_TEST_SEED={SEED}", flush=True)
lim = Lim()
NAMED_FORMATS = os.environ.get("LIM_FP8_FORMATS")
# The format under check (set by the loop at the end): its dtype and its largest finite value.
FP8 = torch.float8_e4m3fn
FP8_MAX = torch.finfo(FP8).max
HKV, G, D = 2, 4, 128
HQ = HKV * G
SCALE = 1 / math.sqrt(D)
TOLERANCE = 1e-2  # the bound on the relative error against the dequantised cache


def check(ok: bool, what: str):
    if not ok:
        sys.exit(f"FAILED: {what} (LIM_TEST_SEED={SEED})")
    print(f"ok: {what}", flush=True)


def expect_error(call, kind, pattern: str, what: str):
    try:
        call()
    except kind as e:
        check(pattern in str(e), f"{what}: {e}")
        return
    check(False, f"{what}: no error")


def relative_error(got, ref):
    return ((got.double() - ref).norm() / ref.norm()).item()


def quantize(x, scale):
    """What an FP8 cache stores for x under scale ([Hkv] or [1]): x / scale rounded to nearest, saturated at the largest finite value."""
    s = scale.view(1, -1, 1, 1) if x.dim() == 4 else scale.view(1, -1, 1)
    return (x.float() / s).clamp(-FP8_MAX, FP8_MAX).to(FP8)


def dequantize(x8, scale):
    s = scale.double().view(1, -1, 1, 1)
    return x8.double() * s


def problem(seqlens, capacity, per_head_scales):
    """q (bf16), FP8 caches with some elements at +-FP8_MAX (the saturation limit), their scales and the dequantised caches."""
    B = len(seqlens)
    q = torch.randn(B, HQ, D, dtype=torch.bfloat16, device="cuda")
    n = HKV if per_head_scales else 1
    k_scale = (0.01 + 0.02 * torch.rand(n, device="cuda")).float()
    v_scale = (0.01 + 0.02 * torch.rand(n, device="cuda")).float()
    k8 = quantize(torch.randn(B, HKV, capacity, D, device="cuda") * 3 * k_scale.view(1, -1, 1, 1), k_scale)
    v8 = quantize(torch.randn(B, HKV, capacity, D, device="cuda") * 3 * v_scale.view(1, -1, 1, 1), v_scale)
    largest = torch.tensor([FP8_MAX, -FP8_MAX], device="cuda").to(FP8).view(torch.uint8)  # E4M3 0x7E, 0xFE; E5M2 0x7B, 0xFB
    for x8 in (k8, v8):  # a few elements at the largest finite value, both signs
        raw = x8.view(torch.uint8)
        spots = torch.randint(0, raw.numel(), (64,), device="cuda")
        raw.view(-1)[spots] = largest.repeat(32)
    check(k8.float().abs().max().item() == FP8_MAX, f"the caches hold values at the saturation limit (+-{FP8_MAX:g})")
    return q, k8, v8, k_scale, v_scale, torch.tensor(seqlens, dtype=torch.int32, device="cuda")


def reference(q, k, v, seqlens, rows=None):
    """float64 attention over each request's tokens, or over rows(b, h): (out, lse, logits of all tokens)."""
    B = q.shape[0]
    out = torch.zeros(q.shape, dtype=torch.float64, device="cuda")
    lse = torch.zeros(q.shape[:2], dtype=torch.float64, device="cuda")
    logits = torch.zeros(B, HQ, k.shape[2], dtype=torch.float64, device="cuda")
    for b, n in enumerate(seqlens):
        for h in range(HQ):
            s_all = k[b, h // G, :n] @ q[b, h].double() * SCALE
            logits[b, h, :n] = s_all
            sel = torch.arange(n, device="cuda") if rows is None else torch.as_tensor(rows(b, h), device="cuda")
            s = s_all[sel]
            lse[b, h] = torch.logsumexp(s, 0)
            out[b, h] = torch.softmax(s, 0) @ v[b, h // G, sel]
    return out, lse, logits


def attend(q, caches, seqlens, max_seqlen, k_scale, v_scale, logits=False):
    B = q.shape[0]
    k, v = caches
    paged = isinstance(k, PagedKV)
    out = torch.full_like(q, float("nan"))
    lse = torch.full((B, HQ), float("nan"), device="cuda")
    lg = torch.full((B, HQ, max_seqlen), float("nan"), device="cuda") if logits else None
    ws = lim.decode_attention_workspace(B, HQ, HKV, D, max_seqlen, q.dtype, paged=paged, cache_dtype=FP8)
    lim.decode_attention(q, k, v, seqlens, out, lse, max_seqlen, SCALE, ws, logits=lg, k_scale=k_scale, v_scale=v_scale)
    lim.check_device_status()
    return out, lse, lg


def full_attention_checks(per_head_scales):
    seqlens = [1, 1500, 4000]  # one token, and a long sequence split across blocks
    capacity = 4096
    q, k8, v8, ks, vs, sl = problem(seqlens, capacity, per_head_scales)
    kd, vd = dequantize(k8, ks), dequantize(v8, vs)
    ref_out, ref_lse, ref_logits = reference(q, kd, vd, seqlens)
    which = f"{'per-KV-head' if per_head_scales else 'per-tensor'} scales"
    out, lse, logits = attend(q, (k8, v8), sl, capacity, ks, vs, logits=True)
    err = relative_error(out, ref_out)
    check(err < TOLERANCE, f"decode attention over an FP8 cache, {which}: relative error {err:.2e} against float64 of the dequantised cache")
    check((lse.double() - ref_lse).abs().max().item() < 1e-3, f"its log-sum-exp, {which}")
    lerr = max((logits[b, :, :n].double() - ref_logits[b, :, :n]).abs().max().item() for b, n in enumerate(seqlens))
    check(lerr < 1e-2 * ref_logits.abs().max().item(), f"its logits come from the FP8 keys, {which} (max error {lerr:.2e})")
    for layout, page in (("NHD", 16), ("HND", 16), ("NHD", 1)):
        cache = PagedKV.from_contiguous(k8, v8, page, layout, spare_pages=3, fill=float("nan"))
        pout, plse, _ = attend(q, (cache, None), sl, capacity, ks, vs)
        check(torch.equal(pout, out) and torch.equal(plse, lse), f"paged FP8 ({layout}, pages of {page}, shuffled) gives the contiguous output exactly, {which}")

    # Sparse attention: one list per request (with counts, and padded with -1), one list per head.
    budget = 700
    B = len(seqlens)
    lists = [sorted(random.sample(range(n), min(n, budget))) for n in seqlens]
    indices = torch.full((B, budget), -1, dtype=torch.int32, device="cuda")
    for b, rows in enumerate(lists):
        indices[b, : len(rows)] = torch.tensor(rows, dtype=torch.int32)
    counts = torch.tensor([len(r) for r in lists], dtype=torch.int32, device="cuda")
    ref_sparse, _, _ = reference(q, kd, vd, seqlens, rows=lambda b, h: lists[b])
    ws = lim.sparse_attention_workspace(B, HQ, HKV, D, budget, q.dtype, 0, cache_dtype=FP8)
    for given, name in ((counts, "with counts"), (None, "padded with -1")):
        out = torch.full_like(q, float("nan"))
        lim.sparse_attention(q, k8, v8, sl, indices, given, out, capacity, SCALE, ws, k_scale=ks, v_scale=vs)
        lim.check_device_status()
        err = relative_error(out, ref_sparse)
        check(err < TOLERANCE, f"sparse attention over an FP8 cache, one list per request {name}, {which}: relative error {err:.2e}")
    head_lists = [[sorted(random.sample(range(n), min(n, 300))) for _ in range(HQ)] for n in seqlens]
    head_indices = torch.full((B, HQ, 300), -1, dtype=torch.int32, device="cuda")
    for b in range(B):
        for h in range(HQ):
            head_indices[b, h, : len(head_lists[b][h])] = torch.tensor(head_lists[b][h], dtype=torch.int32)
    ref_heads, _, _ = reference(q, kd, vd, seqlens, rows=lambda b, h: head_lists[b][h])
    ws = lim.sparse_attention_workspace(B, HQ, HKV, D, 300, q.dtype, 1, cache_dtype=FP8)
    out = torch.full_like(q, float("nan"))
    lim.sparse_attention_per_head(q, k8, v8, sl, head_indices, None, out, capacity, SCALE, ws, k_scale=ks, v_scale=vs)
    lim.check_device_status()
    err = relative_error(out, ref_heads)
    check(err < TOLERANCE, f"sparse attention over an FP8 cache, one list per query head, {which}: relative error {err:.2e}")

    # The custom operators take the same caches and scales.
    oout, olse = torch.ops.lessismore.decode_attention(q, k8, v8, sl, capacity, SCALE, ks, vs)
    full, flse, _ = attend(q, (k8, v8), sl, capacity, ks, vs)
    check(torch.equal(oout, full) and torch.equal(olse, flse), f"torch.ops.lessismore.decode_attention over FP8 caches, {which}")
    cache = PagedKV.from_contiguous(k8, v8, 16)
    pout, _ = torch.ops.lessismore.paged_sparse_attention(q, cache.k, cache.v, cache.block_table, sl, indices, None, capacity, SCALE, "NHD", ks, vs)
    check(relative_error(pout, ref_sparse) < TOLERANCE, f"torch.ops.lessismore.paged_sparse_attention over FP8 pools, {which}")


def write_checks():
    """append_kv and vLLM's slot write into FP8 caches: x / scale rounded to nearest and saturated, as PyTorch rounds."""
    B, capacity = 3, 64
    ks = torch.tensor([0.02, 0.05], device="cuda")
    vs = torch.tensor([0.03, 0.01], device="cuda")
    k8 = torch.zeros(B, HKV, capacity, D, dtype=FP8, device="cuda")
    v8 = torch.zeros_like(k8)
    sl = torch.tensor([5, 64, 17], dtype=torch.int32, device="cuda")
    k_new = (torch.randn(B, HKV, D, device="cuda") * 4).to(torch.bfloat16)
    v_new = (torch.randn(B, HKV, D, device="cuda") * 4).to(torch.bfloat16)
    edge = FP8_MAX * 0.02  # the largest value at scale 0.02: twice it saturates, and it itself is kept
    k_new[0, 0, :4] = torch.tensor([2 * edge, -2 * edge, edge, -edge])
    lim.append_kv(k8, v8, k_new, v_new, sl, k_scale=ks, v_scale=vs)
    lim.check_device_status()
    want_k, want_v = quantize(k_new, ks).view(torch.uint8), quantize(v_new, vs).view(torch.uint8)
    for b, n in enumerate(sl.tolist()):
        got_k, got_v = k8[b, :, n - 1].view(torch.uint8), v8[b, :, n - 1].view(torch.uint8)
        check(torch.equal(got_k, want_k[b]) and torch.equal(got_v, want_v[b]), f"append_kv into FP8 caches writes PyTorch's rounding of x / scale (request {b})")
    check(k8[0, 0, 4, 0].float().item() == FP8_MAX and k8[0, 0, 4, 1].float().item() == -FP8_MAX, f"append_kv saturates beyond the range at +-{FP8_MAX:g}")

    # vLLM's slot write into FP8 pools, one scale per tensor.
    pages, page = 6, 16
    kp = torch.zeros(pages, page, HKV, D, dtype=FP8, device="cuda")
    vp = torch.zeros_like(kp)
    cache = PagedKV(kp, vp, torch.zeros(1, 1, dtype=torch.int32, device="cuda"))
    slots = torch.tensor([3, 16 * 5 + 2, -1], dtype=torch.int32, device="cuda")
    new = (torch.randn(3, HKV, D, device="cuda") * 20).to(torch.bfloat16)
    scale = torch.tensor([0.04], device="cuda")
    lim.write_kv_slots(new, new, slots, cache, k_scale=scale, v_scale=scale)
    lim.check_device_status()
    want = quantize(new, scale)
    check(torch.equal(kp[0, 3].view(torch.uint8), want[0].view(torch.uint8)) and torch.equal(vp[5, 2].view(torch.uint8), want[1].view(torch.uint8)),
          "write_kv_slots into FP8 pools writes PyTorch's rounding of x / scale at each slot")
    rest = kp.view(torch.uint8).clone()
    rest[0, 3] = 0
    rest[5, 2] = 0
    check(rest.count_nonzero().item() == 0, "and writes nothing else (slot -1 skipped)")


def gather_checks():
    """gather_kv from FP8 caches (contiguous and paged, scales per KV head and per tensor): each listed row
    dequantised (stored value times its scale, in float32) and rounded to the output's dtype, as PyTorch rounds."""
    seqlens = [3000, 77]
    for per_head in (True, False):
        _, k8, v8, ks, vs, sl = problem(seqlens, 3000, per_head)
        lists = [sorted(random.sample(range(n), 64)) for n in seqlens]
        indices = torch.tensor(lists, dtype=torch.int32, device="cuda")
        counts = torch.full((2,), 64, dtype=torch.int32, device="cuda")
        rows = lambda x8, scale: torch.stack([x8[b][:, lists[b]].float() * scale.view(-1, 1, 1) for b in range(2)]).to(torch.bfloat16)  # noqa: E731
        want_k, want_v = rows(k8, ks), rows(v8, vs)
        which = "per-KV-head" if per_head else "per-tensor"
        for caches, layout in (((k8, v8), "contiguous"), ((PagedKV.from_contiguous(k8, v8, 16, "HND", spare_pages=2, fill=float("nan")), None), "paged (HND, 16)")):
            out_k = torch.full((2, HKV, 64, D), float("nan"), dtype=torch.bfloat16, device="cuda")
            out_v = torch.full_like(out_k, float("nan"))
            lim.gather_kv(*caches, sl, indices, counts, out_k, out_v, 3000, k_scale=ks, v_scale=vs)
            lim.check_device_status()
            check(torch.equal(out_k, want_k) and torch.equal(out_v, want_v),
                  f"gather_kv from {layout} FP8 caches writes each listed row dequantised in bf16, {which} scales")


def bad_arguments():
    q, k8, v8, ks, vs, sl = problem([10], 64, False)
    out = torch.empty_like(q)
    ws = lim.decode_attention_workspace(1, HQ, HKV, D, 64, q.dtype, cache_dtype=FP8)
    three = torch.ones(3, device="cuda")
    expect_error(lambda: lim.decode_attention(q, k8, v8, sl, out, None, 64, SCALE, ws, k_scale=three), ValueError, "1 or num_kv_heads = 2 entries",
                 "a scale of 3 entries for 2 KV heads is refused")
    bf = k8.to(torch.bfloat16)
    expect_error(lambda: lim.decode_attention(q, bf, bf, sl, out, None, 64, SCALE, ws, k_scale=ks), ValueError, "apply to FP8 caches",
                 "scales for 16-bit caches are refused")
    expect_error(lambda: lim.decode_attention(q, k8, v8.to(torch.bfloat16), sl, out, None, 64, SCALE, ws), TypeError, "one dtype",
                 "FP8 keys with bf16 values are refused")
    # The C ABI's own check, past the Python one.
    expect_error(lambda: lim.abi.fp8_append_kv(k_new=q[:, :HKV], v_new=q[:, :HKV], seqlens=sl, k_scale=ks, v_scale=vs, scale_heads=3, kv_dtype=FORMAT, k_cache=k8,
                                               v_cache=v8, cache_stride_b=k8.stride(0), cache_stride_h=k8.stride(1), cache_stride_n=k8.stride(2),
                                               batch=1, num_kv_heads=HKV, head_dim=D, cache_capacity=64, dtype="bf16", stream=0),
                 LimError, "scale_heads (3) must be 1", "lim_fp8_append_kv names a scale count that is neither 1 nor num_kv_heads")
    expect_error(lambda: lim.abi.fp8_decode_attention(q=q, q_stride_b=q.stride(0), q_stride_h=q.stride(1), k_cache=k8[..., 8:], k_stride_b=k8.stride(0),
                                                      k_stride_h=k8.stride(1), k_stride_n=k8.stride(2), v_cache=v8, v_stride_b=v8.stride(0),
                                                      v_stride_h=v8.stride(1), v_stride_n=v8.stride(2), seqlens=sl, out=out, out_stride_b=out.stride(0),
                                                      out_stride_h=out.stride(1), lse=None, logits=None, batch=1, num_q_heads=HQ,
                                                      num_kv_heads=HKV, head_dim=D, cache_capacity=64, max_seqlen=64, k_scale=ks, v_scale=vs,
                                                      scale_heads=1, kv_dtype=FORMAT, dtype="bf16", softmax_scale=SCALE, workspace=ws, workspace_bytes=ws.numel(),
                                                      stream=0),
                 LimError, "must be 16-byte aligned", "an FP8 cache 8 bytes off its 16-byte alignment is refused")


def built(fmt: str) -> bool:
    """Whether the library has the FP8 attention variants of `fmt` this file calls (its workspace query finds them)."""
    try:
        lim.decode_attention_workspace_bytes(1, HQ, HKV, D, 64, torch.bfloat16, cache_dtype=FP8_DTYPES[fmt])
        return True
    except LimError as e:
        if "no generated variant" not in str(e):
            raise
        return False


if NAMED_FORMATS:
    FORMAT_NAMES = NAMED_FORMATS.split(",")
else:
    FORMAT_NAMES = [f for f in FP8_DTYPES if built(f)]
    for f in FP8_DTYPES:
        if f not in FORMAT_NAMES:
            print(f"SKIPPED: {f}: this library has no {f} variants (lim generate --kv-dtypes auto,e4m3,e5m2 makes them; "
                  f"LIM_FP8_FORMATS={f} makes their absence a failure)", flush=True)
    check(len(FORMAT_NAMES) > 0, "the library has FP8 variants of at least one format")
for FORMAT in FORMAT_NAMES:
    if FORMAT not in FP8_DTYPES:
        sys.exit(f"LIM_FP8_FORMATS names '{FORMAT}': use e4m3, e5m2 or both, comma-separated")
    FP8 = FP8_DTYPES[FORMAT]
    FP8_MAX = torch.finfo(FP8).max
    print(f"-- {FORMAT} ({FP8}, largest {FP8_MAX:g})", flush=True)
    full_attention_checks(per_head_scales=False)
    full_attention_checks(per_head_scales=True)
    write_checks()
    gather_checks()
    bad_arguments()
    lim.check_device_status()
print(f"FP8 caches ({', '.join(FORMAT_NAMES)}): every check passed")
