// The length of each index list padded with -1 (the convention of engines' sparse attention: DeepSeek's
// sparse attention and FlashMLA pass int32 lists that end at the first -1): counts[b, l] is the position
// of the first -1 in indices[b, l, :], or the list's capacity when there is none. One block per list: its
// threads scan the list side by side and keep the smallest position of a -1 in a shared word.
//
// A negative entry other than -1, or an entry past the first -1 that is not -1, is reported through
// raise() (the count still stops at the first -1).

import {
  atomicMin, blockIdx, defineKernel, raise, shared, syncthreads, threadIdx,
  type ConstantsOf, type Out, type ScheduleOf, type Tensor,
} from "../lang/index.js";

export const countIndices = defineKernel({
  spec: {
    name: "count_indices",
    summary: "the length of each index list padded with -1: the position of its first -1",
    constants: {},
    schedule: { threads: { tag: "t", values: [128, 256] } },
    grid: { x: "HL", y: "B" },
  },
  heuristic: () => ({ threads: 128 }),
  rules: [],
});

export function count_indices(
  c: ConstantsOf<typeof countIndices.spec>,
  s: ScheduleOf<typeof countIndices.spec>,
  indices: Tensor<"i32", ["B", "HL", "KI"]>, // positions, padded with -1 after the last
  counts: Out<"i32", ["B", "HL"]>,
): void {
  const list = blockIdx.x;
  const b = blockIdx.y;
  const capacity = indices.size("KI");
  const first = shared("i32", [1]);
  if (threadIdx.x == 0) first[0] = capacity;
  syncthreads();
  for (let i = threadIdx.x; i < capacity; i += s.threads) {
    const p = indices.at(b, list, i);
    if (p == -1) atomicMin(first.ref(0), i);
    else if (p < 0) raise("indices[{0}][{1}][{2}] = {3} is negative but not the padding -1", b, list, i, p);
  }
  syncthreads();
  const count = first[0];
  for (let i = count + 1 + threadIdx.x; i < capacity; i += s.threads) {
    const p = indices.at(b, list, i);
    if (p != -1) raise("indices[{0}][{1}][{2}] = {3} follows the padding -1 that ends the list", b, list, i, p);
  }
  if (threadIdx.x == 0) counts.store(count, b, list);
}
