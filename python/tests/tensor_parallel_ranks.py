"""Two or more processes, one GPU each: the tensor-parallel LessIsMore set is bit-identical on every rank and
equal to the single-GPU set, for 100 random steps (ragged batches, ties, budgets above some lengths).

    python3 -m torch.distributed.run --nproc-per-node 2 python/tests/tensor_parallel_ranks.py [--steps 100]

Every rank draws the same logits of all heads from the step's seed, selects with its own heads through the
collective, and also selects alone over all heads with lim_select_lessismore (the single-GPU reference).
Exits non-zero on the first difference, naming the step, rank and request.
"""

import argparse
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lessismore import Lim, local_heads, select_lessismore_tensor_parallel  # noqa: E402


def draw(step: int, device):
    """The step's problem, the same on every rank: (logits of all heads, seqlens, max_seqlen, heads, budget)."""
    g = torch.Generator(device="cpu").manual_seed(1000 + step)
    heads = [8, 16, 32, 64][step % 4]
    budget = [64, 256, 1024, 2048][(step // 4) % 4]
    batch = 1 + step % 5
    max_seqlen = int(torch.randint(budget // 2, 6 * budget, (1,), generator=g))
    seqlens = torch.randint(1, max_seqlen + 1, (batch,), generator=g, dtype=torch.int32)
    seqlens[0] = max_seqlen
    logits = torch.randn(batch, heads, max_seqlen, generator=g) * 4
    if step % 3 == 0:
        logits = torch.round(logits * 2) / 2  # heavy ties
    return logits.to(device), seqlens.to(device), max_seqlen, heads, budget


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    torch.cuda.set_device(device)
    lim = Lim()
    for step in range(args.steps):
        logits, seqlens, max_seqlen, heads, budget = draw(step, device)
        batch = logits.shape[0]
        sel = dict(max_seqlen=max_seqlen, budget=budget, recency_ratio=0.25, sinks=4)
        first, count = local_heads(heads, rank, world)
        mine = logits[:, first:first + count].contiguous()
        indices, counts = select_lessismore_tensor_parallel(lim, mine, seqlens, head_offset=first, total_q_heads=heads, **sel)

        alone = torch.full((batch, budget), -7, dtype=torch.int32, device=device)
        alone_counts = torch.empty(batch, dtype=torch.int32, device=device)
        ws = lim.select_lessismore_workspace(batch, heads, max_seqlen, budget, 0.25, 4)
        lim.select_lessismore(logits, seqlens, alone, alone_counts, max_seqlen, budget, 0.25, 4, ws)
        lim.check_device_status()

        every = [torch.empty_like(indices) for _ in range(world)]
        dist.all_gather(every, indices)
        every_counts = [torch.empty_like(counts) for _ in range(world)]
        dist.all_gather(every_counts, counts)
        for b in range(batch):
            n = int(alone_counts[b])
            for r in range(world):
                if int(every_counts[r][b]) != n or not torch.equal(every[r][b, :n], alone[b, :n]):
                    sys.exit(f"step {step}: rank {r}'s set of request {b} (n {int(seqlens[b])}, {heads} heads, budget {budget}) differs from the single-GPU set")
    if rank == 0:
        print(f"tensor-parallel selection over {world} GPUs: {args.steps} steps, every rank's set equal to the single-GPU set", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
