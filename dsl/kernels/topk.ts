// Top-k of each row, exactly: descending by value, ties to the lower position, NaN below every number.
//
// A cluster of s.cluster blocks per row (Hopper thread-block clusters), each owning one contiguous slice
// of the row, so that a few rows still fill the GPU. A radix select finds the k-th largest key T (floats
// mapped to order-preserving unsigned keys) digit by digit: three histogram passes (11, 11 and 10 bits),
// each block counting the keys of its slice whose higher digits match those found so far; through
// distributed shared memory each block sums its share of the bins over the cluster and hands the sums to
// every block, so that all find the same digit. A last pass compacts each slice in position order: every
// key above T, and of the keys equal to T the first `ties` of the row (the slices before this one took
// theirs first, counted from their last histograms). The slices' counts place them one after the other,
// so position order needs no more; in rank order every block of the cluster gathers the items and ranks
// its share of them without sorting: rank(i) = #{keys above i's} + #{keys equal to i's at lower positions},
// counted within buckets of the key's top bits (a few picks each; a block takes the buckets from the one
// holding the first pick of its share), with a block sort in the first block as the fallback for crowded buckets. The
// picks are the same on every run whatever order the blocks finish in: every set is decided by counts, and
// every rank by keys and positions.
//
// In rank order a block reads its slice twice, not four times: after the first digit D0 it moves the keys
// whose digit is above D0 (all picks) and those equal to it (the candidates, a few percent of a spread
// row) into its pick buffer, and the second and third digits and the compaction read only the candidates.
// The first histogram gives the block both counts before it moves a key, so a block whose keys would not
// fit (many keys in D0's bin: a row of equal or tightly packed values) takes the whole-slice passes instead,
// and so does one that must split the keys equal to T by position; its peers are not affected.
//
// For LessIsMore's union the rows of a sequence are its query heads, and each pick (head h, rank r) also
// lowers firstPick[sequence, position] to its rank-major key r * heads + h: afterwards every token holds
// the key of its first occurrence in the rank-major walk (the union kernel reads only that). h and heads
// are the model's (global) head index and count: under tensor parallelism a GPU ranks only its own heads,
// and an element-wise minimum of the GPUs' firstPick arrays gives the keys of all heads.

import {
  DEFAULT_MATRIX,
  atomicAdd, bitWidth, blockExclusiveSum, blockIdx, blockSortDescending, clusterRank, clusterSync, defineKernel, i32, keyValue, max, min, orderedKey, present, raise,
  peer, range, regs, shared, syncthreads, threadIdx, u32, unroll, waitForPrecedingGrid,
  type ConstantsOf, type MaybeOut, type MaybeTensor, type Out, type ScheduleOf, type Tensor, type bool,
} from "../lang/index.js";

export const topkKernel = defineKernel({
  spec: {
    name: "topk",
    summary: "exact top-k of each row by radix select (descending, ties to the lower position, NaN last), in rank or position order",
    constants: { K: DEFAULT_MATRIX.budgets }, // the largest k a variant serves (its sort buffer)
    schedule: {
      threads: { tag: "t", values: [256, 512, 1024] },
      items: { tag: "i", values: [4, 8] }, // consecutive elements per thread in the compaction pass
      cache: { tag: "c", values: [8192, 16384, 32768] }, // keys of a block's slice kept in shared memory after the first pass
      // Blocks per row, each on its own SM. Clusters of 3 fill the GPCs that 4 leaves SMs idle in: 32 rows
      // in clusters of 4 take two waves (30 are resident), in clusters of 3 one.
      cluster: { tag: "b", values: [1, 2, 3, 4, 8] },
      // Room for a block's picks and candidates, in multiples of K: the keys at or above the first digit's bin
      // are 1.07-1.6 K on a whole row of normal logits (bench/NOTES.md section 30), more than K for a block
      // alone on its row (a block of a cluster holds a share of them); where they do not fit, the block reads
      // its whole slice again (bench/NOTES.md section 31).
      room: { tag: "x", values: [1, 2] },
    },
    cluster: "cluster",
    grid: { x: "R * s.cluster" },
    // The cluster size follows a row's length against the rows sharing the GPU (measured, bench/NOTES.md
    // sections 16-17): the 32 rows of one request leave SMs idle unless each row takes several blocks, 256
    // rows of 32K fill it with one each, and rows of 128K want several blocks even 256 at a time (a block's
    // key cache holds at most 32K keys). Neither the row count nor the length alone tells these apart. One
    // request's heads at 64K-256K take clusters of 3 (all 32 resident at once; of clusters of 4, 30 are), longer
    // or fewer rows clusters of 8 (bench/NOTES.md sections 32 and 37).
    bucket: { name: "length_per_row", doc: "row length / rows ranked in one call (requests x query heads)", bounds: [384, 2048, 6144], tunedAt: [128, 1024, 4096, 12288] },
    overlapsPrecedingKernel: true, // starts while the kernel that wrote the values (attention) finishes
    occupancyFromSharedMemory: true, // 512-thread schedules spilled at 64 registers, alone on their SMs
  },
  // Measured on the H200 (bench/NOTES.md section 16): clusters of 4 with 8K cached keys per block came
  // within 7% of the best schedule for 32 rows of 32K and within 1.7x of it on every other shape
  // measured; 512 threads keep two blocks on an SM. The tuning database picks per number of rows.
  heuristic: () => ({ threads: 512, items: 4, cache: 8192, cluster: 4, room: 1 }),
  rules: [
    (c, s) => (c.K % s.threads === 0 ? undefined : `K (${c.K}) must be a multiple of threads (${s.threads})`),
    (c, s) => (c.K / s.threads <= 16 ? undefined : `K / threads = ${c.K / s.threads} sorted items per thread (at most 16)`),
    (_c, s) => (2048 % s.threads === 0 ? undefined : `threads (${s.threads}) must divide the 2048 histogram bins`),
    (c, s) => (s.cache >= c.K ? undefined : `the key cache (${s.cache} keys) must hold budget ${c.K}'s ranks (rank order keeps them there)`),
    (_c, s) => (s.room === 1 || s.cluster === 1 ? undefined : `room for ${s.room} K candidates is for a block alone on its row (cluster 1, not ${s.cluster}): a block of a cluster holds a share of them`),
    // The key cache, the block's histogram (2 x 2048 bins) and in a cluster the summed bins (2048), the picks
    // and candidates (room x K x 8 bytes) and their bucket order (K x 4) must fit a block's 227 KB of shared
    // memory beside the static storage the front end does not count: the fallback sort's (cub's BlockRadixSort:
    // 36.2 bytes a thread for its counters or 4.13 a key for its exchange, whichever is more) and the block
    // scans' (4.2 bytes a thread), sizes of nvcc 13.0's cub rounded up. Counting K x 4.5 for all of it let
    // budget 4096's 1024-thread schedules with 32K cached keys through, which then could not launch (246 KB).
    (c, s) => {
      const bytes = s.cache * 4 + (s.cluster > 1 ? 24576 : 16384) + c.K * (4 + 8 * s.room) + Math.max(37 * s.threads, 4.25 * c.K) + 4.25 * s.threads;
      return bytes <= 227 * 1024 ? undefined : `a key cache of ${s.cache} keys beside budget ${c.K}'s picks (room for ${s.room} K) and the sort of ${s.threads} threads needs ${Math.ceil(bytes / 1024)} KB of shared memory, more than a block's 227 KB`;
    },
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
  const CLUSTER = s.cluster;
  const BATCH = 8; // positions a thread loads at once in a pass over the slice
  const CROWDED = 32; // the most picks a bucket may hold before the ranking falls back to a sort (counting is quadratic in it)
  const RANKED = byPosition == 0; // rank order: picks may be compacted in any order (ranks come from keys and positions)
  const row = blockIdx.x / CLUSTER;
  const rank = CLUSTER > 1 ? clusterRank() : 0; // this block's slice of the row
  // Shared memory every block of the cluster may still read, declared first so that no later array shares it.
  const hist = shared("i32", [2 * BINS]); // the block's histogram; in the ranking, bucket sizes and starts
  const total = shared("i32", [CLUSTER > 1 ? BINS : 1]); // the cluster's sums of the histograms
  const placed = shared("i32", [1]); // items this block selected, read by the blocks after it
  const CAPACITY = s.room * c.K; // the picks and, in rank order, the candidates of the block's slice
  const selKey = shared("u32", [CAPACITY]); // the block's selection (in rank order first its candidates); the first block gathers the row's here
  const selPos = shared("i32", [CAPACITY]);
  const members = shared("i32", [c.K]); // rank order: the picks bucket by bucket (indices into selKey/selPos)
  const crowded = shared("i32", [1]); // rank order: some bucket holds more than CROWDED picks
  const owned = shared("i32", [2]); // rank order: the ranks this block outputs, [owned[0], owned[1])

  waitForPrecedingGrid();
  let n = values.size("L");
  if (present(lengths)) n = lengths.at(row / rowsPerSeq);
  if (n < 0 || n > values.size("L")) {
    if (threadIdx.x == 0 && rank == 0) raise("length {1} of row {0} is outside [0, {2}]", row, n, values.size("L"));
    return; // the whole cluster: its blocks read the same length
  }
  const lo = begin;
  const hi = max(n - tail, lo);
  const take = min(k, hi - lo);
  const span = (hi - lo + CLUSTER - 1) / CLUSTER;
  const mine = min(lo + rank * span, hi); // this block's slice [mine, mineEnd)
  const mineEnd = min(mine + span, hi);

  // The first pass keeps the slice's first s.cache keys in shared memory; later passes read them there
  // instead of loading and converting the floats again.
  const keyCache = shared("u32", [s.cache]);
  const keyAt = (j: i32): u32 => (j - mine < s.cache ? keyCache[j - mine] : orderedKey(values.at(row, j)));

  // Radix select of the take-th largest key: digits of 11, 11 and 10 bits, most significant first.
  // found: the digit, the count still to take in its bin, the largest key's first digit, and (first level)
  // the block's own keys above the digit's bin and in it: in rank order, where they fit the pick buffer
  // (candidates), the keys above it go to selKey[0, found[3]) and those in it to the next found[4] slots.
  // Kept in shared memory rather than registers, which the 1024-thread schedules have none left of.
  const found = shared("i32", [5]);
  const cursor = shared("i32", [2]); // rank order: where the next pick and the next candidate go in selKey/selPos
  let prefix: u32 = 0; // the digits found so far, in place
  let remaining = take; // how many keys that match `prefix` are still to be taken
  let lastBin = 0; // the last digit's bin: the count of keys equal to T, per block
  // Rank order, where the keys at or above the first digit's bin fit the pick buffer: the later levels and
  // the compaction read those candidates, not the slice (a test of shared words: registers are short).
  const candidates = (): bool => RANKED && take > 0 && found[3] + found[4] <= CAPACITY;
  for (const level of unroll(3)) {
    const shift = level == 0 ? 21 : level == 1 ? 10 : 0;
    const decided = shift + (level == 2 ? 10 : 11); // bits at and above this one are already known
    const mask: u32 = level == 2 ? 0x3ff : 0x7ff;
    // One histogram serves every level: a peer reads this block's counts (and writes its `total`) only
    // between the level's two cluster barriers, so the next level's counts cannot overtake the reads.
    for (let i = threadIdx.x; i < BINS; i += s.threads) hist[i] = 0;
    syncthreads();
    if (level > 0 && remaining > 0 && candidates()) {
      for (let i = found[3] + threadIdx.x; i < found[3] + found[4]; i += s.threads) {
        const key = selKey[i];
        if (key >> decided == prefix >> decided) atomicAdd(hist.ref(i32((key >> shift) & mask)), 1);
      }
    } else if (remaining > 0) {
      const load = (j: i32): u32 => (level == 0 ? orderedKey(values.at(row, j)) : keyAt(j));
      const count = (j: i32, key: u32): void => {
        if (level == 0 && j - mine < s.cache) keyCache[j - mine] = key;
        if (level == 0 || key >> decided == prefix >> decided) atomicAdd(hist.ref(i32((key >> shift) & mask)), 1);
      };
      // Whole batches of eight positions per thread, unrolled so that eight loads are in flight: the row
      // comes from L2, and one load at a time leaves the loop waiting on each latency (39 us for 32 rows of 32K).
      const wholeEnd = mine + ((mineEnd - mine) / (BATCH * s.threads)) * (BATCH * s.threads);
      for (const j of range(mine + threadIdx.x, wholeEnd, s.threads, BATCH)) count(j, load(j));
      // The rest of the slice, under eight positions per thread, as one batch whose loads go out together (the
      // index clamped to the slice's last position, so that no load is guarded): left to the unrolled loop's
      // remainder, a thread loaded them one at a time (+0.8-1.1 us at 32K, +3.4 at 128K; bench/NOTES.md section 35).
      if (wholeEnd < mineEnd) {
        const key = regs("u32", [BATCH]);
        for (const u of unroll(BATCH)) key[u] = load(min(wholeEnd + threadIdx.x + u * s.threads, mineEnd - 1));
        for (const u of unroll(BATCH)) {
          const j = wholeEnd + threadIdx.x + u * s.threads;
          if (j < mineEnd) count(j, key[u]);
        }
      }
    }
    // The row's counts: in a cluster each block sums its share of the bins over the cluster's histograms
    // (each read once, in whole lines) and hands the sums to every block.
    if (CLUSTER > 1) {
      clusterSync();
      const share = (BINS + CLUSTER - 1) / CLUSTER; // a cluster of 3 leaves the last block fewer bins
      for (let bin = rank * share + threadIdx.x; bin < min((rank + 1) * share, BINS); bin += s.threads) {
        let sum = 0;
        for (const r of unroll(CLUSTER)) sum += peer(hist, r)[bin];
        for (const r of unroll(CLUSTER)) peer(total, r)[bin] = sum;
      }
      clusterSync();
    } else {
      syncthreads();
    }
    const countOf = (bin: i32): i32 => (CLUSTER > 1 ? total[bin] : hist[bin]);
    // The bin where the count of larger keys reaches `remaining`; each thread scans PER_BIN bins from the top.
    let mineCount = 0;
    for (const q of unroll(PER_BIN)) mineCount += countOf(BINS - 1 - (threadIdx.x * PER_BIN + q));
    const scan = regs("i32", [2]);
    blockExclusiveSum(mineCount, scan);
    let before = scan[0];
    for (const q of unroll(PER_BIN)) {
      const bin = BINS - 1 - (threadIdx.x * PER_BIN + q);
      const count = countOf(bin);
      if (remaining > 0 && before < remaining && before + count >= remaining) {
        found[0] = bin;
        found[1] = remaining - before;
      }
      if (level == 0 && before == 0 && count > 0) found[2] = bin; // the largest key's first digit
      before += count;
    }
    syncthreads();
    if (remaining > 0) {
      prefix = prefix | (u32(found[0]) << shift);
      remaining = found[1];
      lastBin = found[0];
    }
    // Rank order: after the first digit, the slice's keys at or above its bin move to the pick buffer
    // (those above it from 0, those in it after them), if they fit; the later levels read only those in it.
    // The block's own histogram counts both.
    if (level == 0 && RANKED && remaining > 0) {
      let own = 0;
      for (const q of unroll(PER_BIN)) {
        const bin = BINS - 1 - (threadIdx.x * PER_BIN + q);
        if (bin > lastBin) own += hist[bin];
      }
      const ownScan = regs("i32", [2]);
      blockExclusiveSum(own, ownScan);
      if (threadIdx.x == 0) {
        found[3] = ownScan[1];
        found[4] = hist[lastBin];
      }
      syncthreads();
    }
    if (level == 0 && candidates()) {
      if (threadIdx.x == 0) {
        cursor[0] = 0;
        cursor[1] = found[3];
      }
      syncthreads();
      // Slots come from two shared counters. Unrolled twice: four loads in flight spilled the 1024-thread
      // schedules' registers; counting first and placing by a block scan instead spilled too, and claiming
      // slots a warp at a time was slower (bench/NOTES.md section 31).
      const bin = u32(lastBin);
      for (const j of range(mine + threadIdx.x, mineEnd, s.threads, 2)) {
        const key = keyAt(j);
        if (key >> 21 >= bin) {
          const slot = atomicAdd(cursor.ref(key >> 21 > bin ? 0 : 1), 1);
          selKey[slot] = key;
          selPos[slot] = j;
        }
      }
    }
  }
  const threshold = prefix; // the take-th largest key
  // Keys equal to T that this slice may take: the row takes `remaining`, lowest positions first, and the
  // slices before this one hold tiesBefore of them (their last histograms count their keys equal to T).
  let tiesBefore = 0;
  for (const r of unroll(CLUSTER)) if (r < rank) tiesBefore += peer(hist, r)[lastBin]; // their level 2 counts
  const ties = max(remaining - tiesBefore, 0);

  // With candidates, and all or none of the block's keys equal to T taken (it holds hist[lastBin] of them),
  // the candidates above T (or equal to it) follow the picks, in any order. A round of s.threads at a time,
  // read before any is written: a pick's slot is below every candidate not yet read, since the picks and
  // the candidates fit the buffer together.
  const ordered = !candidates() || (ties > 0 && ties < hist[lastBin]);
  if (!ordered) {
    const end = found[3] + found[4];
    if (threadIdx.x == 0) cursor[0] = found[3];
    for (let base = found[3]; base < end; base += s.threads) {
      const i = base + threadIdx.x;
      const key = i < end ? selKey[i] : 0;
      const pos = i < end ? selPos[i] : 0;
      syncthreads();
      if (i < end && (key > threshold || (key == threshold && ties > 0))) {
        const slot = atomicAdd(cursor.ref(0), 1);
        selKey[slot] = key;
        selPos[slot] = pos;
      }
    }
    syncthreads();
  }
  // Otherwise an ordered compaction of the slice: item j goes to slot (keys above T before j) + min(ties before j, `ties`).
  let runAbove = 0;
  let runTies = 0;
  for (let base = mine; base < (ordered ? mineEnd : mine); base += s.threads * PER) {
    const keys = regs("u32", [PER]);
    let above = 0;
    let equal = 0;
    for (const e of unroll(PER)) {
      const j = base + threadIdx.x * PER + e;
      keys[e] = j < mineEnd ? keyAt(j) : 0;
      if (j < mineEnd && keys[e] > threshold) above += 1;
      if (j < mineEnd && keys[e] == threshold) equal += 1;
    }
    // Both counts in one scan: per tile each is below 65536 (threads x items <= 16384).
    const scan = regs("i32", [2]);
    blockExclusiveSum(above * 65536 + equal, scan);
    let a = runAbove + scan[0] / 65536;
    let t = runTies + (scan[0] % 65536);
    for (const e of unroll(PER)) {
      const j = base + threadIdx.x * PER + e;
      if (j < mineEnd && keys[e] > threshold) {
        const slot = a + min(t, ties);
        selKey[slot] = keys[e];
        selPos[slot] = j;
        a += 1;
      } else if (j < mineEnd && keys[e] == threshold) {
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
  const count = ordered ? runAbove + min(runTies, ties) : cursor[0]; // this slice's picks (in position order if ordered)
  // The slices' picks follow each other: this one's start after those of the slices before it.
  let first = 0;
  if (CLUSTER > 1) {
    if (threadIdx.x == 0) placed[0] = count;
    clusterSync();
    for (const r of unroll(CLUSTER)) if (r < rank) first += peer(placed, r)[0];
  } else {
    syncthreads();
  }

  if (byPosition != 0) {
    for (let i = threadIdx.x; i < count; i += s.threads) {
      if (present(outIdx)) outIdx.store(selPos[i], row, first + i);
      if (present(outVal)) outVal.store(keyValue(selKey[i]), row, first + i);
    }
  } else {
    // Every block of the cluster gathers the row's picks in position order, keys in keyCache and positions
    // in members (both free once the slice is compacted), then ranks its share of them: ranking in the
    // first block alone took 4.3 us at 32K and 10.9 at 128K, k 4096, while the others waited (bench/NOTES.md
    // section 32).
    // A peer at a time, each block starting with the next one. (Spreading the (peer, pick) pairs over the
    // threads instead spilled registers on the clusters of 8.)
    for (let r = 0; r < CLUSTER; r += 1) {
      const to = CLUSTER > 1 ? (rank + 1 + r) % CLUSTER : 0;
      for (let i = threadIdx.x; i < count; i += s.threads) {
        if (CLUSTER > 1) {
          peer(keyCache, to)[first + i] = selKey[i];
          peer(members, to)[first + i] = selPos[i];
        } else {
          keyCache[i] = selKey[i];
          members[i] = selPos[i];
        }
      }
    }
    if (CLUSTER > 1) clusterSync();
    else syncthreads();
    // Every pick lies in [T, the largest key]: the top 11 of the bits in which that spread differs
    // bucket the picks monotonically in their keys, and normal logits put a few in a bucket.
    const spread = ((u32(found[2]) << 21) | 0x1fffff) - threshold; // found[2]: the first digit of the row's largest key
    const shift = max(bitWidth(spread) - 11, 0);
    const bucketOf = (i: i32): i32 => i32((keyCache[i] - threshold) >> shift);
    // hist[b] counts bucket b's picks, hist[BINS + b] the picks in the buckets above it (where b's ranks begin).
    // The block of cluster rank c ranks the buckets from the one holding the pick of rank c x share up to the
    // one holding the next block's first: owned[0] and owned[1] are where those two buckets begin (take where
    // there is no such pick), each written by the one thread that holds that bucket.
    const share = (take + CLUSTER - 1) / CLUSTER;
    for (let i = threadIdx.x; i < BINS; i += s.threads) hist[i] = 0;
    if (threadIdx.x == 0) {
      crowded[0] = 0;
      owned[0] = take;
      owned[1] = take;
    }
    syncthreads();
    for (let i = threadIdx.x; i < take; i += s.threads) atomicAdd(hist.ref(bucketOf(i)), 1);
    syncthreads();
    let mineCount = 0;
    for (const q of unroll(PER_BIN)) mineCount += hist[BINS - 1 - (threadIdx.x * PER_BIN + q)];
    const scan = regs("i32", [2]);
    blockExclusiveSum(mineCount, scan);
    let above = scan[0];
    for (const q of unroll(PER_BIN)) {
      const bin = BINS - 1 - (threadIdx.x * PER_BIN + q);
      const picks = hist[bin];
      if (picks > CROWDED) crowded[0] = 1;
      if (above <= rank * share && rank * share < above + picks) owned[0] = above;
      if (above <= (rank + 1) * share && (rank + 1) * share < above + picks) owned[1] = above;
      hist[BINS + bin] = above;
      hist[bin] = 0; // the bucket's cursor for the scatter below, which counts it back to its size
      above += picks;
    }
    syncthreads();
    // selKey[r] = the pick of rank r, for the ranks this block owns. A crowded bucket is sorted where
    // the spread's bits and a position's fit one word, by the first block for the whole row; otherwise (ties
    // beside keys far apart) it is counted like the others, in time quadratic in its picks.
    const positionBits = bitWidth(u32(values.size("L") - 1));
    if (crowded[0] == 0 || bitWidth(spread) + positionBits > 32) {
      // The owned buckets' members side by side in selPos (in any order), then each pick counts the members
      // ranked before it; taken in bucket order, a warp's lanes mostly share a bucket and its loop.
      const from = owned[0];
      const to = owned[1];
      for (let i = threadIdx.x; i < take; i += s.threads) {
        const b = bucketOf(i);
        const at = hist[BINS + b];
        if (at >= from && at < to) selPos[at + atomicAdd(hist.ref(b), 1)] = i;
      }
      syncthreads();
      for (let m = from + threadIdx.x; m < to; m += s.threads) {
        const i = selPos[m];
        const b = bucketOf(i);
        const start = hist[BINS + b];
        const key = keyCache[i];
        const pos = members[i];
        let r = start;
        for (let o = start; o < start + hist[b]; o += 1) {
          const j = selPos[o];
          if (keyCache[j] > key || (keyCache[j] == key && members[j] < pos)) r += 1;
        }
        selKey[r] = u32(i);
      }
    } else {
      // Many picks share a bucket (equal or tightly packed keys): one stable block sort of the picks on
      // their key less T, then the row's last position less theirs (the picks arrive in any order when
      // compacted from candidates, so equal keys need their positions in the sort key). Items past `take`
      // get 0 and sort after every real pick (a pick of key T at the last position is 0 too, but comes earlier).
      // The first block sorts and outputs the whole row; the bounds are set after the sort, so that nothing
      // stays live across it.
      if (rank == 0) {
        const keys = regs("u32", [SORTED]);
        const picks = regs("i32", [SORTED]);
        for (const e of unroll(SORTED)) {
          const i = threadIdx.x * SORTED + e;
          keys[e] = i < take ? ((keyCache[i] - threshold) << positionBits) | u32(values.size("L") - 1 - members[i]) : 0;
          picks[e] = i;
        }
        blockSortDescending(keys, picks, bitWidth(spread) + positionBits);
        for (const e of unroll(SORTED)) if (picks[e] < take) selKey[threadIdx.x * SORTED + e] = u32(picks[e]);
      }
      if (threadIdx.x == 0) {
        owned[0] = rank == 0 ? 0 : take;
        owned[1] = take;
      }
    }
    syncthreads();
    const seq = row / rowsPerSeq;
    const pickKey = u32(keyHeadOffset + row % rowsPerSeq); // + r * keyHeads (r: the pick's rank)
    // The output rank by rank, so that a warp's stores are consecutive: stored pick by pick, the 4-byte
    // stores of a warp went to 32 lines, and the row's output took 2.9 us at k 2048 (bench/NOTES.md
    // section 31). A selection's top-k, which stores only first-pick keys (indexed by position), measured
    // 0.8 us slower at B 1, 32K: in the compaction's order neighbours are near in position; keeping that
    // order for them alone spilled registers on two tuned schedules.
    for (let r = owned[0] + threadIdx.x; r < owned[1]; r += s.threads) {
      const i = i32(selKey[r]);
      if (present(outIdx)) outIdx.store(members[i], row, r);
      if (present(outVal)) outVal.store(keyValue(keyCache[i]), row, r);
      if (present(firstPick)) firstPick.atomicMin(u32(r * keyHeads) + pickKey, seq, members[i]);
    }
  }
  if (rank == 0) {
    if (present(outIdx)) for (let i = take + threadIdx.x; i < k; i += s.threads) outIdx.store(-1, row, i);
    if (threadIdx.x == 0 && present(outCount)) outCount.store(take, row);
  }
  // In position order the peers read this block's `placed` and last histogram until their own barrier above.
  if (CLUSTER > 1 && byPosition != 0) clusterSync();
}
