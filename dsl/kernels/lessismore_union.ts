// LessIsMore's unified cross-head ranking: one token set per request, shared by all heads.
//
// Input: each head's top `middle` candidates in rank order. A pick (head h, rank r) has the rank-major key
// e = r * Hq + h. For every token, minKey[j] becomes the smallest key of any pick of j (its first
// occurrence in the rank-major walk). The first occurrences are marked in a bitmap over keys; the key of
// the `middle`-th mark is the cut. The set is then sinks + {j : minKey[j] <= cut} + the recency window,
// written in ascending order by an ordered compaction over positions. One block per request; the
// scratch arrays live in device memory (workspace), so any budget and length is served by one variant.

import {
  atomicOr, blockExclusiveSum, blockIdx, defineKernel, nthSetBit, popcount, raise, range, regs, shared, syncthreads, threadIdx, u32,
  unroll, waitForPrecedingGrid,
  type ConstantsOf, type Out, type ScheduleOf, type Tensor, type i32,
} from "../lang/index.js";

export const lessIsMoreUnion = defineKernel({
  spec: {
    name: "lessismore_union",
    summary: "rank-major union of the heads' top picks cut to `middle`, plus sinks and the recency window, ascending",
    constants: {},
    schedule: {
      threads: { tag: "t", values: [256, 512, 1024] },
      items: { tag: "i", values: [4, 8, 16] }, // consecutive entries per thread in the ordered passes
    },
    grid: { x: "B" },
    overlapsPrecedingKernel: true, // clears its scratch while top-k finishes, then waits for the picks
  },
  heuristic: () => ({ threads: 1024, items: 8 }),
  rules: [],
});

export function lessismore_union(
  c: ConstantsOf<typeof lessIsMoreUnion.spec>,
  s: ScheduleOf<typeof lessIsMoreUnion.spec>,
  ranked: Tensor<"i32", ["B", "Hq", "KR"]>, // per head, its picks in rank order (columns 0..middle-1 used)
  seqlens: Tensor<"i32", ["B"]>,
  minKey: Out<"u32", ["B", "Nmax"]>, // scratch: each candidate's first rank-major key
  firstBits: Out<"u32", ["B", "W"]>, // scratch: bit e set when key e is a first occurrence
  indices: Out<"i32", ["B", "KI"]>, // the set, ascending
  counts: Out<"i32", ["B"]>,
  maxSeqlen: i32,
  budget: i32,
  middle: i32,
  sinks: i32,
  recent: i32,
): void {
  const PER = s.items;
  const NONE: u32 = 0xffffffff;
  const b = blockIdx.x;
  const heads = ranked.size("Hq");
  const n = seqlens.at(b);
  if (n < 1 || n > maxSeqlen) {
    if (threadIdx.x == 0) raise("seqlens[{0}] = {1} is outside [1, max_seqlen = {2}]", b, n, maxSeqlen);
    return;
  }
  if (budget >= n) {
    // Every token is kept (nothing of the preceding kernel is read, but this block must not finish before it).
    waitForPrecedingGrid();
    for (let j = threadIdx.x; j < n; j += s.threads) indices.store(j, b, j);
    if (threadIdx.x == 0) counts.store(n, b);
    return;
  }
  const end = n - recent; // candidates are [sinks, end)
  const picks = middle * heads;
  const words = (picks + 31) / 32;
  for (const j of range(sinks + threadIdx.x, end, s.threads, 8)) minKey.store(NONE, b, j);
  for (const w of range(threadIdx.x, words, s.threads, 8)) firstBits.store(0, b, w);
  waitForPrecedingGrid();
  syncthreads();

  // Each pick lowers its token's key to its own. The picks are read head by head (coalesced), eight per
  // thread before any is used, so that their loads overlap; the atomics return nothing and do not wait.
  const BATCH = 8;
  for (let base = threadIdx.x; base < picks; base += s.threads * BATCH) {
    const tokens = regs("i32", [BATCH]);
    for (const u of unroll(BATCH)) {
      const p = base + u * s.threads;
      tokens[u] = p < picks ? ranked.at(b, p / middle, p % middle) : -1;
    }
    for (const u of unroll(BATCH)) {
      const p = base + u * s.threads;
      const j = tokens[u];
      if (j >= sinks && j < end) minKey.atomicMin(u32((p % middle) * heads + p / middle), b, j);
    }
  }
  syncthreads();
  // A pick whose key is its token's minimum is that token's first occurrence.
  for (let base = threadIdx.x; base < picks; base += s.threads * BATCH) {
    const tokens = regs("i32", [BATCH]);
    const firsts = regs("u32", [BATCH]);
    for (const u of unroll(BATCH)) {
      const p = base + u * s.threads;
      tokens[u] = p < picks ? ranked.at(b, p / middle, p % middle) : -1;
    }
    for (const u of unroll(BATCH)) {
      const j = tokens[u];
      firsts[u] = j >= sinks && j < end ? minKey.at(b, j) : NONE;
    }
    for (const u of unroll(BATCH)) {
      const p = base + u * s.threads;
      const e = (p % middle) * heads + p / middle;
      if (firsts[u] == u32(e)) atomicOr(firstBits.ref(b, e / 32), u32(1) << u32(e % 32));
    }
  }
  syncthreads();

  // The cut: the key of the middle-th first occurrence, found by an ordered count over the bitmap.
  const cut = shared("i32", [1]);
  let counted = 0;
  for (let base = 0; base < words; base += s.threads * PER) {
    const bits = regs("u32", [PER]);
    let mine = 0;
    for (const q of unroll(PER)) {
      const w = base + threadIdx.x * PER + q;
      bits[q] = w < words ? firstBits.at(b, w) : 0;
      mine += popcount(bits[q]);
    }
    const scan = regs("i32", [2]);
    blockExclusiveSum(mine, scan);
    let seen = counted + scan[0];
    for (const q of unroll(PER)) {
      const here = popcount(bits[q]);
      if (seen < middle && seen + here >= middle) cut[0] = (base + threadIdx.x * PER + q) * 32 + nthSetBit(bits[q], middle - seen - 1);
      seen += here;
    }
    counted += scan[1];
    if (counted >= middle) break;
  }
  syncthreads();
  const cutKey = u32(cut[0]);

  // Ordered compaction over positions: sinks, first occurrences up to the cut, the recency window.
  let written = 0;
  for (let base = 0; base < n; base += s.threads * PER) {
    const keep = regs("i32", [PER]);
    let mine = 0;
    for (const q of unroll(PER)) {
      const j = base + threadIdx.x * PER + q;
      let k = 0;
      if (j < n) {
        if (j < sinks || j >= end) k = 1;
        else if (minKey.at(b, j) <= cutKey) k = 1;
      }
      keep[q] = k;
      mine += k;
    }
    const scan = regs("i32", [2]);
    blockExclusiveSum(mine, scan);
    let slot = written + scan[0];
    for (const q of unroll(PER)) {
      if (keep[q] == 1) {
        indices.store(base + threadIdx.x * PER + q, b, slot);
        slot += 1;
      }
    }
    written += scan[1];
  }
  if (threadIdx.x == 0) counts.store(written, b);
}
