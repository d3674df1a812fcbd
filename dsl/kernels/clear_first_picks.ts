// The first step of a LessIsMore selection: every token's first-pick key set to "no pick" before the heads'
// top-k lowers the keys of the tokens they pick (dsl/kernels/topk.ts) and the union reads them
// (dsl/kernels/lessismore_union.ts).
//
// "No pick" is 0x7f7f7f7f: above every key the union holds (at most 2^20), and positive read as int32 too, so
// that engines may all-reduce the keys as int32 or uint32 alike (docs/tensor-parallel.md).
//
// A kernel rather than a memset: the keys are not what the preceding kernel (the attention writing the logits)
// writes, so this kernel starts as that kernel's programmatic dependent and its stores go out while it
// finishes; the top-k follows as this kernel's dependent. A memset between the two was a node of its own that
// neither overlapped. Its wait on the preceding kernel comes last, so that it completes only after that kernel
// has and the top-k's wait on it covers the logits too. Its stores may begin before the preceding kernel ends,
// which is safe as long as nothing earlier in the stream still reads the keys: a kernel lets its dependents
// launch only after its own wait (the library's attention does), or at its end. Letting the top-k launch
// before that wait (griddepcontrol.launch_dependents) was 0.5-2.5 us faster at 16K-128K tokens and 0.5 us
// slower at 4K-8K; without it no shape measured more than 0.2 us slower than the memset, and 4K-8K 0.9-1.3 us
// faster (bench/NOTES.md section 34).

import {
  blockIdx, defineKernel, threadIdx, u32, unroll, waitForPrecedingGrid,
  type ConstantsOf, type Out, type ScheduleOf,
} from "../lang/index.js";

export const clearFirstPicks = defineKernel({
  spec: {
    name: "clear_first_picks",
    summary: "every first-pick key of [B, Nmax] set to no pick (0x7f7f7f7f) while the preceding kernel finishes",
    constants: {},
    schedule: {
      threads: { tag: "t", values: [256, 512] },
      items: { tag: "i", values: [4, 8] }, // keys each thread stores
    },
    grid: { x: "ceilDiv(Nmax, s.threads * s.items)", y: "B" },
    overlapsPrecedingKernel: true,
  },
  // A 32K row is 16 blocks of 256 x 8 keys: spread over SMs the attention leaves free as it finishes.
  heuristic: () => ({ threads: 256, items: 8 }),
  rules: [],
});

export function clear_first_picks(
  c: ConstantsOf<typeof clearFirstPicks.spec>,
  s: ScheduleOf<typeof clearFirstPicks.spec>,
  firstPick: Out<"u32", ["B", "Nmax"]>,
): void {
  const b = blockIdx.y;
  const first = blockIdx.x * s.threads * s.items + threadIdx.x;
  const NO_PICK: u32 = 0x7f7f7f7f;
  for (const q of unroll(s.items)) {
    const j = first + q * s.threads;
    if (j < firstPick.size("Nmax")) firstPick.store(NO_PICK, b, j);
  }
  waitForPrecedingGrid();
}
