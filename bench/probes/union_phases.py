"""Where does one LessIsMore union launch spend its time? A probe, not part of the library (bench/NOTES.md section 33).

`patch` rewrites the lessismore_union kernels of a generated folder (a copy made for the probe, never
generated/) so that thread 0 of each block stamps %globaltimer at the kernel's phases (bench/probes/stamps.py).
`run` builds nothing: it loads a library built from that folder, lowers random logits to first-pick keys
(`select_lessismore_local_keys`), then forms the set from them, once alone and as the last pair of a CUDA graph
of 10 (keys then union, as `select_lessismore` chains them), and prints per phase the earliest, median and
latest block in microseconds from the first block's entry, then the median time each block spends between
consecutive phases:

  entry      the block starts (before it clears its bitmap and waits on the preceding grid)
  pdl-wait   the preceding grid (the top-k) is done
  marked     the slice's first-pick keys are marked in the block's bitmap
  ored       every block's bitmap is the cluster's OR (after the second cluster barrier)
  cut        the key of the middle-th mark is known (after the block barrier that publishes it)
  placed     the block has counted its kept tokens and the cluster has published every slice's count
             (after the cluster barrier)
  compacted  the slice's part of the set is stored
  end        the block is done

The stamps cost a little (one global store per phase by one thread), so read phases, not totals. The patch
matches the generated code's statements and fails, naming the statement, when the kernel changes under it.
Run on the GPU machine (bench/device):

  node bin/lim generate --head-dims 128 --group-sizes 4 --dtypes bf16 --caches contiguous --kv-dtypes auto --out genU.tmp
  python3 bench/probes/union_phases.py patch genU.tmp
  bash bench/device/build.sh genU.tmp buildU
  python3 bench/probes/union_phases.py run buildU/liblim.so genU.tmp
"""

import glob
import os
import sys

from stamps import Patch, Stamps, command_line, durations, report

PHASES = ["entry", "pdl-wait", "marked", "ored", "cut", "placed", "compacted", "end"]
HQ, R, S = 32, 0.25, 4  # query heads, recency ratio and sinks, as bench/selection.py times them


def kernel_files(folder: str):
    return sorted(glob.glob(os.path.join(folder, "kernels", "lessismore_union__*.cu")))


def patch(folder: str):
    """Inserts the stamps into every lessismore_union kernel of `folder` (clusters of more than one block)."""
    for path in kernel_files(folder):
        k = Patch(path, "union_phases.py")
        k.insert(r"  const int n = seqlens\.load\(b\);[^\n]*\n", before="  if (threadIdx.x == 0) PROBE(0);\n")
        k.insert(r"\n  lim::wait_for_preceding_grid\(\);[^\n]*\n", after="  if (threadIdx.x == 0) PROBE(1);\n")
        k.insert(r"\n    lim::cluster_sync\(\);[^\n]*\n(?=    const int share)", before="\n    if (threadIdx.x == 0) PROBE(2);")
        k.insert(r"  auto& cut = ", before="  if (threadIdx.x == 0) PROBE(3);\n")
        k.insert(r"  const unsigned cutKey = ", before="  if (threadIdx.x == 0) PROBE(4);\n")
        k.insert(r"  int slot = written \+ scan\[0\];", before="  if (threadIdx.x == 0) PROBE(5);\n")
        k.insert(r"  if \(static_cast<int>\(threadIdx\.x\) == 0 && rank == CLUSTER - 1\) \{", before="  if (threadIdx.x == 0) PROBE(6);\n")
        k.insert(r"\n\}\n\nlim::SharedMemoryOptIn", before="\n  if (threadIdx.x == 0) PROBE(7);")
        k.save()


def run(library: str, folder: str):
    """Times the phases of union launches of a library built from a patched folder."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, ".."), os.path.join(here, "..", "..", "python")]
    import torch
    from lessismore import Lim

    lim = Lim(library)
    stamps = Stamps(library, kernel_files(folder))
    for B, N, budget in [(1, 32768, 2048), (1, 131072, 2048), (8, 32768, 2048)]:
        logits = torch.randn(B, HQ, N, device="cuda")
        seqlens = torch.full((B,), N, dtype=torch.int32, device="cuda")
        keys = torch.empty(B, N, dtype=torch.int32, device="cuda")
        indices = torch.empty(B, budget, dtype=torch.int32, device="cuda")
        counts = torch.empty(B, dtype=torch.int32, device="cuda")

        def local_keys():
            lim.select_lessismore_local_keys(logits, seqlens, keys, 0, HQ, N, budget, R, S)

        def union():
            lim.select_lessismore_union(keys, seqlens, indices, counts, HQ, N, budget, R, S)

        print(f"B {B}, N {N}, K {budget}", flush=True)
        local_keys()
        torch.cuda.synchronize()
        stamps.take()
        union()
        torch.cuda.synchronize()
        lim.check_device_status()
        blocks = stamps.take()
        report("one launch", blocks, PHASES)
        t0 = min(b[0] for b in blocks)
        print("    marked, per block of the first cluster: " + " ".join(f"{(b[2] - t0) / 1e3:.2f}" for b in blocks[:8]), flush=True)
        print("    per block, median time between phases:\n    " + durations(blocks, PHASES), flush=True)
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.Stream()
        with torch.cuda.graph(graph, stream=stream):
            for _ in range(10):
                local_keys()
                union()
        graph.replay()
        torch.cuda.synchronize()
        stamps.take()
        graph.replay()
        torch.cuda.synchronize()
        blocks = stamps.take()
        report("the last of a graph of 10 (keys, union)", blocks, PHASES)
        print("    per block, median time between phases:\n    " + durations(blocks, PHASES), flush=True)
        del graph
        torch.cuda.empty_cache()


if __name__ == "__main__":
    command_line(__doc__, patch, run)
