"""One LessIsMore selection (top-k + union) at B 1, N 32K, K 2048 on random logits, for profilers:

    ncu --clock-control none --section SpeedOfLight --section WarpStateStats --section SourceCounters python3 bench/profile_selection.py
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from lessismore import Lim  # noqa: E402

B, HQ, N, K = 1, 32, 32768, 2048
lim = Lim(os.path.join(os.path.dirname(__file__), "..", "build", "liblim.so"))
logits = torch.randn(B, HQ, N, device="cuda")
seqlens = torch.full((B,), N, dtype=torch.int32, device="cuda")
indices = torch.empty(B, K, dtype=torch.int32, device="cuda")
counts = torch.empty(B, dtype=torch.int32, device="cuda")
ws = lim.select_lessismore_workspace(B, HQ, N, K, 0.25, 4)
for _ in range(3):
    lim.select_lessismore(logits, seqlens, indices, counts, N, K, 0.25, 4, ws)
lim.check_device_status()
print("selected", counts.tolist())
