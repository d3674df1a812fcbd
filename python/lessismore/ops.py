"""liblim's kernels as PyTorch custom operators (torch.ops.lessismore.*).

Each operator calls the C ABI on PyTorch's current stream, allocates its outputs with PyTorch's allocator,
and has a fake (meta) implementation, so torch.compile(fullgraph=True) traces through it without a graph
break, and CUDA graphs capture it. A bad argument raises LimError (a RuntimeError) with the library's
message, which names the function and the argument.

FP8 caches (torch.float8_e4m3fn or torch.float8_e5m2): every attention and cache operator takes them, with optional k_scale and v_scale
(float32 CUDA tensors of 1 or Hkv entries, vLLM's per-tensor scales; None for 1): the real values are the stored ones
times the scale; writes divide by it, round to nearest and saturate at the largest finite value (+-448 in E4M3,
+-57344 in E5M2).

Workspaces: the attention operators share one zeroed workspace per device (the C ABI's rule: zero it once,
every call leaves it ready for the next), and the selection operator one scratch buffer per device; both grow
when a call needs more. Make one eager call of each shape before capturing a CUDA graph (so that no buffer
grows inside the capture), and call the operators of one device from one stream at a time.
"""

from typing import Optional

import torch
from torch import Tensor

from .library import DEFAULT_LIBRARY, Lim
from .paged import PagedKV

_library = None
_buffers: dict = {}  # (kind, device) -> the workspace the operators of that kind share


def library() -> Lim:
    """The process's liblim (build/liblim.so, or $LIM_LIBRARY, or what use_library chose), loaded on first use."""
    global _library
    if _library is None:
        _library = Lim(DEFAULT_LIBRARY)
    return _library


def use_library(path: str) -> None:
    """Makes the operators call the liblim at `path` (before the first call; the workspaces stay)."""
    global _library
    _library = Lim(path)


def _workspace(kind: str, device: torch.device, nbytes: int) -> Tensor:
    """The device's `kind` buffer, grown (zeroed) to at least nbytes."""
    key = (kind, device)
    buffer = _buffers.get(key)
    if buffer is None or buffer.numel() < nbytes:
        buffer = torch.zeros(max(nbytes, 16), dtype=torch.uint8, device=device)
        _buffers[key] = buffer
    return buffer


def _attention_workspace(q: Tensor, k, rows: int, kind: str) -> Tensor:
    """The shared attention workspace, large enough for a call over `rows` rows ("full": tokens; "shared" or
    "per_head": list entries); k is the contiguous key cache [B, Hkv, Nmax, D] or a PagedKV, 16-bit or FP8."""
    lim = library()
    B, hq, d = q.shape
    paged = isinstance(k, PagedKV)
    hkv = k.num_kv_heads if paged else k.shape[1]
    cache_dtype = (k.k if paged else k).dtype
    if kind == "full":
        nbytes = lim.decode_attention_workspace_bytes(B, hq, hkv, d, rows, q.dtype, paged=paged, cache_dtype=cache_dtype)
    else:
        nbytes = lim.sparse_attention_workspace_bytes(B, hq, hkv, d, rows, q.dtype, 1 if kind == "per_head" else 0, paged=paged, cache_dtype=cache_dtype)
    return _workspace("attention", q.device, nbytes)


def _lse(q: Tensor) -> Tensor:
    return q.new_empty((q.shape[0], q.shape[1]), dtype=torch.float32)


# ---- attention


@torch.library.custom_op("lessismore::decode_attention", mutates_args=())
def decode_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, seqlens: Tensor, max_seqlen: int, scale: float,
    k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Full decode attention. q [B, Hq, D]; caches [B, Hkv, Nmax, D]; seqlens int32 [B]. Returns (out [B, Hq, D], lse [B, Hq])."""
    out, lse = torch.empty_like(q), _lse(q)
    library().decode_attention(q, k_cache, v_cache, seqlens, out, lse, max_seqlen, scale, _attention_workspace(q, k_cache, max_seqlen, "full"),
                               k_scale=k_scale, v_scale=v_scale)
    return out, lse


@decode_attention.register_fake
def _(q, k_cache, v_cache, seqlens, max_seqlen, scale, k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q)


@torch.library.custom_op("lessismore::decode_attention_with_logits", mutates_args=())
def decode_attention_with_logits(q: Tensor, k_cache: Tensor, v_cache: Tensor, seqlens: Tensor, max_seqlen: int,
                                 scale: float, k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
    """A selection layer's attention: also every head's scaled logits [B, Hq, max_seqlen] (natural units)."""
    out, lse = torch.empty_like(q), _lse(q)
    logits = q.new_empty((q.shape[0], q.shape[1], max_seqlen), dtype=torch.float32)
    library().decode_attention(q, k_cache, v_cache, seqlens, out, lse, max_seqlen, scale, _attention_workspace(q, k_cache, max_seqlen, "full"),
                               logits=logits, k_scale=k_scale, v_scale=v_scale)
    return out, lse, logits


@decode_attention_with_logits.register_fake
def _(q, k_cache, v_cache, seqlens, max_seqlen, scale, k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q), q.new_empty((q.shape[0], q.shape[1], max_seqlen), dtype=torch.float32)


@torch.library.custom_op("lessismore::sparse_attention", mutates_args=())
def sparse_attention(q: Tensor, k_cache: Tensor, v_cache: Tensor, seqlens: Tensor, indices: Tensor, counts: Tensor, max_seqlen: int,
                     scale: float, k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Attention over one ascending index list per request (indices [B, K], counts [B]), shared by its heads."""
    out, lse = torch.empty_like(q), _lse(q)
    ws = _attention_workspace(q, k_cache, indices.shape[1], "shared")
    library().sparse_attention(q, k_cache, v_cache, seqlens, indices, counts, out, max_seqlen, scale, ws, lse=lse, k_scale=k_scale, v_scale=v_scale)
    return out, lse


@sparse_attention.register_fake
def _(q, k_cache, v_cache, seqlens, indices, counts, max_seqlen, scale, k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q)


@torch.library.custom_op("lessismore::sparse_attention_per_head", mutates_args=())
def sparse_attention_per_head(q: Tensor, k_cache: Tensor, v_cache: Tensor, seqlens: Tensor, indices: Tensor, counts: Tensor, max_seqlen: int,
                              scale: float, k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Attention over one ascending list per query head (indices [B, Hq, K], counts [B, Hq])."""
    out, lse = torch.empty_like(q), _lse(q)
    ws = _attention_workspace(q, k_cache, indices.shape[2], "per_head")
    library().sparse_attention_per_head(q, k_cache, v_cache, seqlens, indices, counts, out, max_seqlen, scale, ws, lse=lse,
                                        k_scale=k_scale, v_scale=v_scale)
    return out, lse


@sparse_attention_per_head.register_fake
def _(q, k_cache, v_cache, seqlens, indices, counts, max_seqlen, scale, k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q)


# ---- attention over paged caches: the pools [pages, page_size, Hkv, D] ("NHD") or [pages, Hkv, page_size, D]
# ("HND") and the block table int32 [B, max_pages_per_seq], as the engines keep them (see PagedKV)


@torch.library.custom_op("lessismore::paged_decode_attention", mutates_args=())
def paged_decode_attention(q: Tensor, k_pages: Tensor, v_pages: Tensor, block_table: Tensor, seqlens: Tensor, max_seqlen: int, scale: float,
                           layout: str = "NHD", k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """decode_attention over paged caches."""
    cache = PagedKV(k_pages, v_pages, block_table, layout)
    out, lse = torch.empty_like(q), _lse(q)
    library().decode_attention(q, cache, None, seqlens, out, lse, max_seqlen, scale, _attention_workspace(q, cache, max_seqlen, "full"),
                               k_scale=k_scale, v_scale=v_scale)
    return out, lse


@paged_decode_attention.register_fake
def _(q, k_pages, v_pages, block_table, seqlens, max_seqlen, scale, layout="NHD", k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q)


@torch.library.custom_op("lessismore::paged_decode_attention_with_logits", mutates_args=())
def paged_decode_attention_with_logits(q: Tensor, k_pages: Tensor, v_pages: Tensor, block_table: Tensor, seqlens: Tensor, max_seqlen: int,
                                       scale: float, layout: str = "NHD",
                                           k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor, Tensor]:
    """decode_attention_with_logits over paged caches."""
    cache = PagedKV(k_pages, v_pages, block_table, layout)
    out, lse = torch.empty_like(q), _lse(q)
    logits = q.new_empty((q.shape[0], q.shape[1], max_seqlen), dtype=torch.float32)
    library().decode_attention(q, cache, None, seqlens, out, lse, max_seqlen, scale, _attention_workspace(q, cache, max_seqlen, "full"),
                               logits=logits, k_scale=k_scale, v_scale=v_scale)
    return out, lse, logits


@paged_decode_attention_with_logits.register_fake
def _(q, k_pages, v_pages, block_table, seqlens, max_seqlen, scale, layout="NHD", k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q), q.new_empty((q.shape[0], q.shape[1], max_seqlen), dtype=torch.float32)


@torch.library.custom_op("lessismore::paged_sparse_attention", mutates_args=())
def paged_sparse_attention(q: Tensor, k_pages: Tensor, v_pages: Tensor, block_table: Tensor, seqlens: Tensor, indices: Tensor,
                           counts: Optional[Tensor], max_seqlen: int, scale: float, layout: str = "NHD",
                               k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """sparse_attention over paged caches; counts None for lists padded with -1."""
    cache = PagedKV(k_pages, v_pages, block_table, layout)
    out, lse = torch.empty_like(q), _lse(q)
    ws = _attention_workspace(q, cache, indices.shape[1], "shared")
    library().sparse_attention(q, cache, None, seqlens, indices, counts, out, max_seqlen, scale, ws, lse=lse, k_scale=k_scale, v_scale=v_scale)
    return out, lse


@paged_sparse_attention.register_fake
def _(q, k_pages, v_pages, block_table, seqlens, indices, counts, max_seqlen, scale, layout="NHD", k_scale=None, v_scale=None):
    return torch.empty_like(q), _lse(q)


@torch.library.custom_op("lessismore::write_kv_slots", mutates_args=("k_pages", "v_pages"))
def write_kv_slots(k_new: Tensor, v_new: Tensor, slot_mapping: Tensor, k_pages: Tensor, v_pages: Tensor, layout: str = "NHD",
                   k_scale: Optional[Tensor] = None, v_scale: Optional[Tensor] = None) -> None:
    """vLLM's cache write: k_new, v_new [T, Hkv, D] to slots slot_mapping int32 [T] (page * page_size + offset; -1 skips) of the pools, in place."""
    no_table = torch.empty((1, 1), dtype=torch.int32, device=k_pages.device)  # the slot write reads no block table
    library().write_kv_slots(k_new, v_new, slot_mapping, PagedKV(k_pages, v_pages, no_table, layout), k_scale=k_scale, v_scale=v_scale)


@write_kv_slots.register_fake
def _(k_new, v_new, slot_mapping, k_pages, v_pages, layout="NHD", k_scale=None, v_scale=None):
    return None


# ---- selection


@torch.library.custom_op("lessismore::select_lessismore", mutates_args=())
def select_lessismore(logits: Tensor, seqlens: Tensor, max_seqlen: int, budget: int, recency_ratio: float, sinks: int) -> tuple[Tensor, Tensor]:
    """LessIsMore's shared set of each request: (indices [B, budget] ascending, counts [B])."""
    lim = library()
    B, hq = logits.shape[0], logits.shape[1]
    indices = logits.new_empty((B, budget), dtype=torch.int32)
    counts = logits.new_empty((B,), dtype=torch.int32)
    nbytes = lim.select_lessismore_workspace_bytes(B, hq, max_seqlen, budget, recency_ratio, sinks)
    lim.select_lessismore(logits, seqlens, indices, counts, max_seqlen, budget, recency_ratio, sinks, _workspace("selection", logits.device, nbytes))
    return indices, counts


@select_lessismore.register_fake
def _(logits, seqlens, max_seqlen, budget, recency_ratio, sinks):
    B = logits.shape[0]
    return logits.new_empty((B, budget), dtype=torch.int32), logits.new_empty((B,), dtype=torch.int32)


@torch.library.custom_op("lessismore::select_per_head", mutates_args=())
def select_per_head(logits: Tensor, seqlens: Tensor, max_seqlen: int, budget: int) -> tuple[Tensor, Tensor]:
    """TidalDecode's per-head sets: (indices [B, Hq, budget] ascending, -1 past the count; counts [B, Hq])."""
    B, hq = logits.shape[0], logits.shape[1]
    indices = logits.new_empty((B, hq, budget), dtype=torch.int32)
    counts = logits.new_empty((B, hq), dtype=torch.int32)
    library().select_per_head(logits, seqlens, indices, counts, max_seqlen, budget)
    return indices, counts


@select_per_head.register_fake
def _(logits, seqlens, max_seqlen, budget):
    B, hq = logits.shape[0], logits.shape[1]
    return logits.new_empty((B, hq, budget), dtype=torch.int32), logits.new_empty((B, hq), dtype=torch.int32)


@torch.library.custom_op("lessismore::topk", mutates_args=())
def topk(values: Tensor, k: int, by_position: bool = False) -> tuple[Tensor, Tensor]:
    """Exact top-k of each row of values [rows, length] (descending, ties to the lower position, NaN last):
    (indices [rows, k], values [rows, k]) in rank order, or ascending positions with by_position."""
    indices = values.new_empty((values.shape[0], k), dtype=torch.int32)
    picked = values.new_empty((values.shape[0], k), dtype=torch.float32)
    library().topk(values, indices, picked, k, order="position" if by_position else "rank")
    return indices, picked


@topk.register_fake
def _(values, k, by_position=False):
    return values.new_empty((values.shape[0], k), dtype=torch.int32), values.new_empty((values.shape[0], k), dtype=torch.float32)


@torch.library.custom_op("lessismore::attention_recall", mutates_args=())
def attention_recall(logits: Tensor, lse: Tensor, indices: Tensor, counts: Tensor) -> Tensor:
    """The softmax mass each head's attention puts on a set: shared ([B, K]) or per-head ([B, Hq, K]) indices. [B, Hq]."""
    recall = logits.new_empty((logits.shape[0], logits.shape[1]), dtype=torch.float32)
    library().attention_recall(logits, lse, indices, counts, recall)
    return recall


@attention_recall.register_fake
def _(logits, lse, indices, counts):
    return logits.new_empty((logits.shape[0], logits.shape[1]), dtype=torch.float32)


# ---- caches


@torch.library.custom_op("lessismore::append_kv", mutates_args=("k_cache", "v_cache"))
def append_kv(k_cache: Tensor, v_cache: Tensor, k_new: Tensor, v_new: Tensor, seqlens: Tensor, k_scale: Optional[Tensor] = None,
              v_scale: Optional[Tensor] = None) -> None:
    """Writes the new token's k_new, v_new [B, Hkv, D] at position seqlens[b] - 1 of the caches, in place."""
    library().append_kv(k_cache, v_cache, k_new, v_new, seqlens, k_scale=k_scale, v_scale=v_scale)


@append_kv.register_fake
def _(k_cache, v_cache, k_new, v_new, seqlens, k_scale=None, v_scale=None):
    return None
