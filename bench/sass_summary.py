"""Summarises the per-instruction CSV of Nsight Compute's SourceCounters section (`--section SourceCounters
--page source --print-source sass --csv`, as `bash bench/device/suite.sh profile-decode` writes it): the share of
each stall reason over all warp samples, warp instructions executed by class (the copies, the predicated-off
shared loads that ptxas pads them with, the other shared loads, the mmas), and every instruction holding at least
--min percent of the samples with its two largest stall reasons.

    python3 bench/sass_summary.py sass-1.csv [more.csv ...] [--min 0.8]
"""

import argparse
import csv

SAMPLES = "Warp Stall Sampling (All Samples)"
EXECUTED = "Instructions Executed"
CLASSES = {
    "cp.async (LDGSTS)": lambda s: "LDGSTS" in s,
    "predicated-off LDS": lambda s: "@!PT" in s and "LDS RZ, [RZ]" in s,
    "other LDS": lambda s: " LDS" in s and "LDS RZ, [RZ]" not in s,
    "mma (HMMA)": lambda s: "HMMA" in s,
}


def number(text: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def read(path: str) -> tuple[list[str], list[list[str]]]:
    """The header row (the one starting "Address") and the instruction rows after it."""
    rows = list(csv.reader(open(path)))
    start = next(i for i, r in enumerate(rows) if r and r[0] == "Address")
    header = rows[start]
    return header, [r for r in rows[start + 1:] if len(r) == len(header)]


def summarise(path: str, least: float) -> None:
    header, rows = read(path)
    col = {name: i for i, name in enumerate(header)}
    stalls = [h for h in header if h.startswith("stall_") and "Not Issued" not in h]
    total = sum(number(r[col[SAMPLES]]) for r in rows) or 1.0
    executed = sum(number(r[col[EXECUTED]]) for r in rows)
    print(f"{path}: {len(rows)} instructions, {total:.0f} samples, {executed:.0f} warp instructions executed")
    shares = sorted(((sum(number(r[col[s]]) for r in rows) / total * 100, s[6:]) for s in stalls), reverse=True)
    print("  stalls: " + ", ".join(f"{name} {share:.1f}%" for share, name in shares[:8]))
    print("  executed: " + ", ".join(f"{name} {sum(number(r[col[EXECUTED]]) for r in rows if test(r[1])):.0f}" for name, test in CLASSES.items()))
    for i, r in enumerate(rows):
        share = number(r[col[SAMPLES]]) / total * 100
        if share >= least:
            top = sorted(((number(r[col[s]]), s[6:]) for s in stalls), reverse=True)[:2]
            reasons = ", ".join(f"{name} {count:.0f}" for count, name in top if count > 0)
            print(f"  {i:5d} {share:5.1f}%  executed {number(r[col[EXECUTED]]):8.0f}  {r[1].strip()[:64]:64s}  {reasons}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("csv", nargs="+")
    ap.add_argument("--min", type=float, default=0.8, help="list instructions with at least this percent of the samples")
    args = ap.parse_args()
    for path in args.csv:
        summarise(path, args.min)


if __name__ == "__main__":
    main()
