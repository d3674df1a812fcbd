"""Paged K/V caches as the engines keep them: a pool of pages per cache and a block table per batch.

A ``PagedKV`` names the two pools, the block table and how a page is laid out, and turns them into the
arguments of the C ABI's paged functions (lim_paged_*). Nothing is copied: the kernels read the engine's
own tensors.

    vLLM (FlashAttention backend): key_cache, value_cache [num_blocks, block_size, num_kv_heads, head_size]
        -> PagedKV(key_cache, value_cache, block_table, layout="NHD")
    FlashInfer HND pages [num_pages, num_kv_heads, page_size, head_dim] -> layout="HND"
    SGLang token pool [size, num_kv_heads, head_dim] -> PagedKV(k[:, None], v[:, None], req_to_token, "NHD",
        table_rows=req_pool_indices) (pages of one token; req_to_token read in place, row req_pool_indices[b])
"""

from dataclasses import dataclass
from typing import Optional

import torch

LAYOUTS = ("NHD", "HND")


@dataclass(frozen=True)
class PagedKV:
    """k, v: pools of pages, NHD [pages, page_size, heads, head_dim] or HND [pages, heads, page_size, head_dim];
    block_table: int32 [rows, max_pages_per_seq], position n of request b in page block_table[r, n // page_size],
    r = b, or table_rows[b] when given (int32 [batch]: SGLang's req_pool_indices into req_to_token)."""

    k: torch.Tensor
    v: torch.Tensor
    block_table: torch.Tensor
    layout: str = "NHD"
    table_rows: Optional[torch.Tensor] = None

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.k.dim() != 4 or self.k.shape != self.v.shape:
            raise ValueError(f"k and v must be 4-D pools of one shape, got {tuple(self.k.shape)} and {tuple(self.v.shape)}")
        if self.k.dtype != self.v.dtype or self.k.dtype not in (torch.bfloat16, torch.float16, torch.float8_e4m3fn, torch.float8_e5m2):
            raise TypeError("k and v pools must both be torch.bfloat16, torch.float16, torch.float8_e4m3fn or torch.float8_e5m2 (FP8), "
                            f"got {self.k.dtype} and {self.v.dtype}")
        if self.k.stride(3) != 1 or self.v.stride(3) != 1:
            raise ValueError("the head dimension of the k and v pools must be contiguous (stride 1)")
        if self.block_table.dtype != torch.int32 or self.block_table.dim() != 2 or self.block_table.stride(1) != 1:
            raise ValueError(f"block_table must be int32 [batch, max_pages_per_seq] with contiguous rows, got {self.block_table.dtype} "
                             f"{tuple(self.block_table.shape)} strides {self.block_table.stride()}")
        rows = self.table_rows
        if rows is not None and (rows.dtype != torch.int32 or rows.dim() != 1 or not rows.is_contiguous() or not rows.is_cuda):
            raise ValueError(f"table_rows must be a contiguous int32 CUDA tensor [batch], got {rows.dtype} {tuple(rows.shape)} on {rows.device}")

    @property
    def _slot(self) -> int:
        return 1 if self.layout == "NHD" else 2

    @property
    def _head(self) -> int:
        return 2 if self.layout == "NHD" else 1

    @property
    def page_size(self) -> int:
        return self.k.shape[self._slot]

    @property
    def num_kv_heads(self) -> int:
        return self.k.shape[self._head]

    @property
    def head_dim(self) -> int:
        return self.k.shape[3]

    @property
    def capacity(self) -> int:
        """Positions one request can hold."""
        return self.block_table.shape[1] * self.page_size

    def pool_strides(self, t: torch.Tensor, prefix: str) -> dict:
        return {f"{prefix}_stride_page": t.stride(0), f"{prefix}_stride_slot": t.stride(self._slot), f"{prefix}_stride_h": t.stride(self._head)}

    def table_keywords(self) -> dict:
        return dict(block_table=self.block_table, block_table_stride=self.block_table.stride(0), block_table_rows=self.table_rows,
                    num_table_rows=self.block_table.shape[0], num_pages=self.k.shape[0], page_size=self.page_size,
                    max_pages_per_seq=self.block_table.shape[1])

    def keywords(self) -> dict:
        """The cache arguments of the paged attention and gather functions (k_cache, its strides, v_cache, ..., the table)."""
        return dict(k_cache=self.k, **self.pool_strides(self.k, "k"), v_cache=self.v, **self.pool_strides(self.v, "v"), **self.table_keywords())

    @staticmethod
    def from_contiguous(k: torch.Tensor, v: torch.Tensor, page_size: int, layout: str = "NHD", spare_pages: int = 0, fill: float = 0.0,
                        shuffle: bool = True) -> "PagedKV":
        """Contiguous caches k, v [B, Hkv, N, D] copied into pools of pages of page_size positions, each request's pages
        in a random order of the pool (as an engine's allocator leaves them; shuffle=False: in order), and spare_pages
        more pages of `fill` (NaN finds a kernel that reads a page the table does not name). For tests, benchmarks and
        moving a cache over."""
        B, H, N, D = k.shape
        per = -(-N // page_size)
        num_pages = B * per + spare_pages
        order = torch.randperm(num_pages, device=k.device) if shuffle else torch.arange(num_pages, device=k.device)
        table = order[: B * per].view(B, per).int()

        def pool(x):
            # Bytes are moved as bytes: FP8 tensors lack some of the indexing kernels.
            raw = x.view(torch.uint8) if x.element_size() == 1 else x
            padded = torch.zeros(B, H, per * page_size, D, dtype=raw.dtype, device=x.device)
            padded[:, :, :N] = raw
            pages = padded.view(B, H, per, page_size, D)
            pages = pages.permute(0, 2, 3, 1, 4) if layout == "NHD" else pages.permute(0, 2, 1, 3, 4)
            shape = (num_pages, page_size, H, D) if layout == "NHD" else (num_pages, H, page_size, D)
            filler = torch.tensor([fill], dtype=torch.float32).to(x.dtype).view(raw.dtype).item()
            p = torch.full(shape, filler, dtype=raw.dtype, device=x.device)
            p[table.flatten().long()] = pages.reshape(B * per, *shape[1:])
            return p.view(x.dtype)

        return PagedKV(pool(k), pool(v), table, layout)

    def shared_stride_keywords(self) -> dict:
        """The cache arguments of the functions whose two pools share strides (append, synthesize)."""
        if self.k.stride() != self.v.stride():
            raise ValueError(f"k and v must have the same strides here, got {self.k.stride()} and {self.v.stride()}")
        return dict(k_cache=self.k, v_cache=self.v, **self.pool_strides(self.k, "cache"), **self.table_keywords())
