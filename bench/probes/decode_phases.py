"""Where does one decode_attention launch spend its time? A probe, not part of the library (bench/NOTES.md section 27).

`patch` rewrites the contiguous decode_attention kernels of a generated folder (a copy made for the probe, never
generated/) so that each block stamps %globaltimer at its phases into a device buffer of its kernel file, which
the file exports a reader for. `run` builds nothing: it loads a library built from that folder, launches B 1
shapes (dense, and one sparse call over a shared list of 2048 positions) once (and as the last of a CUDA graph of 20, where the next launch overlaps the one before), and prints,
per phase, the earliest, median and latest block in microseconds from the first block's entry:

  entry       the block starts (before its prefetch and its wait on the preceding grid)
  prefetched  (one-wave launches) its first rows' L2 prefetches are issued
  pdl-wait    the preceding grid is done (programmatic dependent launch)
  prod-start  the producers start copying; prod-done: their last copy is issued
  tile0       the consumers hold the first tile; tile-last: the last one
  loop-done   the consumers' main loop is over
  partial     the block's output (one split) is stored
  merge-in    the last block of a head block starts merging the splits; merge-out: it is done
  copy0-in    the producers start issuing tile 0's copies; copy0-out: they have issued them (both paths)
  staged1     (lists and paged caches) the producers have staged tile 1's row addresses

The stamps cost ~2-3 us per launch (the probed library times 13.1 us where the plain one times 10.3 at B 1 4K),
so read phases, not totals. The patch matches the generated code's statements and fails, naming the statement,
when the kernel changes under it. Run on the GPU machine (bench/device), with the splits of the default planner:

  node bin/lim generate --head-dims 64,128,256 --group-sizes 4,8 --dtypes bf16 --caches contiguous --kv-dtypes auto --out genP.tmp
  python3 bench/probes/decode_phases.py patch genP.tmp
  bash bench/device/build.sh genP.tmp buildP
  python3 bench/probes/decode_phases.py run buildP/liblim.so genP.tmp
"""

import glob
import os
import sys

from stamps import Patch, Stamps, command_line, report

PHASES = ["entry", "pdl-wait", "prod-start", "prod-done", "tile0", "tile-last", "loop-done", "partial", "merge-in", "merge-out",
          "staged1", "copy0-in", "copy0-out", "prefetched"]


def kernel_files(folder: str):
    return sorted(glob.glob(os.path.join(folder, "kernels", "decode_attention__d*_contiguous__*.cu")))


def patch(folder: str):
    """Inserts the stamps into every contiguous decode_attention kernel of `folder`."""
    for path in kernel_files(folder):
        k = Patch(path, "decode_phases.py")
        k.insert(r"  if \(prefetch == 1\) \{[^\n]*\n", before="  if (threadIdx.x == 0) PROBE(0);\n")
        k.insert(r"  lim::wait_for_preceding_grid\(\);[^\n]*\n", before="  if (threadIdx.x == 0 && prefetch == 1) PROBE(13);\n", after="  if (threadIdx.x == 0) PROBE(1);\n")
        k.insert(r"  if \(lim::is_producer<s::threads>\(\)\) \{[^\n]*\n", after="    if (threadIdx.x == s::threads) PROBE(2);\n")
        k.insert(r"        copyTile\(tile, true\);[^\n]*\n      \}\n", after="      if (threadIdx.x == s::threads) PROBE(3);\n")
        k.insert(r"        lim::barrier_wait\(full\[stage\], tile / s::stages % 2\);[^\n]*\n",
                 after="        if (threadIdx.x == 0 && tile == 0) PROBE(4);\n        if (threadIdx.x == 0 && tile == tiles - 1) PROBE(5);\n")
        k.insert(r"            lim::sync_producers<\d+>\(\);[^\n]*\n", after="            if (threadIdx.x == s::threads && tile == 1) PROBE(10);\n")
        k.insert(r"    auto copyTile = \[&\]\(int tile, bool directly\) -> void \{[^\n]*\n", after="      if (threadIdx.x == s::threads && tile == 0) PROBE(11);\n")
        k.insert(r"      lim::cp_async_arrive\(full\[stage\]\);[^\n]*\n", after="      if (threadIdx.x == s::threads && tile == 0) PROBE(12);\n")
        k.insert(r"    lim::allow_dependent_grid\(\);[^\n]*\n(?=    lim::sync_consumers)", after="    if (threadIdx.x == 0) PROBE(6);\n")
        k.insert(r"  if \(splits > 1\) \{[^\n]*\n", before="  if (threadIdx.x == 0) PROBE(7);\n")
        k.insert(r"    if \(lim::last_to_arrive\([^\n]*\n", after="      if (threadIdx.x == 0) PROBE(8);\n")
        # The merge's end: the last statement of the kernel.
        k.insert(r"\n    \}\n  \}\n\}\n", before="\n      if (threadIdx.x == 0) PROBE(9);", last=True)
        k.save()


def run(library: str, folder: str):
    """Times the phases of B 1 launches of a library built from a patched folder."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, ".."), os.path.join(here, "..", "..", "python")]
    import torch
    from decode_attention import Case
    from lessismore import Lim

    lim = Lim(library)
    stamps = Stamps(library, kernel_files(folder))
    take = stamps.take

    def dense(c):
        ws = lim.decode_attention_workspace(1, c.hq, c.hkv, c.D, c.N, c.dtype)
        return lambda i: lim.decode_attention(*c.inputs[i % len(c.inputs)], c.seqlens, c.out, None, c.N, c.scale, ws)

    def sparse(c, budget):
        """Over a list of `budget` positions shared by the heads (sorted, as the union writes them)."""
        ws = lim.sparse_attention_workspace(1, c.hq, c.hkv, c.D, budget, c.dtype, False)
        lists = [torch.randperm(c.N, device="cuda")[:budget].sort().values.to(torch.int32).view(1, budget) for _ in c.inputs]
        counts = torch.full((1,), budget, dtype=torch.int32, device="cuda")
        return lambda i: lim.sparse_attention(*c.inputs[i % len(c.inputs)], c.seqlens, lists[i % len(lists)], counts,
                                              c.out, c.N, c.scale, ws)

    shapes = [(4096, 256, 4, None), (4096, 128, 8, None), (32768, 128, 8, None), (4096, 64, 8, None), (32768, 128, 8, 2048)]
    for n, d, hkv, budget in shapes:
        c = Case(1, n, d, hkv=hkv)
        call = dense(c) if budget is None else sparse(c, budget)
        print(f"B 1, N {n}, D {d}, G {c.hq // hkv}" + ("" if budget is None else f", sparse over {budget} positions"), flush=True)
        torch.cuda.synchronize()
        take()
        call(0)
        torch.cuda.synchronize()
        report("one launch", take(), PHASES)
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.Stream()
        with torch.cuda.graph(graph, stream=stream):
            for i in range(20):
                call(i)
        graph.replay()
        torch.cuda.synchronize()
        take()
        graph.replay()
        torch.cuda.synchronize()
        report("the last of a graph of 20", take(), PHASES)
        del graph, c
        torch.cuda.empty_cache()


if __name__ == "__main__":
    command_line(__doc__, patch, run)
