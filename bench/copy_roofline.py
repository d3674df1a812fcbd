"""The copy roofline: device-to-device copy bandwidth of this GPU (bytes read + bytes written over time).

    python3 bench/copy_roofline.py [--out bench/results]

Decode attention reads K and V once, so its bandwidth is compared with this number. Writes JSON under --out.
"""

import argparse
import datetime
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from lessismore.timing import time_us  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    props = torch.cuda.get_device_properties(0)
    rows = []
    for mb in (256, 1024, 4096):
        n = mb * 2**20 // 2
        src = torch.empty(n, dtype=torch.bfloat16, device="cuda").normal_()
        dst = torch.empty_like(src)
        us, method = time_us([lambda: dst.copy_(src)], reps=5)
        rows.append({"MB": mb, "us": us, "TBps": 2 * n * 2 / us / 1e6, "timing": method})
        print(f"copy {mb:>5} MB: {us:9.1f} us  {rows[-1]['TBps']:.2f} TB/s (read + write)", flush=True)
        del src, dst
        torch.cuda.empty_cache()
    best = max(r["TBps"] for r in rows)
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.out, f"copy_roofline-{props.name.replace(' ', '_')}-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"device": props.name, "torch": torch.__version__, "date": stamp, "copy_TBps": best, "rows": rows}, f, indent=1)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
