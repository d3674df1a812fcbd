"""Tensor-parallel LessIsMore selection on several GPUs of one host, beside the single-GPU selection.

    python3 -m torch.distributed.run --nproc-per-node 2 bench/tensor_parallel.py [--out bench/results]

B 1 and 8, N 32K and 128K, K 2048, Hq 32 (Qwen3-8B's heads, split evenly over the ranks), r 0.25, S 4. Per
selection layer: the single-GPU selection over all heads (lim_select_lessismore on one GPU), and on every rank
the local keys of its heads, the MIN all-reduce of the key array (NCCL through torch.distributed) and the union.
The target is all-reduce + union within 15 us beyond the single-GPU selection at B 1, 32K. Timing:
python/lessismore/timing.py (CUDA-graph replays, the collective captured too); each measurement starts behind a barrier.
Rank 0 prints the table and writes JSON under --out.
"""

import argparse
import datetime
import json
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from lessismore import Lim, local_heads, select_lessismore_tensor_parallel  # noqa: E402
from lessismore.timing import time_us  # noqa: E402

HQ, BUDGET, RATIO, SINKS = 32, 2048, 0.25, 4


def timed(calls):
    dist.barrier()
    torch.cuda.synchronize()
    us, method = time_us(calls, reps=40)
    return us, method


def bench(lim, rank, world, B, N, device):
    g = torch.Generator(device="cpu").manual_seed(B * 7 + N)
    logits = (torch.randn(B, HQ, N, generator=g) * 4).to(device)
    seqlens = torch.full((B,), N, dtype=torch.int32, device=device)
    first, count = local_heads(HQ, rank, world)
    mine = logits[:, first:first + count].contiguous()
    keys = torch.empty(B, N, dtype=torch.int32, device=device)
    indices = torch.empty(B, BUDGET, dtype=torch.int32, device=device)
    counts = torch.empty(B, dtype=torch.int32, device=device)
    sel = dict(max_seqlen=N, budget=BUDGET, recency_ratio=RATIO, sinks=SINKS)

    ws = lim.select_lessismore_workspace(B, HQ, N, BUDGET, RATIO, SINKS)
    alone = torch.empty_like(indices)
    alone_counts = torch.empty_like(counts)
    row = {"B": B, "N": N, "K": BUDGET, "Hq": HQ, "ranks": world}
    row["single_gpu_us"], row["method"] = timed([lambda: lim.select_lessismore(logits, seqlens, alone, alone_counts, N, BUDGET, RATIO, SINKS, ws)])
    row["local_keys_us"], _ = timed([lambda: lim.select_lessismore_local_keys(mine, seqlens, keys, first, HQ, N, BUDGET, RATIO, SINKS)])
    row["all_reduce_us"], _ = timed([lambda: dist.all_reduce(keys, op=dist.ReduceOp.MIN)])
    row["union_us"], _ = timed([lambda: lim.select_lessismore_union(keys, seqlens, indices, counts, HQ, N, BUDGET, RATIO, SINKS)])
    row["tensor_parallel_us"], _ = timed([lambda: select_lessismore_tensor_parallel(lim, mine, seqlens, head_offset=first, total_q_heads=HQ, keys=keys,
                                                                                   indices=indices, counts=counts, **sel)])
    row["beyond_single_us"] = row["tensor_parallel_us"] - row["single_gpu_us"]
    # The sets of the timed calls: every rank's equal to the single-GPU one.
    select_lessismore_tensor_parallel(lim, mine, seqlens, head_offset=first, total_q_heads=HQ, keys=keys, indices=indices, counts=counts, **sel)
    lim.select_lessismore(logits, seqlens, alone, alone_counts, N, BUDGET, RATIO, SINKS, ws)
    torch.cuda.synchronize()
    same = int(torch.equal(counts, alone_counts) and all(torch.equal(indices[b, :int(counts[b])], alone[b, :int(counts[b])]) for b in range(B)))
    flags = torch.tensor([same], device=device)
    dist.all_reduce(flags, op=dist.ReduceOp.MIN)
    row["sets_equal_on_every_rank"] = bool(flags.item())
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    torch.cuda.set_device(device)
    lim = Lim()
    rows = [bench(lim, rank, world, B, N, device) for B in (1, 8) for N in (32768, 131072)]
    if rank == 0:
        props = torch.cuda.get_device_properties(device)
        print(f"device: {world} x {props.name}; torch {torch.__version__}; liblim {lim.version}; NCCL {torch.cuda.nccl.version()}")
        print(f"\n{'B':>2} {'N':>7} {'single GPU':>11} {'local keys':>11} {'all-reduce':>11} {'union':>7} {'TP total':>9} {'beyond single':>14} {'same sets':>9}")
        for r in rows:
            print(f"{r['B']:>2} {r['N']:>7} {r['single_gpu_us']:>11.1f} {r['local_keys_us']:>11.1f} {r['all_reduce_us']:>11.1f} {r['union_us']:>7.1f} "
                  f"{r['tensor_parallel_us']:>9.1f} {r['beyond_single_us']:>14.1f} {str(r['sets_equal_on_every_rank']):>9}")
        os.makedirs(args.out, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        path = os.path.join(args.out, f"tensor_parallel-{world}x{props.name.replace(' ', '_')}-{stamp}.json")
        json.dump({"device": props.name, "ranks": world, "torch": torch.__version__, "date": stamp, "rows": rows}, open(path, "w"), indent=1)
        print(f"\nwrote {path}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
