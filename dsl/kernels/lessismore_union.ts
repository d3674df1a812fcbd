// LessIsMore's unified cross-head ranking: one token set per request, shared by all heads.
//
// The per-head top-k has already left, for every token j, firstPick[j] = the smallest rank-major key
// e = r * Hq + h of any pick (head h, rank r) of j, i.e. the key of j's first occurrence in the walk
// rank 0 of every head, rank 1 of every head, ... (any value >= middle * Hq when no head picked j). The first `middle`
// distinct tokens of that walk are the tokens whose first-occurrence key is among the `middle` smallest.
// So: mark each picked token's key in a bitmap over keys (shared memory), find the key of the
// middle-th mark (the cut) by an ordered count, and write sinks + {j : firstPick[j] <= cut} + the recency
// window in ascending order by an ordered compaction over positions.
//
// A cluster of s.cluster blocks per request (Hopper thread-block clusters), each on one contiguous slice of
// positions, so that one request does not leave all but one SM idle: each block marks its slice's keys in
// its own bitmap; through distributed shared memory each block ORs one share of the words over the cluster
// and writes the result back into every block's bitmap (the shares are disjoint, so no two blocks touch
// the same word), after which every block finds the same cut; the slices' counts of kept tokens place
// each slice's part of the set after the parts of the slices before it.

import {
  atomicOr, blockExclusiveSum, blockIdx, clusterRank, clusterSync, defineKernel, i32, max, min, nthSetBit, peer, popcount, raise, range, regs, shared,
  syncthreads, threadIdx, u32, unroll, waitForPrecedingGrid,
  type ConstantsOf, type Out, type ScheduleOf, type Tensor,
} from "../lang/index.js";

export const lessIsMoreUnion = defineKernel({
  spec: {
    name: "lessismore_union",
    summary: "rank-major union of the heads' top picks cut to `middle`, plus sinks and the recency window, ascending",
    constants: {},
    schedule: {
      threads: { tag: "t", values: [256, 512, 1024] },
      items: { tag: "i", values: [4, 8, 16] }, // consecutive entries per thread in the ordered passes
      cluster: { tag: "b", values: [1, 2, 4, 8] }, // blocks per request, each on its own SM
    },
    cluster: "cluster",
    grid: { x: "B * s.cluster" },
    limits: { WORDS: 32768 }, // the bitmap of first-pick keys: 2^20 keys in 128 KB (the C ABI refuses middle * Hq above WORDS * 32)
    overlapsPrecedingKernel: true, // clears its bitmap while top-k finishes, then waits for the picks
  },
  // Measured on the H200 (bench/NOTES.md section 17): clusters of 8 are fastest at 32K and 128K tokens, B 1
  // and 8 (1.5-3x one block per request); 512 threads of 8 entries came within 11% of the best there, and
  // 1024 threads of 8 spill registers.
  heuristic: () => ({ threads: 512, items: 8, cluster: 8 }),
  rules: [],
});

export function lessismore_union(
  c: ConstantsOf<typeof lessIsMoreUnion.spec>,
  s: ScheduleOf<typeof lessIsMoreUnion.spec>,
  firstPick: Tensor<"u32", ["B", "Nmax"]>, // each token's first rank-major key, from the top-k
  seqlens: Tensor<"i32", ["B"]>,
  indices: Out<"i32", ["B", "KI"]>, // the set, ascending
  counts: Out<"i32", ["B"]>,
  maxSeqlen: i32,
  budget: i32,
  middle: i32,
  sinks: i32,
  recent: i32,
  heads: i32,
): void {
  const PER = s.items;
  const CLUSTER = s.cluster;
  const b = blockIdx.x / CLUSTER;
  const rank = CLUSTER > 1 ? clusterRank() : 0; // this block's slice of positions
  // Shared memory the cluster's blocks read or write in each other, declared first.
  const bits = shared("u32", [c.WORDS]);
  const placed = shared("i32", [1]); // tokens this block's slice keeps, read by the blocks after it
  const n = seqlens.at(b);
  if (n < 1 || n > maxSeqlen) {
    if (threadIdx.x == 0 && rank == 0) raise("seqlens[{0}] = {1} is outside [1, max_seqlen = {2}]", b, n, maxSeqlen);
    return; // the whole cluster: its blocks read the same length
  }
  const span = (n + CLUSTER - 1) / CLUSTER;
  const sliceBegin = min(rank * span, n); // this block's slice of positions
  const sliceEnd = min(sliceBegin + span, n);
  if (budget >= n) {
    // Every token is kept (nothing of the preceding kernel is read, but this block must not finish before it).
    waitForPrecedingGrid();
    for (let j = sliceBegin + threadIdx.x; j < sliceEnd; j += s.threads) indices.store(j, b, j);
    if (threadIdx.x == 0 && rank == 0) counts.store(n, b);
    return;
  }
  const end = n - recent; // candidates are [sinks, end)
  const picks = u32(middle * heads);
  const words = (middle * heads + 31) / 32;
  for (const w of range(threadIdx.x, words, s.threads, 8)) bits[w] = 0;
  waitForPrecedingGrid();
  syncthreads();

  // Each picked token of the slice marks its first-occurrence key.
  for (const j of range(max(sinks, sliceBegin) + threadIdx.x, min(end, sliceEnd), s.threads, 8)) {
    const key = firstPick.at(b, j);
    if (key < picks) atomicOr(bits.ref(i32(key / 32)), u32(1) << (key % 32));
  }
  if (CLUSTER > 1) {
    // Every block's bitmap becomes the OR of the cluster's: each block ORs its share of the words.
    clusterSync();
    const share = (words + CLUSTER - 1) / CLUSTER;
    for (let w = rank * share + threadIdx.x; w < min((rank + 1) * share, words); w += s.threads) {
      let word: u32 = 0;
      for (const r of unroll(CLUSTER)) word = word | peer(bits, r)[w];
      for (const r of unroll(CLUSTER)) peer(bits, r)[w] = word;
    }
    clusterSync();
  } else {
    syncthreads();
  }

  // The cut: the key of the middle-th mark, by an ordered count over the bitmap.
  const cut = shared("i32", [1]);
  let counted = 0;
  for (let base = 0; base < words; base += s.threads * PER) {
    const word = regs("u32", [PER]);
    let mine = 0;
    for (const q of unroll(PER)) {
      const w = base + threadIdx.x * PER + q;
      word[q] = w < words ? bits[w] : 0;
      mine += popcount(word[q]);
    }
    const scan = regs("i32", [2]);
    blockExclusiveSum(mine, scan);
    let seen = counted + scan[0];
    for (const q of unroll(PER)) {
      const here = popcount(word[q]);
      if (seen < middle && seen + here >= middle) cut[0] = (base + threadIdx.x * PER + q) * 32 + nthSetBit(word[q], middle - seen - 1);
      seen += here;
    }
    counted += scan[1];
    if (counted >= middle) break;
  }
  // Keys from lim_select_lessismore_local_keys mark at least `middle` distinct keys (one head alone picks
  // `middle` tokens); fewer means the keys were never reduced or are not keys at all. Every block counted the
  // same bitmap, so the whole cluster leaves here together, before any block reads another's `placed`.
  if (counted < middle) {
    if (threadIdx.x == 0 && rank == 0) {
      raise("the keys of request {0} mark {1} picks, fewer than middle = {2}: they are not first-occurrence keys of every head", b, counted, middle);
      counts.store(0, b);
    }
    return;
  }
  syncthreads();
  const cutKey = u32(cut[0]);
  const kept = (j: i32): i32 => (j < sinks || j >= end || firstPick.at(b, j) <= cutKey ? 1 : 0);

  // Where this slice's part of the set begins: after the tokens the slices before it keep.
  let written = 0;
  if (CLUSTER > 1) {
    let mineKept = 0;
    for (const j of range(sliceBegin + threadIdx.x, sliceEnd, s.threads, 8)) mineKept += kept(j);
    const scan = regs("i32", [2]);
    blockExclusiveSum(mineKept, scan);
    if (threadIdx.x == 0) placed[0] = scan[1];
    clusterSync();
    for (const r of unroll(CLUSTER)) if (r < rank) written += peer(placed, r)[0];
  }

  // Ordered compaction over the slice's positions: sinks, first occurrences up to the cut, the recency window.
  for (let base = sliceBegin; base < sliceEnd; base += s.threads * PER) {
    const keep = regs("i32", [PER]);
    let mine = 0;
    for (const q of unroll(PER)) {
      const j = base + threadIdx.x * PER + q;
      keep[q] = j < sliceEnd ? kept(j) : 0;
      mine += keep[q];
    }
    const scan = regs("i32", [2]);
    blockExclusiveSum(mine, scan);
    let slot = written + scan[0];
    for (const q of unroll(PER)) {
      // Consistent keys keep exactly `budget` tokens; keys two tokens share keep more, which never go past the row.
      if (keep[q] == 1 && slot < budget) indices.store(base + threadIdx.x * PER + q, b, slot);
      if (keep[q] == 1) slot += 1;
    }
    written += scan[1];
  }
  if (threadIdx.x == 0 && rank == CLUSTER - 1) {
    // The last slice ends the set.
    if (written > budget) raise("the keys of request {0} keep {1} tokens, more than budget = {2}: two tokens share a first-occurrence key", b, written, budget);
    counts.store(min(written, budget), b);
  }
  // The blocks after this one read its `placed` until their own barrier above.
  if (CLUSTER > 1) clusterSync();
}
