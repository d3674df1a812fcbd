"""A LessIsMore selection layer and the sparse layer after it, with the heads sharded by hand over GPUs.

    python3 -m torch.distributed.run --nproc-per-node 2 python/examples/tensor_parallel_layer.py

What an engine with tensor parallelism does: rank r holds query heads [r * Hq/R, (r+1) * Hq/R) and their KV
heads, here of Qwen3-8B's shape (Hq 32, Hkv 8, head dim 128, bf16) with a 32K-token cache.

1. Selection layer: decode attention over this rank's heads, also writing their logits.
2. The shared token set: local keys, MIN all-reduce over the process group, union (identical on every rank).
3. The next layer: sparse attention over the set, this rank's heads only.

Rank 0 then checks the gathered outputs of all heads against the same two layers run on one GPU.
"""

import math
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lessismore import Lim, local_heads, select_lessismore_tensor_parallel  # noqa: E402

B, HQ, HKV, D, N, BUDGET = 1, 32, 8, 128, 32768, 2048


def layer_inputs(seed, device):
    """q [B, HQ, D] and the K/V caches [B, HKV, N, D] of one layer, the same on every rank."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    q = torch.randn(B, HQ, D, generator=g).to(device, torch.bfloat16)
    k = torch.randn(B, HKV, N, D, generator=g).to(device, torch.bfloat16)
    v = torch.randn(B, HKV, N, D, generator=g).to(device, torch.bfloat16)
    return q, k, v


def two_layers(lim, q0, k0, v0, q1, k1, v1, seqlens, select):
    """Selection layer then sparse layer over the heads given; `select(logits)` returns (indices, counts)."""
    b, hq, d = q0.shape
    scale = 1 / math.sqrt(d)
    ws = lim.decode_attention_workspace(b, hq, k0.shape[1], d, N, q0.dtype)
    out0 = torch.empty_like(q0)
    logits = torch.empty(b, hq, N, dtype=torch.float32, device=q0.device)
    lim.decode_attention(q0, k0, v0, seqlens, out0, None, N, scale, ws, logits=logits)
    indices, counts = select(logits)
    out1 = torch.empty_like(q1)
    sws = lim.sparse_attention_workspace(b, hq, k1.shape[1], d, BUDGET, q1.dtype, 0)
    lim.sparse_attention(q1, k1, v1, seqlens, indices, counts, out1, N, scale, sws)
    return out0, out1, indices, counts


def main():
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    torch.cuda.set_device(device)
    lim = Lim()
    seqlens = torch.full((B,), N, dtype=torch.int32, device=device)
    (q0, k0, v0), (q1, k1, v1) = layer_inputs(1, device), layer_inputs(2, device)

    # This rank's shard: its query heads and the KV heads they read.
    first, count = local_heads(HQ, rank, world)
    kv_first, kv_count = local_heads(HKV, rank, world)
    shard = lambda t, a, n: t[:, a:a + n].contiguous()  # noqa: E731
    select = lambda logits: select_lessismore_tensor_parallel(lim, logits, seqlens, head_offset=first, total_q_heads=HQ, max_seqlen=N, budget=BUDGET)  # noqa: E731
    out0, out1, indices, counts = two_layers(lim, shard(q0, first, count), shard(k0, kv_first, kv_count), shard(v0, kv_first, kv_count),
                                             shard(q1, first, count), shard(k1, kv_first, kv_count), shard(v1, kv_first, kv_count), seqlens, select)
    lim.check_device_status()
    gathered = [torch.empty_like(out1) for _ in range(world)]
    dist.all_gather(gathered, out1)

    if rank == 0:
        ws = lim.select_lessismore_workspace(B, HQ, N, BUDGET, 0.25, 4)

        def select_alone(logits):
            idx = torch.empty(B, BUDGET, dtype=torch.int32, device=device)
            cnt = torch.empty(B, dtype=torch.int32, device=device)
            lim.select_lessismore(logits, seqlens, idx, cnt, N, BUDGET, 0.25, 4, ws)
            return idx, cnt

        _, want1, want_idx, want_cnt = two_layers(lim, q0, k0, v0, q1, k1, v1, seqlens, select_alone)
        lim.check_device_status()
        same_set = torch.equal(counts, want_cnt) and torch.equal(indices[0, :int(counts[0])], want_idx[0, :int(want_cnt[0])])
        got1 = torch.cat(gathered, dim=1).float()
        err = ((got1 - want1.float()).abs().max() / want1.float().abs().max()).item()
        print(f"{world} ranks x {count} query heads: shared set equal to the single-GPU set: {same_set}; "
              f"sparse layer output vs one GPU: max error {err:.2e} of the largest value")
        if not same_set or err > 1e-2:
            sys.exit("the sharded layers differ from the single-GPU layers")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
