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
//
// Each warp holds a run of consecutive positions of its slice, 32 at a time (lane l the l-th of each 32, so
// that the warp's loads are whole lines): warp ballots order the kept tokens within a warp and one block scan
// of the warps' counts places them all, and where a warp's run is s.items rounds of 32 or fewer (slices up
// to threads x items positions) its keys stay in registers from the marking to the compaction: firstPick is
// read once. Each block pushes its count of kept tokens into every block of the cluster before their last
// barrier, so that no block reads another's shared memory after it and none waits at the end
// (bench/NOTES.md section 33).

import {
  atomicOr, blockExclusiveSum, blockIdx, clusterRank, clusterSync, defineKernel, i32, laneId, max, min, nthSetBit, peer, popcount, raise, range, regs, shared,
  syncthreads, threadIdx, u32, unroll, waitForPrecedingGrid, warpBallot, warpId,
  type ConstantsOf, type Out, type ScheduleOf, type Tensor, type bool,
} from "../lang/index.js";

export const lessIsMoreUnion = defineKernel({
  spec: {
    name: "lessismore_union",
    summary: "rank-major union of the heads' top picks cut to `middle`, plus sinks and the recency window, ascending",
    constants: {},
    schedule: {
      threads: { tag: "t", values: [256, 512, 1024] },
      items: { tag: "i", values: [4, 8, 16, 32] }, // rounds of a warp's run held in registers (a position each per thread), and bitmap words per thread in the cut
      cluster: { tag: "b", values: [1, 2, 4, 8] }, // blocks per request, each on its own SM
    },
    cluster: "cluster",
    grid: { x: "B * s.cluster" },
    limits: { WORDS: 32768 }, // the bitmap of first-pick keys: 2^20 keys in 128 KB (the C ABI refuses middle * Hq above WORDS * 32)
    // A slice's positions per thread set how a warp's run is read: held in registers from the marking to the
    // compaction where it fits, read again where it does not (bench/NOTES.md section 33), so short requests
    // are tuned apart. Not 128K: the schedule fastest there alone (512 threads of 32) made the selection
    // layer 3-7 us slower than the 32K one does, attention included (bench/NOTES.md section 36).
    bucket: { name: "tokens", doc: "the longest request's tokens (max_seqlen)", bounds: [12288], tunedAt: [8192, 32768] },
    overlapsPrecedingKernel: true, // clears its bitmap while top-k finishes, then waits for the picks
  },
  // Measured on the H200 (bench/NOTES.md sections 17, 33 and 36): clusters of 8 are fastest at 32K and 128K
  // tokens, B 1 and 8 (1.5-3x one block per request). 512 threads of 8 hold a 32K request's keys in registers
  // and are among the fastest there (7.1 us). The heuristic is that schedule; a tuning database picks one per
  // bucket (on the H200 other schedules win below 12288 tokens and at 128K, section 36).
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
  const placed = shared("i32", [CLUSTER]); // placed[r]: the tokens block r's slice keeps, pushed by block r
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
  // This warp's run of the slice: `rounds` of 32 positions from runBegin, round u's at runBegin + 32 u + lane,
  // taken PER rounds at a time (the loop bounds are the warp's, as its ballots need). Where the run is PER
  // rounds or fewer (`held`), `key` holds its keys from the marking to the compaction; longer runs read them
  // again in each pass.
  const rounds = (span + s.threads - 1) / s.threads;
  const runBegin = sliceBegin + warpId() * 32 * rounds;
  const at = (u: i32): i32 => runBegin + 32 * u + laneId();
  const inRun = (u: i32): bool => u < rounds && at(u) < sliceEnd;
  const held = rounds <= PER;
  for (const w of range(threadIdx.x, words, s.threads, 8)) bits[w] = 0;
  waitForPrecedingGrid();
  syncthreads();

  // Each picked token of the slice marks its first-occurrence key (the sinks, the window and positions past
  // the run get `picks`, which marks nothing).
  const keyOf = (u: i32): u32 => (inRun(u) && at(u) >= sinks && at(u) < end ? firstPick.at(b, at(u)) : picks);
  const key = regs("u32", [PER]);
  if (held) {
    for (const q of unroll(PER)) key[q] = keyOf(q); // all PER loads in flight before the first atomic
    for (const q of unroll(PER)) if (key[q] < picks) atomicOr(bits.ref(i32(key[q] / 32)), u32(1) << (key[q] % 32));
  } else {
    // Runs read again later: the block's threads take consecutive positions, eight loads in flight each.
    for (const j of range(max(sinks, sliceBegin) + threadIdx.x, min(end, sliceEnd), s.threads, 8)) {
      const k = firstPick.at(b, j);
      if (k < picks) atomicOr(bits.ref(i32(k / 32)), u32(1) << (k % 32));
    }
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
  // same bitmap, so the whole cluster leaves here together, before any block writes into another's `placed`.
  if (counted < middle) {
    if (threadIdx.x == 0 && rank == 0) {
      raise("the keys of request {0} mark {1} picks, fewer than middle = {2}: they are not first-occurrence keys of every head", b, counted, middle);
      counts.store(0, b);
    }
    return;
  }
  syncthreads();
  const cutKey = u32(cut[0]);
  // Round u's token, of key k, is kept: a sink, in the window, or a first occurrence up to the cut.
  const kept = (u: i32, k: u32): bool => inRun(u) && (at(u) < sinks || at(u) >= end || k <= cutKey);

  // The warps' counts of kept tokens (a ballot per round), then one scan of them (each warp's count given by
  // its last lane, so that every lane receives the count of the warps before its own) places the slice's
  // tokens; the slices before this one come first.
  // Longer runs read their keys again, PER rounds' loads in flight before the ballots (loads interleaved
  // with the ballots went out one at a time: 8 us at 128K, bench/NOTES.md section 33).
  let warpKept = 0;
  for (let g = 0; g < rounds; g += PER) {
    if (!held) for (const q of unroll(PER)) key[q] = keyOf(g + q);
    for (const q of unroll(PER)) warpKept += popcount(warpBallot(kept(g + q, key[q])));
  }
  const scan = regs("i32", [2]);
  blockExclusiveSum(laneId() == 31 ? warpKept : 0, scan);
  let written = 0;
  if (CLUSTER > 1) {
    if (threadIdx.x < CLUSTER) peer(placed, threadIdx.x)[rank] = scan[1];
    clusterSync();
    for (const r of unroll(CLUSTER)) if (r < rank) written += placed[r];
  }

  // The ordered compaction: sinks, first occurrences up to the cut, the recency window, by position; in a
  // round, a kept token goes after those of the lanes below it.
  const below = (u32(1) << laneId()) - 1;
  let slot = written + scan[0]; // the warp's next slot
  for (let g = 0; g < rounds; g += PER) {
    if (!held) for (const q of unroll(PER)) key[q] = keyOf(g + q);
    for (const q of unroll(PER)) {
      const keep = kept(g + q, key[q]);
      const mask = warpBallot(keep);
      const mine = slot + popcount(mask & below);
      // Consistent keys keep exactly `budget` tokens; keys two tokens share keep more, which never go past the row.
      if (keep && mine < budget) indices.store(at(g + q), b, mine);
      slot += popcount(mask);
    }
  }
  if (threadIdx.x == 0 && rank == CLUSTER - 1) {
    // The last slice ends the set.
    const total = written + scan[1];
    if (total > budget) raise("the keys of request {0} keep {1} tokens, more than budget = {2}: two tokens share a first-occurrence key", b, total, budget);
    counts.store(min(total, budget), b);
  }
}
