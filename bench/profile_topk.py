"""One top-k shape with a chosen generated variant, for profilers and for a rank/position-order timing:

    python3 bench/profile_topk.py --variant topk__k2048__t512_i4_c16384_b2_x1 [--rows 32 --length 32768 --k 2048] [--time]
    ncu --clock-control none --kernel-name regex:topk --launch-skip 3 --launch-count 1 --section LaunchStats python3 bench/profile_topk.py --variant ...

Without --time it runs the rank-order top-k five times (what a profiler samples); with --time it prints the
CUDA-graph time of both orders.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from lessismore import Lim  # noqa: E402
from lessismore.timing import time_us  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--variant", default=None, help="a generated top-k variant (default: the dispatched one)")
ap.add_argument("--rows", type=int, default=32)
ap.add_argument("--length", type=int, default=32768)
ap.add_argument("--k", type=int, default=2048)
ap.add_argument("--time", action="store_true")
args = ap.parse_args()

lim = Lim(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "liblim.so"))
if args.variant:
    lim.use_variant("topk", args.variant)
gen = torch.Generator(device="cuda").manual_seed(7)
sets = [torch.randn(args.rows, args.length, device="cuda", generator=gen) for _ in range(8)]
idx = torch.empty(args.rows, args.k, device="cuda", dtype=torch.int32)
if args.time:
    rank, _ = time_us([lambda x=x: lim.topk(x, idx, None, args.k, order=0) for x in sets], reps=40)
    position, _ = time_us([lambda x=x: lim.topk(x, idx, None, args.k, order=1) for x in sets], reps=40)
    print(f"{args.variant or 'default'}: {args.rows} x {args.length}, k {args.k}: rank order {rank:.1f} us, position order {position:.1f} us")
else:
    for _ in range(5):
        lim.topk(sets[0], idx, None, args.k)
lim.check_device_status()
