"""liblim through ctypes on PyTorch tensors: the path another engine takes to call the generated kernels.

Only the C ABI of generated/include/lim.h is used; every call's status is checked and a failure raises
with lim_last_error()'s message.
"""

import ctypes
import os

import torch

DTYPES = {torch.bfloat16: 0, torch.float16: 1}

_i32, _i64, _f32, _p, _size = ctypes.c_int32, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p, ctypes.c_size_t


class Lim:
    def __init__(self, path: str):
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is missing: build it with `npm run build` (or cmake -S runtime -B build)")
        self.lib = ctypes.CDLL(path)
        self.lib.lim_last_error.restype = ctypes.c_char_p
        self.lib.lim_version.restype = ctypes.c_char_p
        f = self.lib.lim_decode_attention
        f.restype = ctypes.c_int
        f.argtypes = [_p, _i64, _i64, _p, _i64, _i64, _i64, _p, _i64, _i64, _i64, _p, _p, _i64, _i64, _p, _p, _i64, _i64,
                      _i32, _i32, _i32, _i32, _i32, _i32, ctypes.c_int, _f32, _p, _size, _p]
        sel = self.lib.lim_select_lessismore
        sel.restype = ctypes.c_int
        sel.argtypes = [_p, _i64, _i64, _p, _p, _i64, _p, _i32, _i32, _i32, _i32, _f32, _i32, _p, _size, _p]
        sw = self.lib.lim_select_lessismore_workspace_size
        sw.restype = ctypes.c_int
        sw.argtypes = [_i32, _i32, _i32, _i32, _f32, _i32, ctypes.POINTER(_size)]
        attention = [_p, _i64, _i64, _p, _i64, _i64, _i64, _p, _i64, _i64, _i64, _p]  # q, k, v, seqlens
        sizes = [_i32, _i32, _i32, _i32, _i32, _i32]  # batch, Hq, Hkv, D, capacity, max_seqlen
        sp = self.lib.lim_sparse_attention
        sp.restype = ctypes.c_int
        sp.argtypes = attention + [_p, _i64, _p, _p, _i64, _i64, _p] + sizes + [_i32, ctypes.c_int, _f32, _p, _size, _p]
        sph = self.lib.lim_sparse_attention_per_head
        sph.restype = ctypes.c_int
        sph.argtypes = attention + [_p, _i64, _i64, _p, _p, _i64, _i64, _p] + sizes + [_i32, ctypes.c_int, _f32, _p, _size, _p]
        spw = self.lib.lim_sparse_attention_workspace_size
        spw.restype = ctypes.c_int
        spw.argtypes = [_i32, _i32, _i32, _i32, _i32, ctypes.c_int, _i32, ctypes.POINTER(_size)]
        g = self.lib.lim_gather_kv
        g.restype = ctypes.c_int
        g.argtypes = [_p, _i64, _i64, _i64, _p, _i64, _i64, _i64, _p, _p, _i64, _p, _p, _p, _i64, _i64, _i64,
                      _i32, _i32, _i32, _i32, _i32, _i32, ctypes.c_int, _p]
        tk = self.lib.lim_topk
        tk.restype = ctypes.c_int
        tk.argtypes = [_p, _i64, _p, _p, _i64, _p, _i32, _i32, _i32, _i32, _p]
        w = self.lib.lim_decode_attention_workspace_size
        w.restype = ctypes.c_int
        w.argtypes = [_i32, _i32, _i32, _i32, _i32, ctypes.c_int, ctypes.POINTER(_size)]
        self.lib.lim_check_device_status.argtypes = [_p]
        self.lib.lim_use_variant.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self.check(self.lib.lim_check_device(torch.cuda.current_device()))

    def check(self, status: int) -> None:
        if status != 0:
            raise RuntimeError(self.lib.lim_last_error().decode())

    @property
    def version(self) -> str:
        return self.lib.lim_version().decode()

    def decode_attention_workspace(self, batch, hq, hkv, d, max_seqlen, dtype) -> torch.Tensor:
        n = _size(0)
        self.check(self.lib.lim_decode_attention_workspace_size(batch, hq, hkv, d, max_seqlen, DTYPES[dtype], ctypes.byref(n)))
        return torch.empty(max(n.value, 16), dtype=torch.uint8, device="cuda")

    @staticmethod
    def _stream():
        return torch.cuda.current_stream().cuda_stream

    def decode_attention(self, q, k, v, seqlens, out, lse, max_seqlen, scale, workspace, logits=None):
        """q, out [B, Hq, D]; k, v [B, Hkv, Nmax, D]; seqlens int32 [B]; lse float32 [B, Hq] or None;
        logits float32 [B, Hq, >= max_seqlen] or None (selection layers)."""
        B, Hq, D = q.shape
        Hkv, N = k.shape[1], k.shape[2]
        self.check(self.lib.lim_decode_attention(
            q.data_ptr(), q.stride(0), q.stride(1),
            k.data_ptr(), k.stride(0), k.stride(1), k.stride(2),
            v.data_ptr(), v.stride(0), v.stride(1), v.stride(2),
            seqlens.data_ptr(), out.data_ptr(), out.stride(0), out.stride(1),
            lse.data_ptr() if lse is not None else None,
            logits.data_ptr() if logits is not None else None,
            logits.stride(0) if logits is not None else 0, logits.stride(1) if logits is not None else 0,
            B, Hq, Hkv, D, N, max_seqlen, DTYPES[q.dtype], scale,
            workspace.data_ptr(), workspace.numel(), self._stream()))

    @staticmethod
    def _attention_inputs(q, k, v, seqlens):
        return [q.data_ptr(), q.stride(0), q.stride(1), k.data_ptr(), k.stride(0), k.stride(1), k.stride(2),
                v.data_ptr(), v.stride(0), v.stride(1), v.stride(2), seqlens.data_ptr()]

    def sparse_attention_workspace(self, batch, hq, hkv, d, max_count, dtype, per_head) -> torch.Tensor:
        n = _size(0)
        self.check(self.lib.lim_sparse_attention_workspace_size(batch, hq, hkv, d, max_count, DTYPES[dtype], int(per_head), ctypes.byref(n)))
        return torch.empty(max(n.value, 16), dtype=torch.uint8, device="cuda")

    def sparse_attention(self, q, k, v, seqlens, indices, counts, out, max_seqlen, scale, workspace):
        """indices int32 [B, >= K] ascending (shared by all heads), counts int32 [B]."""
        B, Hq, D = q.shape
        self.check(self.lib.lim_sparse_attention(
            *self._attention_inputs(q, k, v, seqlens), indices.data_ptr(), indices.stride(0), counts.data_ptr(),
            out.data_ptr(), out.stride(0), out.stride(1), None, B, Hq, k.shape[1], D, k.shape[2], max_seqlen, indices.shape[1],
            DTYPES[q.dtype], scale, workspace.data_ptr(), workspace.numel(), self._stream()))

    def sparse_attention_per_head(self, q, k, v, seqlens, indices, counts, out, max_seqlen, scale, workspace):
        """indices int32 [B, Hq, >= K] ascending per head, counts int32 [B, Hq]."""
        B, Hq, D = q.shape
        self.check(self.lib.lim_sparse_attention_per_head(
            *self._attention_inputs(q, k, v, seqlens), indices.data_ptr(), indices.stride(0), indices.stride(1), counts.data_ptr(),
            out.data_ptr(), out.stride(0), out.stride(1), None, B, Hq, k.shape[1], D, k.shape[2], max_seqlen, indices.shape[2],
            DTYPES[q.dtype], scale, workspace.data_ptr(), workspace.numel(), self._stream()))

    def gather_kv(self, k, v, seqlens, indices, counts, out_k, out_v, max_seqlen):
        """Copies rows indices[b, :counts[b]] of k and v into out_k, out_v [B, Hkv, >= K, D]."""
        B, Hkv, N, D = k.shape
        self.check(self.lib.lim_gather_kv(
            k.data_ptr(), k.stride(0), k.stride(1), k.stride(2), v.data_ptr(), v.stride(0), v.stride(1), v.stride(2), seqlens.data_ptr(),
            indices.data_ptr(), indices.stride(0), counts.data_ptr(), out_k.data_ptr(), out_v.data_ptr(), out_k.stride(0), out_k.stride(1),
            out_k.stride(2), B, Hkv, D, N, max_seqlen, indices.shape[1], DTYPES[k.dtype], self._stream()))

    def select_lessismore_workspace(self, batch, hq, max_seqlen, budget, ratio, sinks) -> torch.Tensor:
        n = _size(0)
        self.check(self.lib.lim_select_lessismore_workspace_size(batch, hq, max_seqlen, budget, ratio, sinks, ctypes.byref(n)))
        return torch.empty(max(n.value, 16), dtype=torch.uint8, device="cuda")

    def select_lessismore(self, logits, seqlens, indices, counts, max_seqlen, budget, ratio, sinks, workspace):
        """logits float32 [B, Hq, >= max_seqlen]; indices int32 [B, >= budget]; counts int32 [B]."""
        B, Hq = logits.shape[0], logits.shape[1]
        self.check(self.lib.lim_select_lessismore(
            logits.data_ptr(), logits.stride(0), logits.stride(1), seqlens.data_ptr(), indices.data_ptr(), indices.stride(0),
            counts.data_ptr(), B, Hq, max_seqlen, budget, ratio, sinks, workspace.data_ptr(), workspace.numel(), self._stream()))

    def topk(self, values, indices, out_values, k, order=0, lengths=None):
        """values float32 [rows, length]; indices int32 [rows, >= k]; out_values float32 like indices, or None."""
        rows, length = values.shape
        self.check(self.lib.lim_topk(
            values.data_ptr(), values.stride(0), lengths.data_ptr() if lengths is not None else None, indices.data_ptr(), indices.stride(0),
            out_values.data_ptr() if out_values is not None else None, rows, length, k, order, self._stream()))

    def use_variant(self, kernel: str, variant) -> None:
        """Dispatch `kernel` to the named variant (None: back to the default schedule)."""
        self.check(self.lib.lim_use_variant(kernel.encode(), variant.encode() if variant else None))

    def check_device_status(self) -> None:
        self.check(self.lib.lim_check_device_status(self._stream()))
