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
        f.argtypes = [_p, _i64, _i64, _p, _i64, _i64, _i64, _p, _i64, _i64, _i64, _p, _p, _i64, _i64, _p,
                      _i32, _i32, _i32, _i32, _i32, _i32, ctypes.c_int, _f32, _p, _size, _p]
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

    def decode_attention(self, q, k, v, seqlens, out, lse, max_seqlen, scale, workspace, stream=None):
        """q, out [B, Hq, D]; k, v [B, Hkv, Nmax, D]; seqlens int32 [B]; lse float32 [B, Hq] or None."""
        B, Hq, D = q.shape
        Hkv, N = k.shape[1], k.shape[2]
        s = torch.cuda.current_stream().cuda_stream if stream is None else stream
        self.check(self.lib.lim_decode_attention(
            q.data_ptr(), q.stride(0), q.stride(1),
            k.data_ptr(), k.stride(0), k.stride(1), k.stride(2),
            v.data_ptr(), v.stride(0), v.stride(1), v.stride(2),
            seqlens.data_ptr(), out.data_ptr(), out.stride(0), out.stride(1),
            lse.data_ptr() if lse is not None else None,
            B, Hq, Hkv, D, N, max_seqlen, DTYPES[q.dtype], scale,
            workspace.data_ptr(), workspace.numel(), s))

    def use_variant(self, kernel: str, variant) -> None:
        """Dispatch `kernel` to the named variant (None: back to the default schedule)."""
        self.check(self.lib.lim_use_variant(kernel.encode(), variant.encode() if variant else None))

    def check_device_status(self) -> None:
        self.check(self.lib.lim_check_device_status(torch.cuda.current_stream().cuda_stream))
