"""Paged K/V caches on one GPU: every paged function against float64 references and the contiguous functions,
pages in shuffled order (NHD and HND, page sizes 1, 16 and 64, the pool's other pages poisoned with NaN), lists
padded with -1, vLLM's slot write, bad block tables and slots reported through the device status, host-side
argument errors, SGLang's req_to_token read in place through req_pool_indices, and one CUDA graph replayed after
lengths, block tables and lists changed in place.

    python3 python/tests/paged_caches.py        (LIM_TEST_SEED=n repeats a run)

Exits non-zero naming the first check that fails.
"""

import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lessismore import Lim, LimError, PagedKV  # noqa: E402

SEED = int(os.environ.get("LIM_TEST_SEED", random.randrange(1 << 30)))
torch.manual_seed(SEED)
print(f"LIM_TEST_SEED={SEED}", flush=True)
lim = Lim()
HKV, G, D = 2, 4, 128
HQ = HKV * G
SCALE = 1 / math.sqrt(D)
TOLERANCE = {torch.bfloat16: 1e-2, torch.float16: 5e-3}


def check(ok: bool, what: str):
    if not ok:
        sys.exit(f"FAILED: {what} (LIM_TEST_SEED={SEED})")
    print(f"ok: {what}", flush=True)


def expect_error(call, pattern: str, what: str):
    try:
        call()
    except LimError as e:
        check(pattern in str(e), f"{what}: {e}")
        return
    check(False, f"{what}: no error")


def relative_error(got, ref):
    return ((got.double() - ref).norm() / ref.norm()).item()


def reference(q, k, v, seqlens, rows=None):
    """float64 attention over each request's tokens, or over rows(b, h): (out, lse, logits of all tokens)."""
    B = q.shape[0]
    out = torch.zeros(q.shape, dtype=torch.float64, device="cuda")
    lse = torch.zeros(q.shape[:2], dtype=torch.float64, device="cuda")
    logits = torch.zeros(B, HQ, k.shape[2], dtype=torch.float64, device="cuda")
    for b, n in enumerate(seqlens):
        for h in range(HQ):
            s_all = k[b, h // G, :n].double() @ q[b, h].double() * SCALE
            logits[b, h, :n] = s_all
            sel = torch.arange(n, device="cuda") if rows is None else torch.as_tensor(rows(b, h), device="cuda")
            s = s_all[sel]
            lse[b, h] = torch.logsumexp(s, 0)
            out[b, h] = torch.softmax(s, 0) @ v[b, h // G, sel].double()
    return out, lse, logits


def paged_copy(k, v, page, layout, spare=5):
    """k, v [B, Hkv, N, D] in pools of pages in shuffled order, with spare pages of NaN that no table names."""
    return PagedKV.from_contiguous(k, v, page, layout, spare_pages=spare, fill=float("nan"))


def problem(dtype, seqlens, capacity):
    B = len(seqlens)
    q = torch.randn(B, HQ, D, dtype=dtype, device="cuda")
    k = torch.randn(B, HKV, capacity, D, dtype=dtype, device="cuda")
    v = torch.randn(B, HKV, capacity, D, dtype=dtype, device="cuda")
    return q, k, v, torch.tensor(seqlens, dtype=torch.int32, device="cuda")


def full_attention(q, caches, seqlens, max_seqlen, logits=False):
    paged = isinstance(caches[0], PagedKV)
    out = torch.full_like(q, float("nan"))
    lse = torch.full(q.shape[:2], float("nan"), device="cuda")
    lg = torch.full((q.shape[0], HQ, max_seqlen), float("nan"), device="cuda") if logits else None
    ws = lim.decode_attention_workspace(q.shape[0], HQ, HKV, D, max_seqlen, q.dtype, paged=paged)
    lim.decode_attention(q, caches[0], caches[1], seqlens, out, lse, max_seqlen, SCALE, ws, logits=lg)
    lim.check_device_status()
    return out, lse, lg


def test_full_attention():
    seqlens = [5000, 1, 2600, 17]
    for dtype in (torch.bfloat16, torch.float16):
        q, k, v, sl = problem(dtype, seqlens, 5000)
        ref_out, ref_lse, ref_logits = reference(q, k, v, seqlens)
        for layout in ("NHD", "HND"):
            for page in (16, 1, 64):
                if dtype == torch.float16 and (layout, page) != ("NHD", 16):
                    continue  # fp16 once; the layouts and page sizes in bf16
                cache = paged_copy(k, v, page, layout)
                out, lse, logits = full_attention(q, (cache, None), sl, 5000, logits=page == 16)
                what = f"full attention, {layout} pages of {page}, {dtype}"
                check(relative_error(out, ref_out) < TOLERANCE[dtype], f"{what}: output within {TOLERANCE[dtype]} of float64")
                check(relative_error(lse, ref_lse) < 1e-4, f"{what}: lse")
                if logits is not None:
                    rows = [(b, n) for b, n in enumerate(seqlens)]
                    err = max(relative_error(logits[b, :, :n], ref_logits[b, :, :n]) for b, n in rows)
                    check(err < 1e-4, f"{what}: selection logits of every token")
        contiguous, _, _ = full_attention(q, (k, v), sl, 5000)
        paged, _, _ = full_attention(q, (paged_copy(k, v, 16, "NHD"), None), sl, 5000)
        check(relative_error(paged, contiguous.double()) < 2e-3, f"paged and contiguous caches agree ({dtype})")


def test_sparse_attention():
    seqlens = [4000, 300, 2048]
    q, k, v, sl = problem(torch.bfloat16, seqlens, 4000)
    max_count = 1024
    lists = [sorted(random.sample(range(n), min(n, c))) for n, c in zip(seqlens, (1024, 299, 1))]
    indices = torch.full((len(seqlens), max_count), -1, dtype=torch.int32, device="cuda")
    for b, rows in enumerate(lists):
        indices[b, : len(rows)] = torch.tensor(rows, dtype=torch.int32)
    counts = torch.tensor([len(r) for r in lists], dtype=torch.int32, device="cuda")
    ref_out, ref_lse, _ = reference(q, k, v, seqlens, lambda b, h: lists[b])
    for layout, page in (("NHD", 16), ("HND", 32), ("NHD", 1)):
        cache = paged_copy(k, v, page, layout)
        for with_counts in (True, False):
            out = torch.full_like(q, float("nan"))
            lse = torch.full(q.shape[:2], float("nan"), device="cuda")
            ws = lim.sparse_attention_workspace(len(seqlens), HQ, HKV, D, max_count, q.dtype, 0, paged=True)
            lim.sparse_attention(q, cache, None, sl, indices, counts if with_counts else None, out, 4000, SCALE, ws, lse=lse)
            lim.check_device_status()
            what = f"sparse attention over shared lists, {layout} pages of {page}, " + ("with counts" if with_counts else "lists padded with -1, no counts")
            check(relative_error(out, ref_out) < 1e-2 and relative_error(lse, ref_lse) < 1e-4, what)
    # One list per query head.
    per_head = [[sorted(random.sample(range(n), random.randint(1, min(n, max_count)))) for _ in range(HQ)] for n in seqlens]
    idx = torch.full((len(seqlens), HQ, max_count), -1, dtype=torch.int32, device="cuda")
    for b in range(len(seqlens)):
        for h in range(HQ):
            idx[b, h, : len(per_head[b][h])] = torch.tensor(per_head[b][h], dtype=torch.int32)
    cnt = torch.tensor([[len(x) for x in r] for r in per_head], dtype=torch.int32, device="cuda")
    ref_out, _, _ = reference(q, k, v, seqlens, lambda b, h: per_head[b][h])
    cache = paged_copy(k, v, 16, "HND")
    for with_counts in (True, False):
        out = torch.full_like(q, float("nan"))
        ws = lim.sparse_attention_workspace(len(seqlens), HQ, HKV, D, max_count, q.dtype, 1, paged=True)
        lim.sparse_attention_per_head(q, cache, None, sl, idx, cnt if with_counts else None, out, 4000, SCALE, ws)
        lim.check_device_status()
        check(relative_error(out, ref_out) < 1e-2, "sparse attention over per-head lists, HND pages of 16" + ("" if with_counts else ", lists padded with -1"))
    return q, k, v, sl, lists, indices, counts


def test_gather_append_write():
    seqlens = [3000, 77]
    q, k, v, sl = problem(torch.bfloat16, seqlens, 3000)
    cache = paged_copy(k, v, 16, "NHD")
    lists = [sorted(random.sample(range(n), 64)) for n in seqlens]
    indices = torch.tensor(lists, dtype=torch.int32, device="cuda")
    counts = torch.full((2,), 64, dtype=torch.int32, device="cuda")
    out_k = torch.zeros(2, HKV, 64, D, dtype=k.dtype, device="cuda")
    out_v = torch.zeros_like(out_k)
    lim.gather_kv(cache, None, sl, indices, counts, out_k, out_v, 3000)
    lim.check_device_status()
    want_k = torch.stack([k[b][:, lists[b]] for b in range(2)])
    want_v = torch.stack([v[b][:, lists[b]] for b in range(2)])
    check(torch.equal(out_k, want_k) and torch.equal(out_v, want_v), "gather from pages copies exactly the listed rows")

    # Append the token at position seqlens[b] - 1 through the block table, then read it back from its page.
    k_new = torch.randn(2, HKV, D, dtype=k.dtype, device="cuda")
    v_new = torch.randn_like(k_new)
    grown = torch.tensor([3000, 78], dtype=torch.int32, device="cuda")
    lim.append_kv(cache, None, k_new, v_new, grown)
    lim.check_device_status()
    ok = True
    for b, n in enumerate([3000, 78]):
        page, slot = cache.block_table[b, (n - 1) // 16].item(), (n - 1) % 16
        ok &= torch.equal(cache.k[page, slot], k_new[b]) and torch.equal(cache.v[page, slot], v_new[b])
    check(ok, "append writes the new token into its page through the block table")

    # vLLM's slot write: tokens to chosen slots, -1 skipped.
    slots = torch.tensor([5, -1, 16 * 7 + 3, 16 * 40 + 15], dtype=torch.int32, device="cuda")
    t_k = torch.randn(4, HKV, D, dtype=k.dtype, device="cuda")
    t_v = torch.randn_like(t_k)
    before = cache.k.clone()
    lim.write_kv_slots(t_k, t_v, slots, cache)
    lim.check_device_status()
    expected = before.clone()
    for t, s in enumerate(slots.tolist()):
        if s >= 0:
            expected[s // 16, s % 16] = t_k[t]
    check(torch.equal(cache.k.nan_to_num(7.0), expected.nan_to_num(7.0)), "slot writes land at page slot // 16, position slot % 16, and -1 writes nothing")


def test_token_pool_in_place():
    """SGLang's token pool read in place: pools of one-token pages, req_to_token [pool rows, max_context] with more
    rows than the batch, and req_pool_indices naming each request's row; the outputs equal the one-row-per-request
    table's exactly. A row outside the table is reported, never read; too few rows without req_pool_indices is
    refused on the host."""
    seqlens = [900, 2500, 33]
    B = len(seqlens)
    q, k, v, sl = problem(torch.bfloat16, seqlens, 2600)  # room for the appended token
    cache = paged_copy(k, v, 1, "NHD")  # one row per request: the reference
    pool_rows = 7
    req_pool_indices = torch.tensor([5, 0, 3], dtype=torch.int32, device="cuda")
    req_to_token = torch.full((pool_rows, cache.block_table.shape[1]), -1, dtype=torch.int32, device="cuda")  # other rows unused
    req_to_token[req_pool_indices.long()] = cache.block_table
    sglang = PagedKV(cache.k, cache.v, req_to_token, "NHD", table_rows=req_pool_indices)
    want, want_lse, want_logits = full_attention(q, (cache, None), sl, 2500, logits=True)
    got, got_lse, got_logits = full_attention(q, (sglang, None), sl, 2500, logits=True)
    same_logits = all(torch.equal(got_logits[b, :, :n], want_logits[b, :, :n]) for b, n in enumerate(seqlens))  # past n: NaN, never written
    check(torch.equal(got, want) and torch.equal(got_lse, want_lse) and same_logits,
          "full attention over req_to_token rows named by req_pool_indices equals a table of one row per request, logits too")
    lists = [sorted(random.sample(range(n), min(n, 512))) for n in seqlens]
    indices = torch.full((B, 512), -1, dtype=torch.int32, device="cuda")
    for b, rows in enumerate(lists):
        indices[b, : len(rows)] = torch.tensor(rows, dtype=torch.int32)
    ws = lim.sparse_attention_workspace(B, HQ, HKV, D, 512, q.dtype, 0, paged=True)
    outs = []
    for c in (cache, sglang):
        out = torch.full_like(q, float("nan"))
        lim.sparse_attention(q, c, None, sl, indices, None, out, 2500, SCALE, ws)
        lim.check_device_status()
        outs.append(out)
    check(torch.equal(outs[0], outs[1]), "sparse attention over req_to_token in place equals the per-request table")
    # The new token written through the same rows lands where the per-request table puts it.
    grown = sl + 1
    k_new = torch.randn(B, HKV, D, dtype=k.dtype, device="cuda")
    lim.append_kv(sglang, None, k_new, k_new, grown)
    lim.check_device_status()
    slots = cache.block_table[torch.arange(B, device="cuda"), sl.long()].long()  # page of one token = slot
    check(torch.equal(cache.k[slots, 0], k_new), "append_kv through req_pool_indices writes each request's next slot")

    bad_rows = torch.tensor([5, pool_rows, 3], dtype=torch.int32, device="cuda")
    broken = PagedKV(cache.k, cache.v, req_to_token, "NHD", table_rows=bad_rows)
    full_attention_ws = lim.decode_attention_workspace(B, HQ, HKV, D, 2500, q.dtype, paged=True)
    out = torch.empty_like(q)
    lim.decode_attention(q, broken, None, sl, out, None, 2500, SCALE, full_attention_ws)
    expect_error(lim.check_device_status, "block table of request 1 names no page of the pool", "a req_pool_indices row outside req_to_token is reported")
    short = PagedKV(cache.k, cache.v, req_to_token[:2], "NHD")
    expect_error(lambda: lim.decode_attention(q, short, None, sl, out, None, 2500, SCALE, full_attention_ws),
                 "num_table_rows (2) rows, fewer than batch (3)", "a table of fewer rows than requests without req_pool_indices is refused on the host")


def test_bad_input():
    seqlens = [100, 40]
    q, k, v, sl = problem(torch.bfloat16, seqlens, 128)
    cache = paged_copy(k, v, 16, "NHD")
    bad = cache.block_table.clone()
    bad[1, 1] = cache.k.shape[0] + 3
    broken = PagedKV(cache.k, cache.v, bad, "NHD")
    out = torch.empty_like(q)
    ws = lim.decode_attention_workspace(2, HQ, HKV, D, 128, q.dtype, paged=True)
    lim.decode_attention(q, broken, None, sl, out, None, 128, SCALE, ws)
    expect_error(lim.check_device_status, "block table of request 1 names no page of the pool for position", "a block table entry past the pool is reported")
    bad[1, 1] = -1
    lim.decode_attention(q, broken, None, sl, out, None, 128, SCALE, ws)
    expect_error(lim.check_device_status, "names no page of the pool", "an unallocated (-1) page is reported")
    # One list per query head: every head block reads its own positions, and each reports a missing page.
    only_late = torch.full((2, HQ, 4), -1, dtype=torch.int32, device="cuda")
    only_late[:, :, 0] = 0
    only_late[1, HQ - 1, 1] = 20  # only the last head of request 1 reads position 20 (the page broken above)
    ws_heads = lim.sparse_attention_workspace(2, HQ, HKV, D, 4, q.dtype, 1, paged=True)
    lim.sparse_attention_per_head(q, broken, None, sl, only_late, None, out, 128, SCALE, ws_heads)
    expect_error(lim.check_device_status, "block table of request 1 names no page of the pool for position 20",
                 "a missing page read only by the last head's list is reported")
    # The same call on good tables still works afterwards (the context survived).
    out2, _, _ = full_attention(q, (cache, None), sl, 128)
    check(relative_error(out2, reference(q, k, v, seqlens)[0]) < 1e-2, "after the reports, the next call is correct")

    slots = torch.tensor([cache.k.shape[0] * 16 + 1], dtype=torch.int32, device="cuda")
    new = torch.randn(1, HKV, D, dtype=k.dtype, device="cuda")
    lim.write_kv_slots(new, new, slots, cache)
    expect_error(lim.check_device_status, "slot_mapping[0] =", "a slot past the pool is reported")

    try:
        lim.write_kv_slots(new, new, slots.long(), cache)
        check(False, "an int64 slot mapping is refused")
    except TypeError as e:
        check("slot_mapping must be a contiguous int32" in str(e), f"an int64 slot mapping (vLLM's) is refused, saying how to convert it: {e}")
    try:
        lim.decode_attention(q.half(), cache, None, sl, out.half(), None, 128, SCALE, ws)
        check(False, "fp16 queries over bf16 pools are refused")
    except TypeError as e:
        check("must match" in str(e), f"queries and pools of different dtypes are refused: {e}")
    narrow = PagedKV(cache.k, cache.v, cache.block_table[:, :2], "NHD")  # room for 32 positions
    expect_error(lambda: lim.decode_attention(q, narrow, None, sl, out, None, 128, SCALE, ws), "must be at most max_pages_per_seq (2) * page_size (16)",
                 "max_seqlen beyond the block table's pages is refused on the host")
    odd = PagedKV(torch.zeros(8, 12, HKV, D, dtype=k.dtype, device="cuda"), torch.zeros(8, 12, HKV, D, dtype=k.dtype, device="cuda"),
                  cache.block_table[:, :1].contiguous(), "NHD")
    expect_error(lambda: lim.decode_attention(q, odd, None, torch.ones(2, dtype=torch.int32, device="cuda"), out, None, 12, SCALE, ws),
                 "page_size (12) must be a power of two", "a page size that is not a power of two is refused")


def test_graph_replay():
    """Capture once; change lengths, block tables and lists (shared and per head) in place; replay; compare."""
    B, capacity, max_count = 2, 2048, 256
    q, k, v, sl = problem(torch.bfloat16, [2048, 1000], capacity)
    cache = paged_copy(k, v, 16, "NHD", spare=64)
    indices = torch.full((B, max_count), -1, dtype=torch.int32, device="cuda")
    head_indices = torch.full((B, HQ, max_count), -1, dtype=torch.int32, device="cuda")
    out_full = torch.empty_like(q)
    out_sparse = torch.empty_like(q)
    out_head = torch.empty_like(q)
    ws_full = lim.decode_attention_workspace(B, HQ, HKV, D, capacity, q.dtype, paged=True)
    ws_sparse = lim.sparse_attention_workspace(B, HQ, HKV, D, max_count, q.dtype, 0, paged=True)
    ws_head = lim.sparse_attention_workspace(B, HQ, HKV, D, max_count, q.dtype, 1, paged=True)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream):
        lim.decode_attention(q, cache, None, sl, out_full, None, capacity, SCALE, ws_full)  # warm-up outside capture
        with torch.cuda.graph(graph, stream=stream):
            lim.decode_attention(q, cache, None, sl, out_full, None, capacity, SCALE, ws_full)
            lim.sparse_attention(q, cache, None, sl, indices, None, out_sparse, capacity, SCALE, ws_sparse)
            lim.sparse_attention_per_head(q, cache, None, sl, head_indices, None, out_head, capacity, SCALE, ws_head)
    torch.cuda.current_stream().wait_stream(stream)
    for step in range(3):
        seqlens = [random.randint(1, capacity), random.randint(1, capacity)]
        sl.copy_(torch.tensor(seqlens, dtype=torch.int32))
        # Move every request to new pages (a fresh shuffle) and write the table in place.
        fresh = paged_copy(k, v, 16, "NHD", spare=64)
        cache.k.copy_(fresh.k)
        cache.v.copy_(fresh.v)
        cache.block_table.copy_(fresh.block_table)
        lists = [sorted(random.sample(range(n), min(n, random.randint(1, max_count)))) for n in seqlens]
        head_lists = [[sorted(random.sample(range(n), min(n, random.randint(1, max_count)))) for _ in range(HQ)] for n in seqlens]
        indices.fill_(-1)
        head_indices.fill_(-1)
        for b, rows in enumerate(lists):
            indices[b, : len(rows)] = torch.tensor(rows, dtype=torch.int32)
            for h, head_rows in enumerate(head_lists[b]):
                head_indices[b, h, : len(head_rows)] = torch.tensor(head_rows, dtype=torch.int32)
        graph.replay()
        torch.cuda.synchronize()
        lim.check_device_status()
        ref_full = reference(q, k, v, seqlens)[0]
        ref_sparse = reference(q, k, v, seqlens, lambda b, h: lists[b])[0]
        ref_head = reference(q, k, v, seqlens, lambda b, h: head_lists[b][h])[0]
        check(relative_error(out_full, ref_full) < 1e-2 and relative_error(out_sparse, ref_sparse) < 1e-2 and relative_error(out_head, ref_head) < 1e-2,
              f"graph replay {step}: new lengths {seqlens}, new block tables, shared and per-head lists, every output right")


test_full_attention()
test_sparse_attention()
test_gather_append_write()
test_token_pool_in_place()
test_bad_input()
test_graph_replay()
print("paged caches: all checks passed")
