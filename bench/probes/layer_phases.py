"""Where does a selection layer's time go between its kernels? A probe, not part of the library (bench/NOTES.md section 36).

The layer (attention writing the logits, then `select_lessismore`: the first-pick keys cleared, the top-k, the
union) costs more than its parts timed one after another alone. `patch` stamps a generated copy's contiguous
decode_attention, clear_first_picks, topk and lessismore_union kernels: the first three probes' stamps
(decode_phases.py, topk_phases.py, union_phases.py) and, in clear_first_picks, its entry and its end after the
wait. %globaltimer is one clock for all of them, so `run` (a library built from that folder) prints, for the last
layer of a CUDA graph of 10 layers, one timeline in microseconds from the attention's first block's entry:

  attention   first entry, pdl-wait (first / last block), last partial, last merge-out (its end)
  clear       first entry, last end (its stores are done, then it waited for the attention)
  topk        first entry, pdl-wait (first / last block), last end
  union       first entry, pdl-wait (first / last block), last end

and the gaps that matter: each kernel's release (its first block past the wait) after the end of the kernel it
waits on. The stamps cost a little, so read the gaps, not the totals. Run on the GPU machine (bench/device):

  node bin/lim generate --head-dims 128 --group-sizes 4 --dtypes bf16 --caches contiguous --kv-dtypes auto --out genL.tmp
  python3 bench/probes/layer_phases.py patch genL.tmp
  bash bench/device/build.sh genL.tmp buildL
  python3 bench/probes/layer_phases.py run buildL/liblim.so genL.tmp
"""

import glob
import os
import sys

import decode_phases
import topk_phases
import union_phases
from stamps import Patch, Stamps, command_line, since

# Slots of each kernel's stamps (its probe's PHASES): entry, pdl-wait and the one that ends the kernel.
ATTENTION = {"entry": 0, "pdl-wait": 1, "partial": 7, "end": 9}
CLEAR = {"entry": 0, "end": 1}
TOPK = {"entry": 0, "pdl-wait": 1, "end": 19}
UNION = {"entry": 0, "pdl-wait": 1, "end": 7}


def clear_files(folder: str):
    return sorted(glob.glob(os.path.join(folder, "kernels", "clear_first_picks__*.cu")))


def patch(folder: str):
    """The three kernel probes' stamps, and the clear kernel's entry and end."""
    decode_phases.patch(folder)
    topk_phases.patch(folder)
    union_phases.patch(folder)
    for path in clear_files(folder):
        k = Patch(path, "layer_phases.py")
        k.insert(r"  const int b = static_cast<int>\(blockIdx\.y\);[^\n]*\n", before="  if (threadIdx.x == 0) PROBE(0);\n")
        k.insert(r"  lim::wait_for_preceding_grid\(\);[^\n]*\n", after="  if (threadIdx.x == 0) PROBE(1);\n")
        k.save()


def run(library: str, folder: str):
    """The timeline of the last layer of a graph of 10, at B 1 and 8 over 32K and B 1 over 128K."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, ".."), os.path.join(here, "..", "..", "python")]
    import torch
    from lessismore import Lim
    from selection import SelectionLayer

    lim = Lim(library)
    kernels = {"attention": (decode_phases.kernel_files(folder), ATTENTION), "clear": (clear_files(folder), CLEAR),
               "topk": (topk_phases.kernel_files(folder), TOPK), "union": (union_phases.kernel_files(folder), UNION)}
    readers = {name: Stamps(library, files) for name, (files, _) in kernels.items()}
    for B, N, budget in [(1, 32768, 2048), (8, 32768, 2048), (1, 131072, 2048)]:
        layer = SelectionLayer(B, N, budget, seed=B + N)
        call = layer.calls(lim)
        graph, stream = torch.cuda.CUDAGraph(), torch.cuda.Stream()
        with torch.cuda.graph(graph, stream=stream):
            for _ in range(10):
                call["layer"]()
        graph.replay()
        torch.cuda.synchronize()
        for r in readers.values():
            r.take()
        graph.replay()
        torch.cuda.synchronize()
        lim.check_device_status()
        blocks = {name: r.take() for name, r in readers.items()}
        # The last layer's attention: its blocks' entries are the latest ones (each block keeps its last stamps).
        t0 = min(b[0] for b in blocks["attention"])
        print(f"B {B}, N {N}, K {budget}: the last layer of a graph of 10, us from the attention's first entry", flush=True)
        ends = {}
        for name, (_, slots) in kernels.items():
            times = {phase: since(blocks[name], slot, t0) for phase, slot in slots.items()}
            parts = [f"{phase} {v[0]:7.2f}" + (f" .. {v[-1]:7.2f}" if phase != "entry" else "") for phase, v in times.items() if v]
            print(f"  {name:<10} ({len(blocks[name])} blocks) " + "   ".join(parts), flush=True)
            ends[name] = times["end"][-1] if times["end"] else None
            if "pdl-wait" in times and times["pdl-wait"]:
                ends[name + " released"] = times["pdl-wait"][0]
        for waiter, waited in (("topk", "attention"), ("union", "topk")):
            if ends.get(waiter + " released") is not None and ends.get(waited) is not None:
                print(f"  {waiter} released {ends[waiter + ' released'] - ends[waited]:5.2f} us after the {waited}'s last stamp", flush=True)
        del graph
        torch.cuda.empty_cache()


if __name__ == "__main__":
    command_line(__doc__, patch, run)
