"""liblim on PyTorch tensors: shapes and strides read from the tensors, every call made by keyword through the
generated ctypes binding (generated/bindings/lim_abi.py, one signature per C function of lim.h, every status
checked, failures raised as LimError with the library's message), on PyTorch's current stream.
"""

import os
import sys

import torch

from .repository import REPOSITORY

sys.path.insert(0, os.path.join(REPOSITORY, "generated", "bindings"))
from lim_abi import LimError, LimLibrary  # noqa: E402,F401  (LimError is re-exported)

from .paged import PagedKV  # noqa: E402

# Where `npm run build` (cmake-js) puts the library; LIM_LIBRARY overrides it.
DEFAULT_LIBRARY = os.environ.get("LIM_LIBRARY", os.path.join(REPOSITORY, "build", "liblim.so"))

DTYPES = {torch.bfloat16: "bf16", torch.float16: "fp16"}

# FP8 caches go through the lim_fp8_* functions, with their scales and their format (the C ABI's kv_dtype).
FP8_DTYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}  # the C ABI's name of each format -> PyTorch's dtype
FP8_FORMATS = {dtype: name for name, dtype in FP8_DTYPES.items()}
FP8_NAMES = "torch.float8_e4m3fn or torch.float8_e5m2"


def _dtype_name(dtype) -> str:
    """The C ABI's name of a query or cache dtype, or a TypeError naming what is accepted."""
    if dtype not in DTYPES:
        raise TypeError(f"queries, outputs and new tokens must be torch.bfloat16 or torch.float16, got {dtype}")
    return DTYPES[dtype]


def _kv_dtype(t) -> str:
    return _dtype_name(t.dtype)


def _scales(k_scale, v_scale, num_kv_heads: int) -> dict:
    """The scale arguments of an FP8 call: float32 device tensors of 1 (per tensor, vLLM's k_scale) or num_kv_heads
    entries, or None for 1."""
    entries = set()
    for name, s in (("k_scale", k_scale), ("v_scale", v_scale)):
        if s is None:
            continue
        if s.dtype != torch.float32 or not s.is_cuda or s.dim() > 1 or not s.is_contiguous() or s.numel() not in (1, num_kv_heads):
            raise ValueError(f"{name} must be a contiguous float32 CUDA tensor of 1 or num_kv_heads = {num_kv_heads} entries, got "
                             f"{s.dtype} {tuple(s.shape)} on {s.device}")
        entries.add(s.numel())
    if len(entries) > 1:
        raise ValueError("k_scale and v_scale must have the same number of entries (both per tensor or both per KV head)")
    return dict(k_scale=k_scale, v_scale=v_scale, scale_heads=entries.pop() if entries else 1)


def _elements(cache_dtype, dtype, what: str, k_scale, v_scale, num_kv_heads: int):
    """The function prefix ("fp8_" or "") and scale arguments of a call whose caches hold cache_dtype and whose `what`
    holds dtype: FP8 caches take scales and their format; 16-bit ones must hold `what`'s dtype and take none."""
    _dtype_name(dtype)
    if cache_dtype in FP8_FORMATS:
        return "fp8_", dict(_scales(k_scale, v_scale, num_kv_heads), **_fp8_keywords(cache_dtype))
    if cache_dtype != dtype:
        raise TypeError(f"{what} is {dtype} but the caches are {cache_dtype}: they must match, or the caches be FP8 ({FP8_NAMES})")
    if k_scale is not None or v_scale is not None:
        raise ValueError(f"k_scale and v_scale apply to FP8 caches ({FP8_NAMES}); these caches are {cache_dtype}")
    return "", {}


def _fp8_keywords(cache_dtype) -> dict:
    """The FP8 format argument of a workspace query for caches of cache_dtype (None: caches in the queries' dtype)."""
    if cache_dtype is None or cache_dtype in DTYPES:
        return {}
    if cache_dtype not in FP8_FORMATS:
        raise TypeError(f"caches must be torch.bfloat16, torch.float16, {FP8_NAMES}, got {cache_dtype}")
    return dict(kv_dtype=FP8_FORMATS[cache_dtype])


def _paged(k, v):
    """The PagedKV given as k (v None); None for contiguous caches k, v."""
    if not isinstance(k, PagedKV):
        return None
    if v is not None:
        raise ValueError("with a PagedKV as k, pass v=None: the PagedKV holds both pools")
    return k


def _cache_keywords(k, v, dtype, what: str, k_scale=None, v_scale=None):
    """The function prefix ("", "paged_", "fp8_" or "fp8_paged_") and the cache arguments of a call over contiguous
    caches k, v [B, Hkv, Nmax, D], or a PagedKV given as k (v None): in `what`'s dtype, or FP8 with their scales."""
    paged = _paged(k, v)
    if paged is not None:
        fp8, scales = _elements(paged.k.dtype, dtype, what, k_scale, v_scale, paged.num_kv_heads)
        return fp8 + "paged_", dict(paged.keywords(), num_kv_heads=paged.num_kv_heads, **scales)
    if k.dtype != v.dtype:
        raise TypeError(f"k and v caches must hold one dtype, got {k.dtype} and {v.dtype}")
    fp8, scales = _elements(k.dtype, dtype, what, k_scale, v_scale, k.shape[1])
    return fp8, dict(k_cache=k, k_stride_b=k.stride(0), k_stride_h=k.stride(1), k_stride_n=k.stride(2), v_cache=v, v_stride_b=v.stride(0),
                     v_stride_h=v.stride(1), v_stride_n=v.stride(2), num_kv_heads=k.shape[1], cache_capacity=k.shape[2], **scales)


def _stream():
    return torch.cuda.current_stream().cuda_stream


def _scratch(nbytes):
    # Zeroed, as a fresh workspace must be (the attention functions' split counters start at 0).
    return torch.zeros(max(nbytes, 16), dtype=torch.uint8, device="cuda")


class Lim:
    def __init__(self, path: str = DEFAULT_LIBRARY):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: build it with `npm run build` (or cmake -S runtime -B build)")
        self.abi = LimLibrary(path)
        self.lib = self.abi.lib
        self.abi.check_device(device=torch.cuda.current_device())

    @property
    def version(self) -> str:
        return self.abi.version()

    @staticmethod
    def _attention(q, k, v, seqlens, out, max_seqlen, scale, k_scale, v_scale):
        """The keywords every attention function takes, from q, out [B, Hq, D] and the caches (see _cache_keywords),
        and the prefix of the function that takes them."""
        B, Hq, D = q.shape
        prefix, caches = _cache_keywords(k, v, q.dtype, "q", k_scale, v_scale)
        return prefix, dict(caches, q=q, q_stride_b=q.stride(0), q_stride_h=q.stride(1), seqlens=seqlens, out=out, out_stride_b=out.stride(0),
                            out_stride_h=out.stride(1), batch=B, num_q_heads=Hq, head_dim=D, max_seqlen=max_seqlen, dtype=_kv_dtype(q),
                            softmax_scale=scale, stream=_stream())

    def _workspace_query(self, name: str, paged: bool, cache_dtype):
        fp8 = _fp8_keywords(cache_dtype)
        query = getattr(self.abi, ("fp8_" if fp8 else "") + ("paged_" if paged else "") + name)
        return lambda **keywords: query(**keywords, **fp8)

    def decode_attention_workspace_bytes(self, batch, hq, hkv, d, max_seqlen, dtype, paged=False, cache_dtype=None) -> int:
        """Bytes of workspace decode_attention needs; paged=True for a PagedKV cache, cache_dtype the caches' dtype
        (torch.float8_e4m3fn or torch.float8_e5m2 for FP8 caches; None: dtype)."""
        query = self._workspace_query("decode_attention_workspace_size", paged, cache_dtype)
        return query(batch=batch, num_q_heads=hq, num_kv_heads=hkv, head_dim=d, max_seqlen=max_seqlen, dtype=_dtype_name(dtype))

    def decode_attention_workspace(self, batch, hq, hkv, d, max_seqlen, dtype, paged=False, cache_dtype=None) -> torch.Tensor:
        return _scratch(self.decode_attention_workspace_bytes(batch, hq, hkv, d, max_seqlen, dtype, paged, cache_dtype))

    def decode_attention(self, q, k, v, seqlens, out, lse, max_seqlen, scale, workspace, logits=None, k_scale=None, v_scale=None):
        """q, out [B, Hq, D]; k, v [B, Hkv, Nmax, D], or k a PagedKV and v None, in q's dtype or FP8 (torch.float8_e4m3fn or float8_e5m2,
        real values = stored * k_scale or v_scale: float32 CUDA tensors of 1 or Hkv entries, None for 1); seqlens int32 [B];
        lse float32 [B, Hq] or None; logits float32 [B, Hq, >= max_seqlen] or None (selection layers)."""
        prefix, keywords = self._attention(q, k, v, seqlens, out, max_seqlen, scale, k_scale, v_scale)
        strides = dict(logits_stride_b=logits.stride(0), logits_stride_h=logits.stride(1)) if logits is not None else {}
        getattr(self.abi, prefix + "decode_attention")(**keywords, lse=lse, logits=logits, workspace=workspace, **strides)

    def sparse_attention_workspace_bytes(self, batch, hq, hkv, d, max_count, dtype, per_head, paged=False, cache_dtype=None) -> int:
        query = self._workspace_query("sparse_attention_workspace_size", paged, cache_dtype)
        return query(batch=batch, num_q_heads=hq, num_kv_heads=hkv, head_dim=d, max_count=max_count, dtype=_dtype_name(dtype), per_head=per_head)

    def sparse_attention_workspace(self, batch, hq, hkv, d, max_count, dtype, per_head, paged=False, cache_dtype=None) -> torch.Tensor:
        return _scratch(self.sparse_attention_workspace_bytes(batch, hq, hkv, d, max_count, dtype, per_head, paged, cache_dtype))

    def sparse_attention(self, q, k, v, seqlens, indices, counts, out, max_seqlen, scale, workspace, lse=None, k_scale=None, v_scale=None):
        """indices int32 [B, >= K] ascending (shared by all heads), counts int32 [B], or None for lists padded with -1;
        k, v (and their scales) as for decode_attention; lse float32 [B, Hq] or None."""
        prefix, keywords = self._attention(q, k, v, seqlens, out, max_seqlen, scale, k_scale, v_scale)
        getattr(self.abi, prefix + "sparse_attention")(**keywords, indices=indices, indices_stride_b=indices.stride(0), counts=counts,
                                                       max_count=indices.shape[1], lse=lse, workspace=workspace)

    def sparse_attention_per_head(self, q, k, v, seqlens, indices, counts, out, max_seqlen, scale, workspace, lse=None, k_scale=None, v_scale=None):
        """indices int32 [B, Hq, >= K] ascending per head, counts int32 [B, Hq] or None (lists padded with -1); lse float32 [B, Hq] or None."""
        prefix, keywords = self._attention(q, k, v, seqlens, out, max_seqlen, scale, k_scale, v_scale)
        getattr(self.abi, prefix + "sparse_attention_per_head")(**keywords, indices=indices, indices_stride_b=indices.stride(0),
                                                                indices_stride_h=indices.stride(1), counts=counts, max_count=indices.shape[2],
                                                                lse=lse, workspace=workspace)

    def gather_kv(self, k, v, seqlens, indices, counts, out_k, out_v, max_seqlen, k_scale=None, v_scale=None):
        """Copies rows indices[b, :counts[b]] of k and v ([B, Hkv, Nmax, D], or k a PagedKV and v None) into out_k, out_v
        [B, Hkv, >= K, D]. From FP8 caches (with their scales) the rows are dequantised into out_k's dtype."""
        prefix, caches = _cache_keywords(k, v, out_k.dtype, "out_k", k_scale, v_scale)
        getattr(self.abi, prefix + "gather_kv")(
            **caches, seqlens=seqlens, indices=indices, indices_stride_b=indices.stride(0), counts=counts, out_k=out_k, out_v=out_v,
            out_stride_b=out_k.stride(0), out_stride_h=out_k.stride(1), out_stride_n=out_k.stride(2), batch=out_k.shape[0],
            head_dim=out_k.shape[3], max_seqlen=max_seqlen, max_count=indices.shape[1], dtype=_kv_dtype(out_k), stream=_stream())

    def select_lessismore_workspace_bytes(self, batch, hq, max_seqlen, budget, ratio, sinks) -> int:
        return self.abi.select_lessismore_workspace_size(
            batch=batch, num_q_heads=hq, max_seqlen=max_seqlen, budget=budget, recency_ratio=ratio, sinks=sinks)

    def select_lessismore_workspace(self, batch, hq, max_seqlen, budget, ratio, sinks) -> torch.Tensor:
        return _scratch(self.select_lessismore_workspace_bytes(batch, hq, max_seqlen, budget, ratio, sinks))

    def select_lessismore(self, logits, seqlens, indices, counts, max_seqlen, budget, ratio, sinks, workspace):
        """logits float32 [B, Hq, >= max_seqlen]; indices int32 [B, >= budget]; counts int32 [B]."""
        self.abi.select_lessismore(
            logits=logits, logits_stride_b=logits.stride(0), logits_stride_h=logits.stride(1), seqlens=seqlens,
            indices=indices, indices_stride_b=indices.stride(0), counts=counts, batch=logits.shape[0], num_q_heads=logits.shape[1],
            max_seqlen=max_seqlen, budget=budget, recency_ratio=ratio, sinks=sinks, workspace=workspace, stream=_stream())

    def select_lessismore_local_keys(self, logits, seqlens, keys, head_offset, total_q_heads, max_seqlen, budget, ratio, sinks):
        """Tensor parallelism, first half: this GPU's heads' first-occurrence keys. logits float32 [B, local Hq,
        >= max_seqlen] (this GPU's heads, global head_offset ..); keys int32 or uint32 [B, >= max_seqlen], all written."""
        self.abi.select_lessismore_local_keys(
            logits=logits, logits_stride_b=logits.stride(0), logits_stride_h=logits.stride(1), seqlens=seqlens, keys=keys,
            keys_stride_b=keys.stride(0), batch=logits.shape[0], num_q_heads=logits.shape[1], head_offset=head_offset,
            total_q_heads=total_q_heads, max_seqlen=max_seqlen, budget=budget, recency_ratio=ratio, sinks=sinks, stream=_stream())

    def select_lessismore_union(self, keys, seqlens, indices, counts, total_q_heads, max_seqlen, budget, ratio, sinks):
        """Tensor parallelism, second half: the set from the keys of all heads (the element-wise minimum of every
        GPU's local keys). keys [B, >= max_seqlen]; indices int32 [B, >= budget]; counts int32 [B]."""
        self.abi.select_lessismore_union(
            keys=keys, keys_stride_b=keys.stride(0), seqlens=seqlens, indices=indices, indices_stride_b=indices.stride(0), counts=counts,
            batch=keys.shape[0], total_q_heads=total_q_heads, max_seqlen=max_seqlen, budget=budget, recency_ratio=ratio, sinks=sinks,
            stream=_stream())

    def select_per_head(self, logits, seqlens, indices, counts, max_seqlen, budget):
        """TidalDecode's per-head sets: logits float32 [B, Hq, >= max_seqlen]; indices int32 [B, Hq, >= budget]; counts int32 [B, Hq]."""
        self.abi.select_per_head(
            logits=logits, logits_stride_b=logits.stride(0), logits_stride_h=logits.stride(1), seqlens=seqlens, indices=indices,
            indices_stride_b=indices.stride(0), indices_stride_h=indices.stride(1), counts=counts, batch=logits.shape[0],
            num_q_heads=logits.shape[1], max_seqlen=max_seqlen, budget=budget, stream=_stream())

    def attention_recall(self, logits, lse, indices, counts, recall):
        """Attention recall of shared ([B, K] indices, [B] counts) or per-head ([B, Hq, K], [B, Hq]) sets; recall float32 [B, Hq]."""
        per_head = indices.dim() == 3
        self.abi.attention_recall(
            logits=logits, logits_stride_b=logits.stride(0), logits_stride_h=logits.stride(1), logits_capacity=logits.shape[2], lse=lse,
            indices=indices, indices_stride_b=indices.stride(0), indices_stride_s=indices.stride(1) if per_head else 0, counts=counts,
            recall=recall, batch=logits.shape[0], num_q_heads=logits.shape[1], sets=indices.shape[1] if per_head else 1,
            max_count=indices.shape[-1], stream=_stream())

    def append_kv(self, k_cache, v_cache, k_new, v_new, seqlens, k_scale=None, v_scale=None):
        """Writes k_new, v_new [B, Hkv, D] at position seqlens[b] - 1 of the caches [B, Hkv, Nmax, D] (laid out alike),
        or through the block table of a PagedKV (k_cache; v_cache None). FP8 caches get each value divided by its
        scale, rounded to nearest and saturated at the largest finite value (+-448 in E4M3, +-57344 in E5M2)."""
        B, Hkv, D = k_new.shape
        common = dict(k_new=k_new, v_new=v_new, seqlens=seqlens, batch=B, num_kv_heads=Hkv, head_dim=D, dtype=_kv_dtype(k_new), stream=_stream())
        paged = _paged(k_cache, v_cache)
        pools = paged.k if paged is not None else k_cache
        fp8, scales = _elements(pools.dtype, k_new.dtype, "k_new", k_scale, v_scale, Hkv)
        if paged is not None:
            getattr(self.abi, fp8 + "paged_append_kv")(**common, **scales, **paged.shared_stride_keywords())
            return
        if v_cache.stride() != k_cache.stride() or v_cache.dtype != k_cache.dtype:
            raise ValueError(f"k_cache and v_cache must have the same dtype and strides, got {k_cache.dtype} {k_cache.stride()} and "
                             f"{v_cache.dtype} {v_cache.stride()}")
        getattr(self.abi, fp8 + "append_kv")(**common, **scales, k_cache=k_cache, v_cache=v_cache, cache_stride_b=k_cache.stride(0),
                                             cache_stride_h=k_cache.stride(1), cache_stride_n=k_cache.stride(2), cache_capacity=k_cache.shape[2])

    def write_kv_slots(self, k_new, v_new, slot_mapping, cache, k_scale=None, v_scale=None):
        """vLLM's cache write: k_new, v_new [T, Hkv, D] to slots slot_mapping int32 [T] (page * page_size + offset;
        -1 skips) of a PagedKV's pools (FP8 pools: divided by the scales, saturated as append_kv). No block table is read."""
        # vLLM pads the new keys for CUDA graphs: the slot mapping says how many tokens there are.
        T = slot_mapping.shape[0]
        _, Hkv, D = k_new.shape
        if slot_mapping.dtype != torch.int32 or slot_mapping.dim() != 1 or slot_mapping.stride(0) != 1:
            raise TypeError(f"slot_mapping must be a contiguous int32 [num_tokens] tensor, got {slot_mapping.dtype} "
                            f"{tuple(slot_mapping.shape)} (vLLM's is int64: pass slot_mapping.to(torch.int32))")
        if k_new.shape[0] < T or v_new.shape != k_new.shape:
            raise ValueError(f"k_new and v_new [>= num_tokens, Hkv, D] must hold the {T} tokens of slot_mapping, got {tuple(k_new.shape)} and {tuple(v_new.shape)}")
        fp8, scales = _elements(cache.k.dtype, k_new.dtype, "k_new", k_scale, v_scale, Hkv)
        if cache.k.stride() != cache.v.stride() or k_new.stride() != v_new.stride():
            raise ValueError("k and v pools, and k_new and v_new, must each have the same strides")
        getattr(self.abi, fp8 + "write_kv_slots")(
            **scales, k_new=k_new, v_new=v_new, new_stride_t=k_new.stride(0), new_stride_h=k_new.stride(1), slot_mapping=slot_mapping,
            k_cache=cache.k, v_cache=cache.v, **cache.pool_strides(cache.k, "cache"), num_tokens=T, num_kv_heads=Hkv, head_dim=D,
            num_pages=cache.k.shape[0], page_size=cache.page_size, dtype=_kv_dtype(k_new), stream=_stream())

    def topk(self, values, indices, out_values, k, order=0, lengths=None):
        """values float32 [rows, length]; indices int32 [rows, >= k]; out_values float32 like indices, or None."""
        rows, length = values.shape
        self.abi.topk(values=values, values_stride=values.stride(0), lengths=lengths, indices=indices, indices_stride=indices.stride(0),
                      out_values=out_values, rows=rows, length=length, k=k, order=order, stream=_stream())

    def use_variant(self, kernel: str, variant) -> None:
        """Dispatch `kernel` to the named variant (None: back to the default schedule)."""
        self.abi.use_variant(kernel=kernel, variant=variant)

    def check_device_status(self) -> None:
        self.abi.check_device_status(stream=_stream())
