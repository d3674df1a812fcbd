"""LessIsMore's token selection under tensor parallelism (docs/tensor-parallel.md).

Each GPU holds some of the query heads. LessIsMore's set depends on every head's picks, but only through the
first-occurrence key of each token (the smallest rank * Hq + h over the heads h that picked it, with global
head indices), so: each GPU computes the keys of its own heads, an element-wise MIN all-reduce over the
process group combines them, and the union then runs identically on every GPU. The sets are the single-GPU
set, bit for bit, on every rank. The collective is torch.distributed's (NCCL on GPUs); liblim links no
communication library.
"""

import torch
import torch.distributed as dist

from .library import Lim


def select_lessismore_tensor_parallel(lim: Lim, logits, seqlens, *, head_offset: int, total_q_heads: int, max_seqlen: int, budget: int,
                                      recency_ratio: float = 0.25, sinks: int = 4, group=None, keys=None, indices=None, counts=None):
    """The LessIsMore set of every request from this rank's heads and the group's collective.

    logits: float32 [B, local heads, >= max_seqlen], this rank's heads, global indices head_offset onwards
    (the logits output of lim_decode_attention on this rank's heads); seqlens: int32 [B].
    keys ([B, >= max_seqlen] int32), indices ([B, >= budget] int32) and counts ([B] int32) are allocated when
    not given (give them to capture the call in a CUDA graph). Returns (indices, counts), the same on every rank.
    """
    batch = logits.shape[0]
    if keys is None:
        keys = torch.empty(batch, max_seqlen, dtype=torch.int32, device=logits.device)
    if keys.dtype != torch.int32:
        raise TypeError(f"keys must be int32 (the all-reduce takes the minimum over int32), got {keys.dtype}")
    if indices is None:
        indices = torch.empty(batch, budget, dtype=torch.int32, device=logits.device)
    if counts is None:
        counts = torch.empty(batch, dtype=torch.int32, device=logits.device)
    lim.select_lessismore_local_keys(logits, seqlens, keys, head_offset, total_q_heads, max_seqlen, budget, recency_ratio, sinks)
    # "No pick" is 0x7f7f7f7f: above every key and positive as int32, so the int32 minimum is the uint32 one.
    dist.all_reduce(keys, op=dist.ReduceOp.MIN, group=group)
    lim.select_lessismore_union(keys, seqlens, indices, counts, total_q_heads, max_seqlen, budget, recency_ratio, sinks)
    return indices, counts


def local_heads(total_heads: int, rank: int, world_size: int) -> tuple[int, int]:
    """(first global head, count) of `rank` when total_heads are split evenly over world_size ranks."""
    if total_heads % world_size != 0:
        raise ValueError(f"{total_heads} heads do not split evenly over {world_size} ranks: tensor parallelism needs a divisor of the head count")
    count = total_heads // world_size
    return rank * count, count
