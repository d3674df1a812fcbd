"""Where does one top-k launch spend its time? A probe, not part of the library (bench/NOTES.md section 29).

`patch` rewrites the topk kernels of a generated folder (a copy made for the probe, never generated/) so that
thread 0 of each block stamps %globaltimer at the kernel's phases (bench/probes/stamps.py). `run` builds nothing:
it loads a library built from that folder, ranks the rows of the shapes of issue 12 once in rank order (and as
the last of a CUDA graph of 10), and prints per phase the earliest, median and latest block in microseconds from
the first block's entry, then the median time each block spends between consecutive phases:

  entry        the block starts (before waiting on the preceding grid)
  pdl-wait     the preceding grid is done
  pass0..2     a radix level's pass starts (its histogram cleared): over the slice, or after the first
               level over the candidates where they fit the pick buffer (rank order)
  sum0..2      the level's counts are the cluster's (after the reduce-scatter's second cluster barrier)
  digit0..2    the level's digit is found (after the scan and its block barrier)
  candidates   rank order: the keys at or above the first digit's bin are in the pick buffer (where they fit)
  compacted    the slice's picks are compacted (from the candidates in any order, or from the slice in position order)
  placed       the slices' counts are known (after the cluster barrier that publishes them)
  gathered     rank order: the row's picks are in every block of the cluster
  bucketed     rank order: the picks are counted into their buckets
  scanned      rank order: the buckets' starts and the block's owned ranks are known
  scattered    rank order: the owned buckets' members are side by side
  ranked       rank order: the block has the ranks of its share of the picks
  end          the block is done

The stamps cost a little (one global store per phase by one thread), so read phases, not totals. The patch
matches the generated code's statements and fails, naming the statement, when the kernel changes under it.
Run on the GPU machine (bench/device; `bash bench/device/suite.sh probe-topk` does all four), with the tuned
schedules (every topk variant of the default budgets, and one small variant of each other kernel for the library):

  node bin/lim generate --head-dims 128 --group-sizes 4 --dtypes bf16 --caches contiguous --kv-dtypes auto --out genT.tmp
  python3 bench/probes/topk_phases.py patch genT.tmp
  bash bench/device/build.sh genT.tmp buildT
  python3 bench/probes/topk_phases.py run buildT/liblim.so genT.tmp
"""

import glob
import os
import sys

from stamps import Patch, Stamps, command_line, durations, report

PHASES = ["entry", "pdl-wait", "pass0", "sum0", "digit0", "candidates", "pass1", "sum1", "digit1", "pass2", "sum2", "digit2",
          "compacted", "placed", "gathered", "bucketed", "scanned", "scattered", "ranked", "end"]


def kernel_files(folder: str):
    return sorted(glob.glob(os.path.join(folder, "kernels", "topk__*.cu")))


def patch(folder: str):
    """Inserts the stamps into every topk kernel of `folder`."""
    for path in kernel_files(folder):
        k = Patch(path, "topk_phases.py")
        k.insert(r"  lim::wait_for_preceding_grid\(\);[^\n]*\n", before="  if (threadIdx.x == 0) PROBE(0);\n", after="  if (threadIdx.x == 0) PROBE(1);\n")
        # In the level loop (unrolled by the compiler, `level` 0..2): after the histogram's clearing barrier,
        # where the counts are read, after the barrier that publishes the digit, and at the level's end (where
        # level 0 has moved its candidates). Slot 5 ("candidates") sits between the first level and the second.
        level_slot = "3 * level + (level > 0 ? 1 : 0)"
        k.insert(r"    \}\n    __syncthreads\(\);[^\n]*\n(?=    if \(level > 0 && remaining > 0 && candidates\(\)\) \{)", after=f"    if (threadIdx.x == 0) PROBE(2 + {level_slot});\n")
        k.insert(r"    auto countOf = \[&\]\(int bin\) -> int \{[^\n]*\n", before=f"    if (threadIdx.x == 0) PROBE(3 + {level_slot});\n")
        k.insert(r"    __syncthreads\(\);[^\n]*\n(?=    if \(remaining > 0\) \{)", after=f"    if (threadIdx.x == 0) PROBE(4 + {level_slot});\n")
        k.insert(r"  \}\n(?=  const unsigned threshold = prefix;)", before="    if (level == 0 && threadIdx.x == 0) PROBE(5);\n")
        k.insert(r"  const int count = ordered \? runAbove \+ min\(runTies, ties\) : cursor\[0\];[^\n]*\n", after="  if (threadIdx.x == 0) PROBE(12);\n")
        k.insert(r"  if \(byPosition != 0\) \{[^\n]*\n", before="  if (threadIdx.x == 0) PROBE(13);\n")
        k.insert(r"    const unsigned spread = [^\n]*\n", before="    if (threadIdx.x == 0) PROBE(14);\n")
        # The ranking's steps: after the bucket counts' barrier, after the scan's barrier (the bounds of the
        # owned ranks), after the scatter's barrier (only where no bucket is crowded).
        k.insert(r"      atomicAdd\(&hist\[bucketOf\(i\)\], 1\);[^\n]*\n    \}\n    __syncthreads\(\);[^\n]*\n", after="    if (threadIdx.x == 0) PROBE(15);\n")
        k.insert(r"      above \+= picks;[^\n]*\n    \}\n    __syncthreads\(\);[^\n]*\n", after="    if (threadIdx.x == 0) PROBE(16);\n")
        k.insert(r"      __syncthreads\(\);[^\n]*\n(?=      for \(int m = from)", after="      if (threadIdx.x == 0) PROBE(17);\n")
        k.insert(r"    const int seq = row / rowsPerSeq;[^\n]*\n", before="    if (threadIdx.x == 0) PROBE(18);\n")
        k.insert(r"\n\}\n\nlim::SharedMemoryOptIn", before="\n  if (threadIdx.x == 0) PROBE(19);")
        k.save()


def run(library: str, folder: str):
    """Times the phases of rank-order top-k launches of a library built from a patched folder."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, ".."), os.path.join(here, "..", "..", "python")]
    import torch
    from lessismore import Lim

    lim = Lim(library)
    stamps = Stamps(library, kernel_files(folder))
    for rows, length, k in [(32, 32768, 2048), (32, 131072, 4096), (256, 32768, 2048)]:
        inputs = [torch.randn(rows, length, device="cuda") for _ in range(4)]
        idx = torch.empty(rows, k, dtype=torch.int32, device="cuda")
        vals = torch.empty(rows, k, device="cuda")
        print(f"{rows} rows x {length}, k {k}, rank order", flush=True)
        torch.cuda.synchronize()
        stamps.take()
        lim.topk(inputs[0], idx, vals, k)
        torch.cuda.synchronize()
        blocks = stamps.take()
        report("one launch", blocks, PHASES)
        print("    per block, median time between phases:\n    " + durations(blocks, PHASES), flush=True)
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.Stream()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(10):
                lim.topk(inputs[i % len(inputs)], idx, vals, k)
        graph.replay()
        torch.cuda.synchronize()
        stamps.take()
        graph.replay()
        torch.cuda.synchronize()
        blocks = stamps.take()
        report("the last of a graph of 10", blocks, PHASES)
        print("    per block, median time between phases:\n    " + durations(blocks, PHASES), flush=True)
        del graph, inputs
        torch.cuda.empty_cache()


if __name__ == "__main__":
    command_line(__doc__, patch, run)
