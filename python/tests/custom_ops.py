"""The custom operators (torch.ops.lessismore.*) on one GPU: values against float64 references, one graph under
torch.compile(fullgraph=True), CUDA-graph capture, in-place cache writes, errors as exceptions.

    python3 python/tests/custom_ops.py

Exits non-zero naming the first check that fails.
"""

import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lessismore import LimError, PagedKV, ops  # noqa: E402,F401  (importing ops registers torch.ops.lessismore)

L = torch.ops.lessismore
B, HQ, HKV, D, NMAX = 3, 8, 2, 128, 5000
SEQLENS = [4999, 1, 2600]
BUDGET, RATIO, SINKS = 1024, 0.25, 4
SCALE = 1 / math.sqrt(D)


def check(ok: bool, what: str):
    if not ok:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}", flush=True)


def reference(q, k, v, seqlens, sets=None):
    """float64 attention of each request and head over all its tokens, or over sets[b]: (out, lse)."""
    out = torch.empty(q.shape, dtype=torch.float64, device=q.device)
    lse = torch.empty(q.shape[:2], dtype=torch.float64, device=q.device)
    g = HQ // HKV
    for b, n in enumerate(seqlens):
        rows = torch.arange(n, device=q.device) if sets is None else sets[b]
        for h in range(HQ):
            kk, vv = k[b, h // g, rows].double(), v[b, h // g, rows].double()
            s = kk @ q[b, h].double() * SCALE
            lse[b, h] = torch.logsumexp(s, 0)
            out[b, h] = torch.softmax(s, 0) @ vv
    return out, lse


def close(got, want, tol=2e-2):
    return ((got.double() - want).abs().max() / want.abs().max().clamp_min(1e-6)).item() < tol


def main():
    torch.manual_seed(int(os.environ.get("LIM_TEST_SEED", "7")))
    dev = "cuda"
    q = torch.randn(B, HQ, D, device=dev, dtype=torch.bfloat16)
    k = torch.randn(B, HKV, NMAX, D, device=dev, dtype=torch.bfloat16)
    v = torch.randn(B, HKV, NMAX, D, device=dev, dtype=torch.bfloat16)
    seqlens = torch.tensor(SEQLENS, dtype=torch.int32, device=dev)
    for b, n in enumerate(SEQLENS):  # rows past each length poisoned: a read past it shows
        k[b, :, n:] = float("nan")
        v[b, :, n:] = float("nan")

    out, lse = L.decode_attention(q, k, v, seqlens, NMAX, SCALE)
    want, want_lse = reference(q, k, v, SEQLENS)
    check(close(out, want) and close(lse, want_lse, 1e-4), "decode_attention equals the float64 reference (ragged, NaN past the lengths)")

    out2, lse2, logits = L.decode_attention_with_logits(q, k, v, seqlens, NMAX, SCALE)
    check(torch.equal(out2, out) and torch.equal(lse2, lse), "decode_attention_with_logits gives the same output")
    indices, counts = L.select_lessismore(logits, seqlens, NMAX, BUDGET, RATIO, SINKS)
    check(counts.tolist() == [min(BUDGET, n) for n in SEQLENS], "select_lessismore keeps min(budget, n) tokens")
    sets = [indices[b, : counts[b]].long() for b in range(B)]
    check(all(bool((s[1:] > s[:-1]).all()) for s in sets), "select_lessismore's sets are ascending")
    sparse, sparse_lse = L.sparse_attention(q, k, v, seqlens, indices, counts, NMAX, SCALE)
    want_sparse, want_sparse_lse = reference(q, k, v, SEQLENS, sets)
    check(close(sparse, want_sparse) and close(sparse_lse, want_sparse_lse, 1e-4), "sparse_attention equals the float64 reference over the set")
    recall = L.attention_recall(logits, lse, indices, counts)
    check(bool((recall > 0).all() and (recall <= 1.0001).all()) and bool((recall[1] > 0.9999).all()), "attention_recall is in (0, 1], 1 for a full set")

    ph_idx, ph_counts = L.select_per_head(logits, seqlens, NMAX, BUDGET)
    ph_out, _ = L.sparse_attention_per_head(q, k, v, seqlens, ph_idx, ph_counts, NMAX, SCALE)
    check(bool(torch.isfinite(ph_out.float()).all()), "select_per_head + sparse_attention_per_head run")

    values = torch.randn(4, 3000, device=dev)
    idx, picked = L.topk(values, 64)
    check(torch.equal(picked, torch.topk(values, 64, dim=-1).values), "topk's values equal torch.topk's")

    k_new = torch.randn(B, HKV, D, device=dev, dtype=torch.bfloat16)
    v_new = torch.randn(B, HKV, D, device=dev, dtype=torch.bfloat16)
    k2, v2 = k.clone(), v.clone()
    L.append_kv(k2, v2, k_new, v_new, seqlens)
    check(all(torch.equal(k2[b, :, n - 1], k_new[b]) and torch.equal(v2[b, :, n - 1], v_new[b]) for b, n in enumerate(SEQLENS)), "append_kv writes in place")

    try:
        L.select_lessismore(logits, seqlens, NMAX, 5, RATIO, SINKS)
        check(False, "a budget below sinks + 2 raises")
    except RuntimeError as e:
        check("budget 5 must be at least sinks + 2" in str(e), f"a bad budget raises the library's message ({e})")

    # A LessIsMore step: a selection layer and the sparse layer after it, as one compiled graph.
    def step(q, k, v, seqlens):
        _, _, z = L.decode_attention_with_logits(q, k, v, seqlens, NMAX, SCALE)
        idx, cnt = L.select_lessismore(z, seqlens, NMAX, BUDGET, RATIO, SINKS)
        o, _ = L.sparse_attention(q, k, v, seqlens, idx, cnt, NMAX, SCALE)
        return o * 2

    eager = step(q, k, v, seqlens)
    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True)
    check(torch.equal(compiled(q, k, v, seqlens), eager), "torch.compile(fullgraph=True) keeps one graph and the same output")

    static = [t.clone() for t in (q, k, v, seqlens)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        step(*static)  # warm-up: the workspaces exist before the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step(*static)
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    check(torch.equal(captured, eager), "a captured CUDA graph replays to the eager output (three replays)")
    paged_ops(q, k, v, seqlens, out, lse, logits, indices, counts, sparse)
    ops.library().check_device_status()
    print("custom operators: every check passed")


def paged_ops(q, k, v, seqlens, out, lse, logits, indices, counts, sparse):
    """The paged operators on the same data in pages of 16 (shuffled): the contiguous operators' results."""
    cache = PagedKV.from_contiguous(k, v, 16)
    kp, vp, table = cache.k, cache.v, cache.block_table
    pout, plse = L.paged_decode_attention(q, kp, vp, table, seqlens, NMAX, SCALE)
    check(close(pout, out.double(), 1e-2) and close(plse, lse.double(), 1e-4), "paged_decode_attention gives decode_attention's output")
    _, _, plogits = L.paged_decode_attention_with_logits(q, kp, vp, table, seqlens, NMAX, SCALE)
    valid = torch.cat([plogits[b, :, :n].flatten() - logits[b, :, :n].flatten() for b, n in enumerate(SEQLENS)]).abs().max().item()
    check(valid < 1e-3, "paged_decode_attention_with_logits gives the same logits")
    psparse, _ = L.paged_sparse_attention(q, kp, vp, table, seqlens, indices, counts, NMAX, SCALE)
    padded = indices.clone()
    for b in range(B):
        padded[b, counts[b]:] = -1
    pnocount, _ = L.paged_sparse_attention(q, kp, vp, table, seqlens, padded, None, NMAX, SCALE)
    check(close(psparse, sparse.double(), 1e-2) and close(pnocount, sparse.double(), 1e-2),
          "paged_sparse_attention gives sparse_attention's output, with counts and with lists padded with -1")

    new_k = torch.randn(2, HKV, D, device=q.device, dtype=q.dtype)
    slots = torch.tensor([3, 16 * 5 + 2], dtype=torch.int32, device=q.device)
    kp2, vp2 = kp.clone(), vp.clone()
    L.write_kv_slots(new_k, new_k, slots, kp2, vp2)
    check(torch.equal(kp2[0, 3], new_k[0]) and torch.equal(vp2[5, 2], new_k[1]), "write_kv_slots writes the pools in place")

    def step(q, kp, vp, table, seqlens):
        _, _, z = L.paged_decode_attention_with_logits(q, kp, vp, table, seqlens, NMAX, SCALE)
        idx, cnt = L.select_lessismore(z, seqlens, NMAX, BUDGET, RATIO, SINKS)
        o, _ = L.paged_sparse_attention(q, kp, vp, table, seqlens, idx, cnt, NMAX, SCALE)
        return o

    eager = step(q, kp, vp, table, seqlens)
    torch._dynamo.reset()
    check(torch.equal(torch.compile(step, fullgraph=True)(q, kp, vp, table, seqlens), eager),
          "a paged LessIsMore step under torch.compile(fullgraph=True) keeps one graph and the same output")


if __name__ == "__main__":
    main()
