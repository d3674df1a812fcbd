// Decode attention: one new query token per request attends over its KV cache: every token (full
// attention), or the positions of an index list (sparse attention over a selected set).
//
// One block handles one (request, block of G query heads, split of the rows). The G query heads share a
// KV head, so each K and V row is read from memory once for all of them; with one list per query head
// (TidalDecode-style sparse attention) the G = 1 variants run one head per block. Inside the block, LANES
// threads share a row (each holds s.pieces 16-byte pieces of it) and the block's row groups walk the
// split's rows in a software pipeline of asynchronous copies. Every row group keeps its own
// online-softmax state (running max, sum and weighted V); the states are merged in shared memory at the
// end. With more than one split, each block writes a partial output and its base-2 log-sum-exp and counts
// its arrival on the (request, head block)'s counter; the last block to arrive merges the splits, so a
// decode is one launch, and puts the counter back to 0 for the next launch or CUDA-graph replay. (A
// warp-specialised form, a producer warp moving tiles with bulk copies on mbarriers, measured 20-40%
// slower on the H200: bench/NOTES.md section 9.) At a LessIsMore selection layer the kernel also writes every head's scaled logits
// (natural units), which the selection kernels rank.
//
// Any head dim that is a multiple of 8 elements works: a row's LANES lanes sit in an aligned group of a
// power of two lanes (D = 80: 10 of 16), the rest of the group holding zeros. When a thread cannot hold
// the query and accumulator of all G heads (G > 8), the block's threads form parts that each take some of
// the heads and read the same staged K/V rows.
//
// List entries that are not a position below the sequence length, or not above the previous entry, are
// skipped (never read) and reported through raise().

import {
  DEFAULT_MATRIX,
  allowDependentGrid, asyncCommit, asyncCopy, asyncWait, blockIdx, ceilDiv, defineKernel, dot, exp2, laneGroupSum, lastToArrive, loadVec, log2,
  max, min, present, raise, range, regs, shared, sizeof, storeVec, syncthreads, threadIdx, unroll,
  type ConstantsOf, type MaybeOut, type MaybeTensor, type Out, type ScheduleOf, type Tensor, type f32, type i32,
} from "../lang/index.js";

/** Query values (and as many accumulator values) one thread holds; the body's HELD. More would spill. */
const HELD = 64;

/**
 * The thread layout of a schedule, as the kernel body derives it (keep the two in step): the lanes that
 * share a row (16-byte pieces of 8 elements), their group padded to a power of two, and the parts the
 * block's heads are split into so that each thread holds at most HELD query values.
 */
function layout(c: { readonly D: number; readonly G: number }, s: { readonly pieces: number }) {
  const lanes = c.D / (8 * s.pieces);
  const slot = 2 ** Math.ceil(Math.log2(Math.max(lanes, 1)));
  const parts = Math.ceil((c.G * s.pieces * 8) / HELD);
  return { lanes, slot, parts, heads: Math.ceil(c.G / parts) };
}

export const decodeAttention = defineKernel({
  spec: {
    name: "decode_attention",
    summary: "decode attention over all tokens or an index list; G query heads share each K/V row; splits merged in the kernel",
    constants: { D: DEFAULT_MATRIX.headDims, G: DEFAULT_MATRIX.groupSizes, dtype: DEFAULT_MATRIX.dtypes },
    schedule: {
      // The tuning space: the run 2 sweep (bench/NOTES.md) never chose 64 threads, 8 rows or 5 stages.
      threads: { tag: "t", values: [128, 256] },
      rows: { tag: "r", values: [1, 2, 4] }, // rows each row group holds per pipeline stage
      stages: { tag: "s", values: [2, 3, 4] }, // depth of the asynchronous-copy pipeline
      pieces: { tag: "p", values: [1, 2] }, // 16-byte pieces of a row each thread holds
    },
    grid: { x: "splits", y: "HB", z: "B" }, // y: blocks of G query heads (HB = ceil(Hq / G))
    limits: {
      LIST_ROWS: 1024, // list entries of a block cached in shared memory (the C ABI plans chunks of at most this many)
      MAX_SPLITS: 256, // splits of one (request, head block) the in-kernel merge takes (the C ABI plans at most this many)
    },
    // Sparse lists of the budgets 1K, 2K, 4K and 8K, mid-length and long caches each get their own schedule.
    bucket: {
      name: "rows",
      doc: "rows per block: max_seqlen, or max_count for index lists",
      bounds: [1536, 3072, 6144, 12288, 49152],
      tunedAt: [1024, 2048, 4096, 8192, 32768, 131072],
    },
  },
  heuristic: (c) => {
    // From the H100 sweep (bench/NOTES.md, run 2): 32 bytes per thread and a shallow pipeline of wide tiles
    // for G <= 4; at G = 8 registers allow one piece, and four rows per stage keep the loads ahead.
    if (c.G <= 4) return { threads: 256, rows: 2, stages: 2, pieces: 2 };
    // Past 8 heads, 128 threads per part, each part scheduled as at G = 8 (two pieces only where one piece
    // would need more than 32 lanes).
    const pieces = c.D / 8 <= 32 ? 1 : 2;
    return { threads: 128 * layout(c, { pieces }).parts, rows: 4, stages: 3, pieces };
  },
  rules: [
    (c, s) => (c.D % (8 * s.pieces) === 0 && c.D / (8 * s.pieces) <= 32 ? undefined : `D (${c.D}) must split into at most 32 lanes of ${s.pieces} 16-byte pieces`),
    (c, s) => {
      const { lanes, slot, parts } = layout(c, s);
      const what = `${parts > 1 ? `${parts} parts of heads x ` : ""}${slot} lanes (the ${lanes} that share a K row${slot > lanes ? ", to a power of two" : ""})`;
      return s.threads % (parts * slot) === 0 ? undefined : `threads (${s.threads}) must be a multiple of ${what}`;
    },
    (c, s) => {
      const { heads } = layout(c, s);
      return s.rows * heads <= 32 ? undefined : `rows x heads per thread = ${s.rows * heads} scores per thread would not fit in registers (at most 32)`;
    },
  ],
});

export function decode_attention(
  c: ConstantsOf<typeof decodeAttention.spec>,
  s: ScheduleOf<typeof decodeAttention.spec>,
  q: Tensor<"dtype", ["B", "Hq", "D"]>,
  k: Tensor<"dtype", ["B", "Hkv", "Nmax", "D"]>,
  v: Tensor<"dtype", ["B", "Hkv", "Nmax", "D"]>,
  seqlens: Tensor<"i32", ["B"]>,
  indices: MaybeTensor<"i32", ["B", "HI", "KI"]>, // sparse attention: ascending positions, one list per request (HI = 1) or per query head (HI = Hq)
  counts: MaybeTensor<"i32", ["B", "HI"]>, // entries used in each list
  o: Out<"dtype", ["B", "Hq", "D"]>,
  lse: MaybeOut<"f32", ["B", "Hq"]>,
  logits: MaybeOut<"f32", ["B", "Hq", "NL"]>, // selection layers: the scaled logits q.k * scale of every head and token
  partialO: Out<"f32", ["B", "Hq", "splits", "D"]>,
  partialLse: Out<"f32", ["B", "Hq", "splits"]>,
  arrivals: Out<"i32", ["B", "HB"]>, // per (request, head block): splits done so far; 0 between launches
  scale: f32,
  maxSeqlen: i32,
  groupSize: i32, // query heads per KV head (Hq / Hkv); G of them are served by one block
  splits: i32,
  chunk: i32,
): void {
  const VEC = 16 / sizeof(c.dtype); // elements in one 16-byte piece
  const PIECES = s.pieces;
  const LANES = c.D / (VEC * PIECES); // threads that share one K/V row
  // The row's lanes sit in an aligned group of SLOT lanes (a power of two, for the shuffle sum); the
  // SLOT - LANES lanes past them hold no part of the row and add zeros.
  const SLOT = LANES <= 1 ? 1 : LANES <= 2 ? 2 : LANES <= 4 ? 4 : LANES <= 8 ? 8 : LANES <= 16 ? 16 : 32;
  // A thread holds the query and the accumulator of each of its heads, at most HELD values of each (more
  // would spill): PARTS parts of the block take HEADS of the G heads each (the last may have fewer).
  const HELD = 64;
  const PARTS = ceilDiv(c.G * PIECES * VEC, HELD);
  const HEADS = ceilDiv(c.G, PARTS);
  const ALL = PARTS * HEADS == c.G; // every part has HEADS heads
  const PART_THREADS = s.threads / PARTS;
  const GROUPS = PART_THREADS / SLOT; // rows a part processes side by side
  const TILE = GROUPS * s.rows; // rows per pipeline stage
  const LOG2E = 1.4426950408889634;
  const LN2 = 0.6931471805599453;
  const NO_SCORE = -1e30; // finite start for running maxima, so exp2(old - new) is never NaN

  const b = blockIdx.z;
  const qHead = blockIdx.y * c.G; // the first of this block's G query heads
  const kvHead = qHead / groupSize;
  const split = blockIdx.x;
  const inPart = PARTS == 1 ? threadIdx.x : threadIdx.x % PART_THREADS; // the thread's index in its part
  const part = PARTS == 1 ? 0 : threadIdx.x / PART_THREADS;
  const h0 = part * HEADS; // the part's first head, of the block's G
  const lane = threadIdx.x % SLOT;
  const group = inPart / SLOT;
  const active = SLOT == LANES || lane < LANES; // the lane holds a part of the row

  // Everything the block reads before its first K/V row is loaded up front, before the checks, so that the
  // loads overlap: one memory latency instead of a chain of four.
  const seqlen = seqlens.at(b);
  let list = 0;
  let count = 0;
  if (present(indices) && present(counts)) {
    list = indices.size("HI") == 1 ? 0 : qHead;
    count = counts.at(b, list);
  }
  // A thread holds piece p of a row: dims p * LANES * VEC + lane * VEC + (0..VEC-1), so that each piece
  // is one coalesced 16-byte-per-lane access across the row's lanes. Lanes past the row, and heads past
  // G in the last part, hold zeros.
  const qs = regs("f32", [HEADS, PIECES, VEC], 0.0);
  for (const g of unroll(HEADS)) {
    if (active && (ALL || h0 + g < c.G)) {
      for (const p of unroll(PIECES)) loadVec(qs[g][p], q.ref(b, qHead + h0 + g, (p * LANES + lane) * VEC));
    }
  }
  // The list entries of the split's first LIST_ROWS rows and the one before them (entry start - 1 + j at
  // j), kept in shared memory: the copy pipeline then never waits on an index load.
  const start = split * chunk;
  const listEntries = shared("i32", [c.LIST_ROWS + 1]);
  if (present(indices)) {
    const cached = min(indices.size("KI"), start + min(chunk, c.LIST_ROWS));
    for (let i = start - 1 + threadIdx.x; i < cached; i += s.threads) listEntries[i - start + 1] = i >= 0 ? indices.at(b, list, i) : -1;
  }

  if (seqlen < 1 || seqlen > maxSeqlen) {
    if (threadIdx.x == 0 && split == 0 && blockIdx.y == 0) raise("seqlens[{0}] = {1} is outside [1, max_seqlen = {2}]", b, seqlen, maxSeqlen);
    return;
  }
  let n = seqlen; // rows this block attends over: tokens, or entries of its list
  if (present(indices) && present(counts)) {
    n = count;
    if (n < 1 || n > indices.size("KI")) {
      if (threadIdx.x == 0 && split == 0) raise("counts[{0}][{1}] = {2} is outside [1, {3}]", b, list, n, indices.size("KI"));
      return;
    }
  }
  if (present(indices)) syncthreads(); // the list entries are in shared memory
  const end = min(n, start + chunk);
  const tiles = end > start ? ceilDiv(end - start, TILE) : 0;
  // The token position of row i: i itself, or the list's entry; -1 for an entry that must be skipped.
  const position = (i: i32): i32 => {
    let p = i;
    if (present(indices)) {
      const j = i - start;
      p = j < c.LIST_ROWS ? listEntries[j + 1] : indices.at(b, list, i);
      const previous = j < c.LIST_ROWS ? listEntries[j] : indices.at(b, list, i - 1); // i > j >= LIST_ROWS here
      if (p < 0 || p >= seqlen || p <= previous) {
        raise("indices[{0}][{1}][{2}] = {3} is not a position below seqlens[b] above the previous entry", b, list, i, p);
        p = -1;
      }
    }
    return p;
  };
  // Pre-scaled so that scores come out in base 2.
  for (const g of unroll(HEADS)) for (const p of unroll(PIECES)) for (const e of unroll(VEC)) qs[g][p][e] = qs[g][p][e] * (scale * LOG2E);

  const m = regs("f32", [HEADS], NO_SCORE);
  const l = regs("f32", [HEADS], 0.0);
  const acc = regs("f32", [HEADS, PIECES, VEC], 0.0);
  {
    // A thread reads back the 16-byte pieces at its own place `at` of a stage (the same place in every
    // part). With one part it also copies exactly those, so waiting for its own copies is enough and the
    // loop needs no block-wide barrier. With several, the parts share the copying and a barrier per tile
    // publishes the copies and frees the stage that is refilled next. Lanes past the row copy nothing
    // (zero-fill), so they read zeros.
    const kStage = shared("dtype", [s.stages, s.rows, PIECES, PART_THREADS * VEC]);
    const vStage = shared("dtype", [s.stages, s.rows, PIECES, PART_THREADS * VEC]);
    const at = inPart * VEC;
    const issue = (tile: i32) => {
      const stage = tile % s.stages;
      for (const r of unroll(s.rows)) {
        const row = start + tile * TILE + r * GROUPS + group;
        const pos = tile < tiles && row < end ? position(row) : -1;
        const valid = pos >= 0 && active;
        const src = valid ? pos : 0;
        for (const p of unroll(PIECES)) {
          // Of the K and V pieces of the tile, the x-th is copied by part x % PARTS.
          const x = (r * PIECES + p) * 2;
          if (PARTS == 1 || x % PARTS == part) asyncCopy(kStage.ref(stage, r, p, at), k.ref(b, kvHead, src, (p * LANES + lane) * VEC), VEC, valid);
          if (PARTS == 1 || (x + 1) % PARTS == part) asyncCopy(vStage.ref(stage, r, p, at), v.ref(b, kvHead, src, (p * LANES + lane) * VEC), VEC, valid);
        }
      }
      asyncCommit();
    };
    for (const t of unroll(s.stages - 1)) issue(t);

    for (let tile = 0; tile < tiles; tile++) {
      if (PARTS == 1) {
        issue(tile + s.stages - 1);
        asyncWait(s.stages - 1);
      } else {
        // This thread's copies of the tile have landed; after the barrier everyone's have, and every part
        // is done with the stage of the previous tile, which issue() refills.
        asyncWait(s.stages - 2);
        syncthreads();
        issue(tile + s.stages - 1);
      }
      const stage = tile % s.stages;

      const score = regs("f32", [s.rows, HEADS]);
      const tileMax = regs("f32", [HEADS], -Infinity);
      for (const r of unroll(s.rows)) {
        const ks = regs("f32", [PIECES, VEC]);
        for (const p of unroll(PIECES)) loadVec(ks[p], kStage.ref(stage, r, p, at));
        const row = start + tile * TILE + r * GROUPS + group;
        const pos = row < end ? position(row) : -1;
        const inRange = pos >= 0;
        for (const g of unroll(HEADS)) {
          let partial: f32 = 0.0;
          for (const p of unroll(PIECES)) partial = partial + dot(qs[g][p], ks[p]);
          const full = laneGroupSum(partial, SLOT);
          score[r][g] = inRange ? full : -Infinity;
          tileMax[g] = max(tileMax[g], score[r][g]);
          // Every lane of the row holds every head's score; lane g % LANES writes head g's.
          if (present(logits) && inRange && lane == g % LANES && (ALL || h0 + g < c.G)) logits.store(full * LN2, b, qHead + h0 + g, pos);
        }
      }
      for (const g of unroll(HEADS)) {
        const mNew = max(m[g], tileMax[g]);
        const alpha = exp2(m[g] - mNew);
        m[g] = mNew;
        l[g] = l[g] * alpha;
        for (const p of unroll(PIECES)) for (const e of unroll(VEC)) acc[g][p][e] = acc[g][p][e] * alpha;
      }
      for (const r of unroll(s.rows)) {
        const vs = regs("f32", [PIECES, VEC]);
        for (const p of unroll(PIECES)) loadVec(vs[p], vStage.ref(stage, r, p, at));
        for (const g of unroll(HEADS)) {
          const pr = exp2(score[r][g] - m[g]);
          l[g] = l[g] + pr;
          for (const p of unroll(PIECES)) for (const e of unroll(VEC)) acc[g][p][e] = acc[g][p][e] + pr * vs[p][e];
        }
      }
    }
    asyncWait(0); // the copies issued past the last tile must land before the storage is reused
  }
  // Whatever follows in the stream may start launching now; it waits for this grid before reading.
  allowDependentGrid();
  syncthreads();

  // Merge the row groups' states: rescale each to the block-wide maximum and add.
  const mAll = shared("f32", [GROUPS, c.G]);
  const lAll = shared("f32", [GROUPS, c.G]);
  const accAll = shared("f32", [GROUPS, c.G, c.D]);
  for (const g of unroll(HEADS)) {
    if (ALL || h0 + g < c.G) {
      if (lane == 0) {
        mAll[group][h0 + g] = m[g];
        lAll[group][h0 + g] = l[g];
      }
      if (active) for (const p of unroll(PIECES)) storeVec(accAll.ref(group, h0 + g, (p * LANES + lane) * VEC), acc[g][p]);
    }
  }
  syncthreads();
  for (let i = threadIdx.x; i < c.G * c.D; i += s.threads) {
    const g = i / c.D;
    const d = i % c.D;
    let mMax: f32 = NO_SCORE;
    for (const gr of unroll(GROUPS)) mMax = max(mMax, mAll[gr][g]);
    let sum: f32 = 0.0;
    let out: f32 = 0.0;
    for (const gr of unroll(GROUPS)) {
      const w = exp2(mAll[gr][g] - mMax);
      sum = sum + lAll[gr][g] * w;
      out = out + accAll[gr][g][d] * w;
    }
    const h = qHead + g;
    const value = sum > 0.0 ? out / sum : 0.0;
    const lse2 = sum > 0.0 ? mMax + log2(sum) : -Infinity; // base-2 log-sum-exp of the scaled scores
    if (splits == 1) {
      o.store(value, b, h, d);
      if (d == 0 && present(lse)) lse.store(lse2 * LN2, b, h);
    } else {
      // Every split writes its partial, empty ones with lse -inf.
      partialO.store(value, b, h, split, d);
      if (d == 0) partialLse.store(lse2, b, h, split);
    }
  }
  if (splits > 1) {
    // The last split of this (request, head block) to finish merges them all: o = sum_s w_s o_s / sum_s w_s
    // with w_s = 2^(lse_s - M), M the largest lse_s. The log-sum-exps are staged in shared memory.
    if (lastToArrive(arrivals.ref(b, blockIdx.y), splits)) {
      const lseAll = shared("f32", [c.G, c.MAX_SPLITS]);
      for (let i = threadIdx.x; i < c.G * splits; i += s.threads) lseAll[i / splits][i % splits] = partialLse.at(b, qHead + i / splits, i % splits);
      syncthreads();
      for (let i = threadIdx.x; i < c.G * c.D; i += s.threads) {
        const g = i / c.D;
        const d = i % c.D;
        const h = qHead + g;
        let mMax: f32 = NO_SCORE;
        for (const sp of range(0, splits, 1, 4)) mMax = max(mMax, lseAll[g][sp]);
        let sum: f32 = 0.0;
        let out: f32 = 0.0;
        for (const sp of range(0, splits, 1, 4)) {
          const w = exp2(lseAll[g][sp] - mMax);
          sum = sum + w;
          out = out + w * partialO.at(b, h, sp, d);
        }
        o.store(sum > 0.0 ? out / sum : 0.0, b, h, d);
        if (d == 0 && present(lse)) lse.store(sum > 0.0 ? (mMax + log2(sum)) * LN2 : -Infinity, b, h);
      }
    }
  }
}
