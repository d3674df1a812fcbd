// Top-k of each row, exactly: descending by value, ties to the lower position, NaN below every number.
//
// One block per row. A radix select finds the k-th largest key T (floats mapped to order-preserving
// unsigned keys) digit by digit: three histogram passes over the row (11, 11 and 10 bits), each counting
// only the keys whose higher digits match those found so far. A last pass compacts the selection in
// position order: every key above T, and the first `ties` keys equal to T. In rank order the compacted
// items are then sorted by key, largest first; the sort is stable, so equal keys stay in position order.
//
// For LessIsMore's union the rows of a sequence are its query heads, and each pick (head h, rank r) also
// lowers firstPick[sequence, position] to its rank-major key r * heads + h: afterwards every token holds
// the key of its first occurrence in the rank-major walk (the union kernel reads only that). h and heads
// are the model's (global) head index and count: under tensor parallelism a GPU ranks only its own heads,
// and an element-wise minimum of the GPUs' firstPick arrays gives the keys of all heads.

import {
  DEFAULT_MATRIX,
  atomicAdd, blockExclusiveSum, blockIdx, blockSortDescending, defineKernel, i32, keyValue, max, min, orderedKey, present, raise,
  range, regs, shared, syncthreads, threadIdx, u32, unroll, waitForPrecedingGrid,
  type ConstantsOf, type MaybeOut, type MaybeTensor, type Out, type ScheduleOf, type Tensor,
} from "../lang/index.js";

export const topkKernel = defineKernel({
  spec: {
    name: "topk",
    summary: "exact top-k of each row by radix select (descending, ties to the lower position, NaN last), in rank or position order",
    constants: { K: DEFAULT_MATRIX.budgets }, // the largest k a variant serves (its sort buffer)
    schedule: {
      threads: { tag: "t", values: [256, 512, 1024] },
      items: { tag: "i", values: [4, 8, 16] }, // consecutive elements per thread in the compaction pass
      cache: { tag: "c", values: [16384, 32768] }, // keys of a row kept in shared memory after the first pass
    },
    grid: { x: "R" },
    // Whether a row fits the key cache decides the best schedule: short, mid-length and long rows apart.
    bucket: { name: "length", doc: "tokens per row (the longest)", bounds: [12288, 49152], tunedAt: [8192, 32768, 131072] },
    overlapsPrecedingKernel: true, // starts while the kernel that wrote the values (attention) finishes
  },
  // 1024 threads leave 64 registers each, which spills at some budgets; 512 threads do not, and the
  // kernel is bound by instruction issue rather than by threads in flight. K 8192's larger buffers leave
  // room for 16K cached keys.
  heuristic: (c) => ({ threads: 512, items: 8, cache: c.K <= 4096 ? 32768 : 16384 }),
  rules: [
    (c, s) => (c.K % s.threads === 0 ? undefined : `K (${c.K}) must be a multiple of threads (${s.threads})`),
    (c, s) => (c.K / s.threads <= 16 ? undefined : `K / threads = ${c.K / s.threads} sorted items per thread (at most 16)`),
    (_c, s) => (2048 % s.threads === 0 ? undefined : `threads (${s.threads}) must divide the 2048 histogram bins`),
  ],
});

export function topk(
  c: ConstantsOf<typeof topkKernel.spec>,
  s: ScheduleOf<typeof topkKernel.spec>,
  values: Tensor<"f32", ["R", "L"]>,
  lengths: MaybeTensor<"i32", ["Q"]>, // tokens of each sequence; absent: every row has L
  outIdx: MaybeOut<"i32", ["R", "KO"]>,
  outVal: MaybeOut<"f32", ["R", "KO"]>,
  firstPick: MaybeOut<"u32", ["Q", "L"]>, // rank mode: min over the sequence's rows of rank * keyHeads + keyHeadOffset + row % rowsPerSeq
  outCount: MaybeOut<"i32", ["R"]>,
  rowsPerSeq: i32, // rows that share one entry of `lengths` (e.g. the query heads of a request)
  keyHeads: i32, // heads of the whole model in a rank-major key (rowsPerSeq on one GPU; more under tensor parallelism)
  keyHeadOffset: i32, // global index of this GPU's first head (0 on one GPU)
  begin: i32, // candidates are positions [begin, length - tail)
  tail: i32,
  k: i32,
  byPosition: i32, // 0: rank order (largest first); 1: ascending positions
): void {
  const BINS = 2048;
  const PER_BIN = BINS / s.threads;
  const SORTED = c.K / s.threads;
  const PER = s.items;
  const row = blockIdx.x;

  waitForPrecedingGrid();
  let n = values.size("L");
  if (present(lengths)) n = lengths.at(row / rowsPerSeq);
  if (n < 0 || n > values.size("L")) {
    if (threadIdx.x == 0) raise("length {1} of row {0} is outside [0, {2}]", row, n, values.size("L"));
    return;
  }
  const lo = begin;
  const hi = max(n - tail, lo);
  const take = min(k, hi - lo);

  // The first pass keeps the row's first s.cache keys in shared memory; later passes read them there
  // instead of loading and converting the floats again.
  const keyCache = shared("u32", [s.cache]);
  const keyAt = (j: i32): u32 => (j - lo < s.cache ? keyCache[j - lo] : orderedKey(values.at(row, j)));

  // Radix select of the take-th largest key: digits of 11, 11 and 10 bits, most significant first.
  const hist = shared("i32", [BINS]);
  const found = shared("i32", [2]);
  let prefix: u32 = 0; // the digits found so far, in place
  let remaining = take; // how many keys that match `prefix` are still to be taken
  for (const level of unroll(3)) {
    const shift = level == 0 ? 21 : level == 1 ? 10 : 0;
    const decided = shift + (level == 2 ? 10 : 11); // bits at and above this one are already known
    const mask: u32 = level == 2 ? 0x3ff : 0x7ff;
    for (let i = threadIdx.x; i < BINS; i += s.threads) hist[i] = 0;
    syncthreads();
    if (remaining > 0) {
      // Unrolled so that eight loads are in flight per thread: the row comes from L2, and one load at a
      // time would leave the loop waiting on its latency (measured: 39 us for 32 rows of 32K).
      for (const j of range(lo + threadIdx.x, hi, s.threads, 8)) {
        let key: u32 = 0;
        if (level == 0) {
          key = orderedKey(values.at(row, j));
          if (j - lo < s.cache) keyCache[j - lo] = key;
        } else {
          key = keyAt(j);
        }
        if (level == 0 || key >> decided == prefix >> decided) atomicAdd(hist.ref(i32((key >> shift) & mask)), 1);
      }
    }
    syncthreads();
    // The bin where the count of larger keys reaches `remaining`; each thread scans PER_BIN bins from the top.
    let mine = 0;
    for (const q of unroll(PER_BIN)) mine += hist[BINS - 1 - (threadIdx.x * PER_BIN + q)];
    const scan = regs("i32", [2]);
    blockExclusiveSum(mine, scan);
    let before = scan[0];
    for (const q of unroll(PER_BIN)) {
      const bin = BINS - 1 - (threadIdx.x * PER_BIN + q);
      const count = hist[bin];
      if (remaining > 0 && before < remaining && before + count >= remaining) {
        found[0] = bin;
        found[1] = remaining - before;
      }
      before += count;
    }
    syncthreads();
    if (remaining > 0) {
      prefix = prefix | (u32(found[0]) << shift);
      remaining = found[1];
    }
  }
  const threshold = prefix; // the take-th largest key
  const ties = remaining; // keys equal to it that are taken, lowest positions first

  // Ordered compaction: item j goes to slot (keys above T before j) + min(ties before j, `ties`).
  const selKey = shared("u32", [c.K]);
  const selPos = shared("i32", [c.K]);
  let runAbove = 0;
  let runTies = 0;
  for (let base = lo; base < hi; base += s.threads * PER) {
    const keys = regs("u32", [PER]);
    let above = 0;
    let equal = 0;
    for (const e of unroll(PER)) {
      const j = base + threadIdx.x * PER + e;
      keys[e] = j < hi ? keyAt(j) : 0;
      if (j < hi && keys[e] > threshold) above += 1;
      if (j < hi && keys[e] == threshold) equal += 1;
    }
    // Both counts in one scan: per tile each is below 65536 (threads x items <= 16384).
    const scan = regs("i32", [2]);
    blockExclusiveSum(above * 65536 + equal, scan);
    let a = runAbove + scan[0] / 65536;
    let t = runTies + (scan[0] % 65536);
    for (const e of unroll(PER)) {
      const j = base + threadIdx.x * PER + e;
      if (j < hi && keys[e] > threshold) {
        const slot = a + min(t, ties);
        selKey[slot] = keys[e];
        selPos[slot] = j;
        a += 1;
      } else if (j < hi && keys[e] == threshold) {
        if (t < ties) {
          selKey[a + t] = keys[e];
          selPos[a + t] = j;
        }
        t += 1;
      }
    }
    runAbove += scan[1] / 65536;
    runTies += scan[1] % 65536;
  }
  syncthreads();

  if (byPosition != 0) {
    for (let i = threadIdx.x; i < take; i += s.threads) {
      if (present(outIdx)) outIdx.store(selPos[i], row, i);
      if (present(outVal)) outVal.store(keyValue(selKey[i]), row, i);
    }
  } else {
    // Items past `take` get key 0 and sort after every real key (NaN's key is 0 too, but it comes earlier).
    const keys = regs("u32", [SORTED]);
    const pos = regs("i32", [SORTED]);
    for (const e of unroll(SORTED)) {
      const i = threadIdx.x * SORTED + e;
      keys[e] = i < take ? selKey[i] : 0;
      pos[e] = i < take ? selPos[i] : -1;
    }
    blockSortDescending(keys, pos);
    const seq = row / rowsPerSeq;
    const pickKey = u32(keyHeadOffset + row % rowsPerSeq); // + rank * keyHeads
    for (const e of unroll(SORTED)) {
      const i = threadIdx.x * SORTED + e;
      if (i < take) {
        if (present(outIdx)) outIdx.store(pos[e], row, i);
        if (present(outVal)) outVal.store(keyValue(keys[e]), row, i);
        if (present(firstPick)) firstPick.atomicMin(u32(i * keyHeads) + pickKey, seq, pos[e]);
      }
    }
  }
  if (present(outIdx)) for (let i = take + threadIdx.x; i < k; i += s.threads) outIdx.store(-1, row, i);
  if (threadIdx.x == 0 && present(outCount)) outCount.store(take, row);
}
