"""The full-attention baseline a decode speed-up is measured against: PyTorch's fastest SDPA backend on the
same decode shape, timed the way the benchmarks time our kernels (lessismore.timing: CUDA-graph replays,
inputs rotated past the L2).

    python3 -m lessismore.baseline --batch 1 --q-heads 32 --kv-heads 8 --length 32768 --head-dim 128 --dtype bf16

prints one JSON object: every backend's microseconds per call (null with the reason where it cannot run),
and the fastest. `lim decode` runs it to time full attention with the fastest kernel available.
"""

import argparse
import json
import math

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .library import DTYPES as DTYPE_NAMES
from .timing import input_sets_for, reps_for, time_us

BACKENDS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}
DTYPES = {name: dtype for dtype, name in DTYPE_NAMES.items()}  # "bf16" -> torch.bfloat16, as lim decode names them


def sdpa_decode_us(batch: int, q_heads: int, kv_heads: int, length: int, head_dim: int, dtype: str) -> dict:
    """Microseconds of one decode attention call (one query token over `length` cached tokens) per backend."""
    t = DTYPES[dtype]
    kv_bytes = 2 * batch * kv_heads * length * head_dim * torch.finfo(t).bits // 8
    gen = torch.Generator(device="cuda").manual_seed(length)
    inputs = [(torch.randn(batch, q_heads, 1, head_dim, device="cuda", dtype=t, generator=gen),
               torch.randn(batch, kv_heads, length, head_dim, device="cuda", dtype=t, generator=gen),
               torch.randn(batch, kv_heads, length, head_dim, device="cuda", dtype=t, generator=gen))
              for _ in range(input_sets_for(kv_bytes))]
    scale = 1.0 / math.sqrt(head_dim)
    result = {}
    for name, backend in BACKENDS.items():
        def call(q, k, v, backend=backend):
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True)
        try:
            us, method = time_us([lambda q=q, k=k, v=v: call(q, k, v) for q, k, v in inputs], reps=reps_for(kv_bytes / 2.5e6))
            result[name] = {"us": us, "timing": method}
        except RuntimeError as e:
            result[name] = {"us": None, "error": str(e).splitlines()[0][:160]}
    timed = {n: r["us"] for n, r in result.items() if r["us"] is not None}
    best = min(timed, key=timed.get) if timed else None
    return {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "backends": result, "best": best,
            "best_us": timed[best] if best else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag in ("--batch", "--q-heads", "--kv-heads", "--length", "--head-dim"):
        ap.add_argument(flag, type=int, required=True)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    a = ap.parse_args()
    print(json.dumps(sdpa_decode_us(a.batch, a.q_heads, a.kv_heads, a.length, a.head_dim, a.dtype)))


if __name__ == "__main__":
    main()
