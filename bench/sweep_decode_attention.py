"""Times every decode_attention variant of a library on a few shapes (a schedule sweep) beside SDPA.

    python3 bench/sweep_decode_attention.py --lib build/sweep/liblim.so --manifest build/sweep/generated/manifest.json

Each variant is chosen through lim_use_variant, checked against SDPA's output on the first input set
(variants off by more than 1e-2 are reported and not ranked), then timed. Prints, per (G, shape), the
fastest schedules and the heuristic's rank; writes JSON under bench/results/.
"""

import argparse
import datetime
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from decode_attention import BACKENDS, Case  # noqa: E402
from lim_ctypes import Lim  # noqa: E402

SHAPES = [(1, 4096), (1, 32768), (8, 32768), (32, 32768)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    lim = Lim(args.lib)
    manifest = json.load(open(args.manifest))
    variants = [v for v in manifest["variants"] if v["kernel"] == "decode_attention"]
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}; {len(variants)} variants", flush=True)
    results = []
    for G in sorted({v["constants"]["G"] for v in variants}):
        for D in sorted({v["constants"]["D"] for v in variants if v["constants"]["G"] == G}):
            group = [v for v in variants if v["constants"]["G"] == G and v["constants"]["D"] == D]
            for B, N in SHAPES:
                case = Case(B, N, D, hq=8 * G, hkv=8)
                sdpa = min(case.sdpa(b)[0] for b in BACKENDS.values())
                timings = []
                for v in group:
                    lim.use_variant("decode_attention", v["name"])
                    us, rel, _ = case.ours(lim)
                    timings.append({"variant": v["name"], "schedule": v["schedule"], "origin": v["scheduleOrigin"], "us": us, "rel_err": rel})
                lim.use_variant("decode_attention", None)
                ok = sorted((t for t in timings if t["rel_err"] < 1e-2), key=lambda t: t["us"])
                bad = [t for t in timings if t["rel_err"] >= 1e-2]
                heur = next((i for i, t in enumerate(ok) if t["origin"] == "heuristic"), None)
                heur_text = f"heuristic rank {heur} ({ok[heur]['us']:.1f} us)" if heur is not None else "heuristic missing or wrong"
                print(f"\nG {G} D {D} B {B} N {N}: SDPA best {sdpa:.1f} us; {heur_text}", flush=True)
                for t in ok[:5]:
                    print(f"  {t['us']:8.1f} us {case.kv_bytes / t['us'] / 1e6:5.2f} TB/s  {t['variant']}")
                for t in bad:
                    print(f"  WRONG (rel err {t['rel_err']:.2e}): {t['variant']}")
                results.append({"G": G, "D": D, "B": B, "N": N, "sdpa_best_us": sdpa, "kv_bytes": case.kv_bytes, "timings": timings})
                del case
                torch.cuda.empty_cache()
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.out, f"sweep_decode_attention-{props.name.replace(' ', '_')}-{stamp}.json")
    json.dump({"device": props.name, "date": stamp, "results": results}, open(path, "w"), indent=1)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
