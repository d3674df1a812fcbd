"""Shared by the phase probes (decode_phases.py, topk_phases.py, union_phases.py): %globaltimer stamps patched into a copy of
generated kernels, and the host side that reads them back. A probe, not part of the library.

Each probed kernel file gets a device buffer of BLOCKS x SLOTS stamps, a PROBE(slot) macro that stores the
time at (this block, slot), and an exported reader `lim_probe_take__<variant>` that copies the buffer out and
clears it.
"""

import argparse
import ctypes
import os
import re
import statistics
import sys

SLOTS = 20  # stamps per block (the most a probe stamps: 20, topk_phases.py)
BLOCKS = 4096  # blocks per launch the buffer holds (the stamps of blocks past them are dropped)


class Patch:
    """The source of one kernel file, with stamps inserted at statements found by pattern."""

    def __init__(self, path: str, probe_name: str):
        self.path, self.probe_name = path, probe_name
        self.name = os.path.basename(path)[:-3]
        self.code = open(path).read()
        buffer = f"probe_{self.name}"
        block = "(blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z))"
        header = (
            f"\n__device__ unsigned long long {buffer}[{BLOCKS * SLOTS}];\n"
            f"#define PROBE(slot) do {{ unsigned long long t; asm volatile(\"mov.u64 %0, %%globaltimer;\" : \"=l\"(t)); "
            f"if ({block} < {BLOCKS}) {buffer}[{block} * {SLOTS} + (slot)] = t; }} while (0)\n"
            f"extern \"C\" int lim_probe_take__{self.name}(unsigned long long* host) {{\n"
            f"  static unsigned long long zeros[{BLOCKS * SLOTS}];\n"
            f"  if (cudaMemcpyFromSymbol(host, {buffer}, sizeof zeros) != cudaSuccess) return 1;\n"
            f"  return cudaMemcpyToSymbol({buffer}, zeros, sizeof zeros) != cudaSuccess;\n"
            f"}}\n")
        self.insert(r'#include "lim_device.cuh"\n', after=header)

    def insert(self, pattern: str, before: str = "", after: str = "", last: bool = False):
        """Puts `before` and `after` around the first (or last) match of `pattern`; exits naming it if none."""
        found = list(re.finditer(pattern, self.code))
        if not found:
            sys.exit(f"{self.path}: no statement matches {pattern!r}: the kernel changed; update bench/probes/{self.probe_name}")
        m = found[-1] if last else found[0]
        self.code = self.code[:m.start()] + before + m.group(0) + after + self.code[m.end():]

    def save(self):
        open(self.path, "w").write(self.code)
        print("probed", self.name)


def refuse_generated(folder: str):
    """The probed kernels are not the library's: a probe patches a copy (lim generate --out DIR)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.realpath(folder) == os.path.realpath(os.path.join(here, "..", "..", "generated")):
        sys.exit("patch a copy (lim generate --out DIR), not generated/: the probed kernels are not the library's")


class Stamps:
    """Reads the stamps of the probed kernels of a library built from a patched folder."""

    def __init__(self, library: str, files: list):
        raw = ctypes.CDLL(library)
        self.readers = [getattr(raw, "lim_probe_take__" + os.path.basename(p)[:-3]) for p in files]
        self.host = (ctypes.c_ulonglong * (BLOCKS * SLOTS))()

    def take(self):
        """The stamps of the kernel that ran since the last take (each reader also clears its buffer): one list
        of SLOTS per block that stamped."""
        found = []
        for reader in self.readers:
            if reader(self.host) != 0:
                sys.exit("reading a probe buffer failed")
            values = list(self.host)
            if any(values) and not found:
                found = [values[i * SLOTS:(i + 1) * SLOTS] for i in range(BLOCKS) if values[i * SLOTS]]
        return found


def since(blocks: list, slot: int, t0: int) -> list:
    """One slot's stamps in microseconds from t0, ascending; stamps left by an earlier launch (of a graph) come
    before t0 and are skipped."""
    return sorted((b[slot] - t0) / 1e3 for b in blocks if b[slot] >= t0)


def report(label: str, blocks: list, phases: list):
    """Per phase, the earliest, median and latest block in microseconds from the first block's entry (slot 0)."""
    t0 = min(b[0] for b in blocks)
    lines = []
    for slot, phase in enumerate(phases):
        v = since(blocks, slot, t0)
        if v:
            lines.append(f"{phase:<12} {min(v):6.2f} {statistics.median(v):6.2f} {max(v):6.2f}")
    print(f"  {label}: {len(blocks)} blocks, us from the first entry (min / median / max)\n    " + "\n    ".join(lines), flush=True)


def durations(blocks: list, phases: list):
    """The median over blocks of the time from each phase a block stamped to its next stamped phase."""
    spans = {}
    for b in blocks:
        stamped = [(slot, t) for slot, t in enumerate(b) if t]
        for (s0, t0), (s1, t1) in zip(stamped, stamped[1:]):
            spans.setdefault(f"{phases[s0]} -> {phases[s1]}", []).append((t1 - t0) / 1e3)
    return "\n    ".join(f"{name:<26} {statistics.median(v):6.2f} (max {max(v):6.2f})" for name, v in spans.items())


def command_line(doc: str, patch, run):
    """A probe's command line: `patch FOLDER` stamps a generated copy, `run LIBRARY FOLDER` times the phases."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("patch", help="stamp the kernels of a generated folder (a copy)").add_argument("folder")
    r = sub.add_parser("run", help="time the phases with a library built from a patched folder")
    r.add_argument("library")
    r.add_argument("folder", help="the patched generated folder the library was built from")
    args = ap.parse_args()
    if args.command == "patch":
        refuse_generated(args.folder)
        patch(args.folder)
    else:
        run(args.library, args.folder)
