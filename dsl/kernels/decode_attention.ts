// Decode attention: one new query token per request attends over its KV cache: every token (full
// attention), or the positions of an index list (sparse attention over a selected set).
//
// One block handles one (request, block of G query heads, split of the rows). The G query heads share a
// KV head, so each K and V row is read from memory once for all of them; with one list per query head
// (TidalDecode-style sparse attention) the G = 1 variants run one head per block.
//
// The block is split into warp roles. A producer warp group copies the split's K and V rows, a tile at a time,
// into a ring of s.stages shared-memory tiles with 16-byte asynchronous copies, each row's address a
// function of (request, KV head, position) alone (index lists and any cache layout go through the same
// copy); its copies complete on the stage's `full` barrier. The consumer warps wait for a tile, compute
// on the tensor cores, and arrive on the stage's `empty` barrier, which lets the producer refill it.
//
// Each consumer warp takes 16-row slices of the tile. The mmas (m16n8k16) run transposed, as S^T = K Q^T and
// O^T = V^T P^T: the K rows of each 16-row part of the slice, read with ldmatrix, are A and 8 query heads are
// B's columns, so one mma serves 16 rows for up to 8 heads (G 4 pads to 8 heads, not to 16). The online softmax runs on the score
// fragments in registers (base 2), a head's maximum and sum gathered over the 8 lanes of its column; P^T,
// transposed in registers (movmatrix), is the B of the second mma, whose A is V read transposed, so each
// output fragment is 16 dims by 8 heads. Tile rows are padded by 16 bytes so that ldmatrix's 8 rows fall in
// different banks. The warps' states (running max, sum, output) are merged in shared memory at the end.
//
// With more than one split, each block writes a partial output and its base-2 log-sum-exp and counts its
// arrival on the (request, head block)'s counter; the last block to arrive merges the splits, so a decode
// is one launch, and puts the counter back to 0 for the next launch or CUDA-graph replay. At a LessIsMore
// selection layer the kernel also writes every head's scaled logits (natural units), which the selection
// kernels rank.
//
// List entries that are not a position below the sequence length, or not above the previous entry, are
// skipped (never read) and reported through raise().
//
// FP8 caches (kv = e4m3 or e5m2): the ring holds the FP8 rows as they are (half the bytes of 16-bit ones),
// and both mmas run in fp16, into which every E4M3 and E5M2 value widens exactly. ldmatrix reads FP8 rows
// as 16-bit pairs, so a K register holds 4 consecutive dims of one row: the score mma's k index is permuted
// within each 16 dims (k 2t, 2t+1 -> dims 4t, 4t+1; k 2t+8, 2t+9 -> dims 4t+2, 4t+3) and Q's fragments are loaded
// in the same order, which leaves q.k unchanged. V is read transposed as pairs: a register holds dims
// (2g, 2g+1) of two rows; one byte permute makes dim 2g of both rows an A row of one mma and dim 2g+1 that
// of another, so each 32 dims of the output come from an even and an odd mma. The scales fold in: k_scale
// into the score scale (logits come from the FP8 keys), v_scale into the output.

import {
  DEFAULT_MATRIX,
  allowDependentGrid, arrive, asyncArrive, asyncCopy, barriers, blockIdx, ceilDiv, defineKernel, exp2, isFp8, isProducer, laneGroupMax,
  laneGroupSum, laneId, lastToArrive, loadBits, loadMatrix, loadVec, log2, max, min, mma, pack2, peek, present, raise, range, regs, shared,
  producerWarps, sizeof, storeVec, syncthreads, threadIdx, transposeMatrix, unroll, waitBarrier, waitForPrecedingGrid, warpId, widenFp8,
  type ConstantsOf, type MaybeOut, type MaybeTensor, type Out, type ScheduleOf, type Tensor, type bool, type f32, type i32,
} from "../lang/index.js";

// Read by the schedule rules as well as the kernel (producerWarps(), c.MERGE_VEC).
const PRODUCER_WARPS = 4;
const MERGE_VEC = 4;

export const decodeAttention = defineKernel({
  spec: {
    name: "decode_attention",
    summary: "decode attention over all tokens or an index list; G query heads share each K/V row; tensor cores; splits merged in the kernel",
    constants: { D: DEFAULT_MATRIX.headDims, G: DEFAULT_MATRIX.groupSizes, dtype: DEFAULT_MATRIX.dtypes, cache: DEFAULT_MATRIX.caches, kv: DEFAULT_MATRIX.kvDtypes },
    schedule: {
      threads: { tag: "t", values: [64, 128, 256] }, // consumer threads (the producer warp comes on top)
      rows: { tag: "r", values: [1, 2, 4] }, // 16-row slices each consumer warp takes per tile
      stages: { tag: "s", values: [2, 3, 4, 6] }, // tiles in the shared-memory ring
      // Lanes sharing each item of the split merge, each taking every m-th split: fewer rounds of L2 loads where
      // a (request, head block) has more splits than one round loads (B 1, long rows, few head blocks), but
      // the merge's shuffles cost where it has not (bench/NOTES.md section 41), so the tuner picks it per bucket.
      merge: { tag: "m", values: [1, 2, 4] },
    },
    producerWarps: PRODUCER_WARPS, // a warp group: one warp's address arithmetic cannot keep 16-byte copies coming fast enough
    grid: { x: "splits", y: "HB", z: "B" }, // y: blocks of G query heads (HB = ceil(Hq / G))
    overlapsPrecedingKernel: true, // its launch overlaps the kernel before it, whose outputs (q, the cache, lists) it waits for
    limits: {
      MERGE_VEC, // consecutive dims of a head each merging thread takes (one 16-byte load per partial)
      LIST_ROWS: 1024, // list entries of a block cached in shared memory (the C ABI plans chunks of at most this many)
      MAX_SPLITS: 256, // splits of one (request, head block) the C ABI plans at most (the merge loads them in batches, any number)
      MERGE_LOADS: 16, // splits whose partials the merge loads in one round of L2 loads (the C ABI plans one round where it pays)
      CHUNK_GRANULE: 16, // rows a split's chunk is a multiple of, in the C ABI's plan and in the kernel's spread of a shorter request
    },
    // Sparse lists of the budgets 1K, 2K, 4K and 8K, mid-length and long caches each get their own schedule.
    bucket: {
      name: "rows",
      doc: "rows per block: max_seqlen, or max_count for index lists",
      bounds: [1536, 3072, 6144, 12288, 49152],
      tunedAt: [1024, 2048, 4096, 8192, 32768, 131072],
    },
  },
  // Four consumer warps of 16 rows (64-row tiles) and as many tiles in the ring, up to four, as 220 KB of
  // shared memory hold: about 100 KB of K and V on the way per SM.
  heuristic: (c) => ({ threads: 128, rows: 1, stages: Math.min(4, Math.floor(220_000 / (2 * 64 * stagedRowBytes(c)))), merge: 1 }),
  rules: [
    (c) => (c.D % 16 === 0 ? undefined : `D (${c.D}) must be a multiple of 16 (the k of an mma)`),
    (c, s) => {
      // The ring of K and V tiles (padded rows) and the producers' staged rows (two tiles of a position and
      // two addresses each, 20 bytes), beside the cached list entries and the barriers.
      const tile = (s.threads / 32) * 16 * s.rows;
      const ring = 2 * s.stages * tile * stagedRowBytes(c) + 2 * tile * 20;
      return ring + qSharedBytes(c) + 8 * 1024 <= 227 * 1024 ? undefined : `the ring of ${s.stages} tiles of ${tile} rows takes ${ring} bytes of shared memory, more than a block has`;
    },
    // Every lane of the split merge (consumers and producers) takes one item of MERGE_VEC dims, or a share of one.
    (c, s) => {
      const items = (c.G * c.D) / MERGE_VEC;
      const lanes = s.threads + 32 * PRODUCER_WARPS;
      return s.merge === 1 || items * s.merge <= lanes ? undefined : `${s.merge} merge lanes per item need ${items * s.merge} threads, the block has ${lanes}`;
    },
    // Each block of 8 heads adds its own accumulators; two already fill the registers at head dim 256.
    (c) => (c.G <= 16 ? undefined : `G (${c.G}) must be at most 16 (two blocks of 8 heads; more would not fit the registers)`),
  ],
  // An ldmatrix of FP8 rows covers 32 dims: head dims 80, 112 get FP8-free variants only.
  unsupported: (c) => (!isFp8(c.kv) || c.D % 32 === 0 ? undefined : `FP8 caches need a head dim that is a multiple of 32, got ${c.D}`),
});

/**
 * Bytes of Q's mma fragments held in shared memory: where they and the output's fragments would take more
 * than 128 of a consumer thread's registers (two blocks of 8 heads, G > 8, at D 192 and 256: 48 + 96 and
 * 64 + 128), which left too few for the rest (D 256, G 16 spilled 136 bytes). The kernel tests the same
 * count (Q_SHARED).
 */
function qSharedBytes(c: { D: number; G: number }): number {
  const headBlocks = Math.ceil(c.G / 8);
  const fragments = headBlocks * (c.D / 16) * 2; // u32 registers of Q per lane
  return fragments + (c.D / 16) * headBlocks * 4 > 128 ? fragments * 32 * 4 : 0;
}

/** Bytes of one staged K or V row: D elements of the cache's type and 16 bytes of padding. */
function stagedRowBytes(c: { D: number; kv: string }): number {
  return c.D * (isFp8(c.kv) ? 1 : 2) + 16;
}

export function decode_attention(
  c: ConstantsOf<typeof decodeAttention.spec>,
  s: ScheduleOf<typeof decodeAttention.spec>,
  q: Tensor<"dtype", ["B", "Hq", "D"]>,
  k: Tensor<"kv", ["B", "Hkv", "Nmax", "D"], "cache">, // contiguous, or paged through a block table (positions stay logical); dtype or FP8
  v: Tensor<"kv", ["B", "Hkv", "Nmax", "D"], "cache">,
  kScale: MaybeTensor<"f32", ["KS"]>, // FP8 caches: the keys' scale, one (per tensor) or one per KV head (KS = Hkv); absent: 1
  vScale: MaybeTensor<"f32", ["KS"]>,
  seqlens: Tensor<"i32", ["B"]>,
  indices: MaybeTensor<"i32", ["B", "HI", "KI"]>, // sparse attention: ascending positions, one list per request (HI = 1) or per query head (HI = Hq)
  counts: MaybeTensor<"i32", ["B", "HI"]>, // entries used in each list; absent: the lists run to KI, -1 entries (the engines' padding) skipped
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
  prefetch: i32, // 1: fetch the first rows into the L2 before the preceding kernel is done (a launch of one wave of blocks)
): void {
  const FP8 = sizeof(c.kv) == 1; // an FP8 cache, E4M3 or E5M2
  const MMA = FP8 ? "fp16" : c.dtype; // the mmas' input type: FP8 rows widen exactly to fp16
  const VEC = 16 / sizeof(c.kv); // cache elements in one 16-byte piece
  const WARPS = s.threads / 32; // consumer warps
  const SLICE = 16 * s.rows; // rows each consumer warp takes per tile
  const TILE = WARPS * SLICE; // rows per tile (one stage of the ring)
  const ROW = c.D + VEC; // a staged row and 16 bytes of padding: ldmatrix's 8 rows then hit different banks
  const KSTEPS = c.D / 16; // k steps of the score mma
  const DIM_BLOCKS = c.D / 16; // 16-dim blocks of the output, the A rows of one P V mma each
  const HEAD_BLOCKS = ceilDiv(c.G, 8); // blocks of 8 query heads, the n of an mma
  const PIECES_PER_ROW = c.D / VEC;
  const PRODUCERS = 32 * producerWarps(); // producer threads
  const LOG2E = 1.4426950408889634;
  const LN2 = 0.6931471805599453;
  const MERGE_VEC = c.MERGE_VEC;
  const NO_SCORE = -1e30; // finite start for running maxima, so exp2(old - new) is never NaN

  const b = blockIdx.z;
  const qHead = blockIdx.y * c.G; // the first of this block's G query heads
  const kvHead = qHead / groupSize;
  const split = blockIdx.x;
  // Full attention spreads the request's own length over the planned splits (chunks of CHUNK_GRANULE rows, at
  // most the planned chunk), so that a launch planned for a longer max_seqlen (a CUDA graph captured at the
  // cache's capacity) still runs every split on a short request: planned chunks left a 4K request under a
  // 128K plan to one block per head block, 4x cuDNN's time (bench/NOTES.md section 31). Index lists keep the
  // planned chunk, so that their entries are loaded before the count is known.
  const chunkFor = (rows: i32): i32 => (present(indices) ? chunk : min(chunk, ceilDiv(ceilDiv(max(rows, 1), splits), c.CHUNK_GRANULE) * c.CHUNK_GRANULE));
  const listStart = split * chunk; // a list's first entry of this split

  // Launched as a programmatic dependent: the launch and the block's start overlap the kernel before it
  // (at B 1 a launch gap is a tenth of a sparse attention), and nothing is read before that kernel is done.
  // While it finishes, the rows of this split's first two rings of tiles are fetched into the L2, so that the
  // first copies after the wait find them there instead of in memory: in a B 1 launch the first tile arrived
  // 1.2-2 us after the wait (bench/NOTES.md sections 27-28). Nothing is read: a list's entries and a paged
  // cache's table are peeked (their values, which that kernel may still be writing, only pick the rows).
  // Only in a launch of one wave of blocks (prefetch = 1, the C ABI's plan): later waves start after that
  // kernel is done, and would only request their first rows twice.
  if (prefetch == 1) {
    const AHEAD_ROWS = 2 * s.stages * TILE;
    // Only rows below the request's length and within a list's count, both peeked too: a launch planned for
    // a longer max_seqlen (a CUDA graph captured at the cache's capacity) has splits past them, which read
    // nothing. The peeks are independent loads, so they wait on the L2 together.
    const length = min(peek(seqlens.ref(b)), maxSeqlen);
    const ahead = chunkFor(length);
    const from = split * ahead;
    let listed = from + ahead; // list entries to prefetch the rows of: without a list, every row of the split
    if (present(indices)) {
      listed = indices.size("KI");
      if (present(counts)) listed = peek(counts.ref(b, indices.size("HI") == 1 ? 0 : qHead));
    }
    // Not unrolled: two copies of a paged cache's row arithmetic tipped D 256, G 16 FP8 variants into spilling.
    for (const r of range(threadIdx.x, min(ahead, AHEAD_ROWS), s.threads + PRODUCERS, 1)) {
      let pos = from + r;
      if (present(indices)) pos = from + r < indices.size("KI") ? peek(indices.ref(b, indices.size("HI") == 1 ? 0 : qHead, from + r)) : -1;
      if (pos >= 0 && pos < length && from + r < listed) {
        k.prefetchRow(b, kvHead, pos, c.D);
        v.prefetchRow(b, kvHead, pos, c.D);
      }
    }
  }
  waitForPrecedingGrid();

  // Everything the block reads before its first K/V row is loaded up front, before the checks, so that the
  // loads overlap.
  const seqlen = seqlens.at(b);
  let list = 0;
  let count = 0;
  if (present(indices)) {
    list = indices.size("HI") == 1 ? 0 : qHead;
    if (present(counts)) count = counts.at(b, list);
  }
  // The list entries of the split's first LIST_ROWS rows and the one before them (entry start - 1 + j at
  // j), kept in shared memory: the producer then never waits on an index load.
  const listEntries = shared("i32", [c.LIST_ROWS + 1]);
  // Q's mma fragments, where the registers cannot hold them beside the output's (the rule's qSharedBytes):
  // lane l's pair for (block of heads hb, k step kk) at words 2 l, 2 l + 1 of row hb * KSTEPS + kk, so that
  // a warp's loads of one fragment fall in 64 consecutive words (no bank conflict). Written by the consumers.
  const Q_SHARED = HEAD_BLOCKS * KSTEPS * 2 + DIM_BLOCKS * HEAD_BLOCKS * 4 > 128;
  const qShared = shared("u32", [Q_SHARED ? HEAD_BLOCKS * KSTEPS : 1, Q_SHARED ? 64 : 1]);
  if (present(indices)) {
    const cached = min(indices.size("KI"), listStart + min(chunk, c.LIST_ROWS));
    for (let i = listStart - 1 + threadIdx.x; i < cached; i += s.threads + PRODUCERS) listEntries[i - listStart + 1] = i >= 0 ? indices.at(b, list, i) : -1;
  }
  // full[t]: stage t holds its tile (every producer lane's copies landed); empty[t]: every consumer thread is
  // done with it. Their initialisation synchronises the block, which also publishes the list entries.
  const full = barriers(s.stages, PRODUCERS);
  const empty = barriers(s.stages, s.threads);

  if (seqlen < 1 || seqlen > maxSeqlen) {
    if (threadIdx.x == 0 && split == 0 && blockIdx.y == 0) raise("seqlens[{0}] = {1} is outside [1, max_seqlen = {2}]", b, seqlen, maxSeqlen);
    return;
  }
  let n = seqlen; // rows this block attends over: tokens, or entries of its list
  if (present(indices)) {
    n = indices.size("KI");
    if (present(counts)) {
      n = count;
      if (n < 1 || n > indices.size("KI")) {
        if (threadIdx.x == 0 && split == 0) raise("counts[{0}][{1}] = {2} is outside [1, {3}]", b, list, n, indices.size("KI"));
        return;
      }
    }
  }
  const spread = chunkFor(seqlen); // rows of this split: the planned chunk, or less over a shorter request
  const start = present(indices) ? listStart : split * spread;
  const end = min(n, start + spread);
  const tiles = end > start ? ceilDiv(end - start, TILE) : 0;
  // The token position of row i: i itself, or the list's entry; -1 for an entry that must be skipped.
  const position = (i: i32): i32 => {
    let p = i;
    if (present(indices)) {
      const j = i - start;
      p = j < c.LIST_ROWS ? listEntries[j + 1] : indices.at(b, list, i);
      const previous = j < c.LIST_ROWS ? listEntries[j] : indices.at(b, list, i - 1); // i > j >= LIST_ROWS here
      if (p == -1 && !present(counts)) {
        p = -1; // padding of a list without a count
      } else if (p < 0 || p >= seqlen || p <= previous) {
        raise("indices[{0}][{1}][{2}] = {3} is not a position below seqlens[b] above the previous entry", b, list, i, p);
        p = -1;
      }
    }
    return p;
  };

  if (isProducer()) {
    // The ring of tiles, declared first in both branches so that both name the same bytes.
    const kStage = shared("kv", [s.stages, TILE, ROW]);
    const vStage = shared("kv", [s.stages, TILE, ROW]);
    const x = threadIdx.x - s.threads; // this producer thread
    const STEP = PRODUCERS / PIECES_PER_ROW; // rows one pass of the copies covers (integer division)
    const at = (x % PIECES_PER_ROW) * VEC;
    const row0 = x / PIECES_PER_ROW; // threads past STEP whole rows (head dims not dividing 1024) copy nothing
    // Full attention over a contiguous cache addresses its rows directly: row i of the split is position i, so
    // each copy's address is the tile's first row plus a multiple of the row stride, with nothing to look up
    // or stage. Staging these rows too cost 1.3-2.7% at B 8, 32K (bench/NOTES.md section 22).
    const direct = c.cache == "contiguous" && !present(indices);
    // Otherwise (index lists, paged caches) a tile's rows are looked up once each, then copied in pieces.
    // First each producer thread takes whole rows (every PRODUCERS-th): the row's position (the list entry,
    // checked) and its page (a paged cache's block table entry), and stages the rows' addresses in K and V in
    // shared memory (two buffers, so that the next tile's rows never overwrite rows still being copied).
    // Every copy computing its own row's address cost ~17 instructions (~34 before the piece was fixed per
    // thread) and a paged cache's table lookup ~10 more, and the producers' instruction issue limited the
    // kernel (bench/NOTES.md sections 11, 14 and 19).
    const rowPositions = shared("i32", [2, TILE]); // the row's position, -1 for a zero-filled row
    const rowAddresses = shared("u32", [2, TILE, 4]); // the row's address in K (words 0-1) and in V (words 2-3)
    // Copies a tile into its stage once the consumers are done with the stage's previous tile: each thread one
    // fixed 16-byte piece (column `at`) of every STEP-th row, addressed directly or through its staged address.
    // The rows go GROUP at a time, and a staged group's positions and addresses are all read into registers
    // before its first copy: ptxas does not move a shared load above an earlier asynchronous copy (which
    // writes shared memory), so words read at each copy waited one after another, each used at once, and the
    // paged producer issued 27-47% more instructions than the direct one (bench/NOTES.md section 24, run 4).
    const GROUP = 4;
    const copyTile = (tile: i32, directly: bool): void => {
      const stage = tile % s.stages;
      const staged = tile % 2;
      const first = start + tile * TILE;
      if (tile >= s.stages) waitBarrier(empty[stage], (tile / s.stages - 1) % 2);
      for (let r0 = row0; r0 < (row0 < STEP ? TILE : 0); r0 += GROUP * STEP) {
        const positions = regs("i32", [GROUP], -1);
        const words = regs("u32", [GROUP, 4], 0);
        if (!directly) {
          for (const u of unroll(GROUP)) {
            const r = r0 + u * STEP;
            if (r < TILE) {
              positions[u] = rowPositions[staged][r];
              for (const w of unroll(4)) words[u][w] = rowAddresses[staged][r][w];
            }
          }
        }
        for (const u of unroll(GROUP)) {
          const r = r0 + u * STEP;
          if (r < TILE) {
            const held = directly ? first + r < end : positions[u] >= 0;
            asyncCopy(kStage.ref(stage, r, at), directly ? k.pageRef(b, kvHead, first + r, at) : k.stagedRef(words[u][0], words[u][1], kvHead, at), VEC, held);
            asyncCopy(vStage.ref(stage, r, at), directly ? v.pageRef(b, kvHead, first + r, at) : v.stagedRef(words[u][2], words[u][3], kvHead, at), VEC, held);
          }
        }
      }
      asyncArrive(full[stage]);
    };
    if (direct) {
      for (let tile = 0; tile < tiles; tile++) copyTile(tile, true);
    } else {
      // The rows are looked up AHEAD tiles before they are staged, into registers, and a paged cache's table
      // entries are checked only then: a table load from the L2, busy with the K/V stream, would otherwise
      // stall the producers once per tile, and each stall delays refilling the ring (section 19). Lists over a
      // contiguous cache have no table to wait for: one tile ahead (2 and 4 ahead cost it up to 3%, section 19's
      // runs 5 and 8; 1 ahead, section 20's run 1).
      const AHEAD = c.cache == "paged" ? 4 : 1;
      const LOOKUPS = ceilDiv(TILE, PRODUCERS); // rows of a tile each producer thread looks up
      // Row i of tile t (one of this thread's) and its position: -1 past the tile or the split.
      const rowOf = (i: i32): i32 => x + i * PRODUCERS;
      const positionOf = (t: i32, i: i32): i32 => (rowOf(i) < TILE && start + t * TILE + rowOf(i) < end ? position(start + t * TILE + rowOf(i)) : -1);
      const aheadPos = regs("i32", [AHEAD, LOOKUPS], -1); // every slot is written before it is read: -1 for clarity
      const aheadEntry = regs("i32", [AHEAD, LOOKUPS], -1);
      // The tiles go AHEAD at a time, so that each one's lookups sit in registers of their own (a compile-time
      // slot a) from the time they are issued to the time they are staged. The first group (tiles -AHEAD..-1)
      // only looks up tiles 0..AHEAD-1.
      for (let group = -AHEAD; group < tiles; group += AHEAD) {
        for (const a of unroll(AHEAD)) {
          const tile = group + a; // below 0 in the first group: stage and staged are then never used
          const staged = tile % 2;
          if (tile >= 0 && tile < tiles) {
            for (const i of unroll(LOOKUPS)) {
              // Rows past the split and skipped entries are zero-filled: every row of the tile is written, and
              // a zero V row adds nothing. A row whose page the table does not name (-1: outside the pool) is
              // zero-filled too, never read, and reported; the consumers do not know it, so it enters the
              // softmax with score 0: the output of a call with a bad table is not meaningful, and the device
              // status says why. Every head block reports (with per-head lists each reads its own positions);
              // the first report is kept.
              const pos = aheadPos[a][i];
              const page = k.checkedPage(b, pos, aheadEntry[a][i]);
              if (pos >= 0 && page < 0) raise("the block table of request {0} names no page of the pool for position {1}", b, pos);
              const held = pos >= 0 && page >= 0;
              if (rowOf(i) < TILE) {
                rowPositions[staged][rowOf(i)] = held ? pos : -1;
                k.stageRow(rowAddresses.ref(staged, rowOf(i), 0), page, held ? pos : 0);
                v.stageRow(rowAddresses.ref(staged, rowOf(i), 2), page, held ? pos : 0);
              }
            }
            syncthreads(); // the producers' own barrier: every row of the tile is staged
          }
          if (tile + AHEAD < tiles) {
            for (const i of unroll(LOOKUPS)) {
              aheadPos[a][i] = positionOf(tile + AHEAD, i);
              aheadEntry[a][i] = k.pageEntry(b, aheadPos[a][i]);
            }
          }
          if (tile >= 0 && tile < tiles) copyTile(tile, false);
        }
      }
    }
    // The copies are issued: whatever follows in the stream may start launching (as the consumers say after
    // their loop; the producers now stay for the split merge instead of exiting here).
    allowDependentGrid();
  } else {
    const warp = warpId();
    const lane = laneId();
    // The mmas run transposed (see the top of the file). This lane holds rows g0 and g0 + 8 of the
    // accumulators (K rows in the scores, output dims in the output) and their columns 2 t4, 2 t4 + 1:
    // heads 2 t4 and 2 t4 + 1 of each block of 8. Of B it holds column g0: head g0 of each block.
    const g0 = lane / 4;
    const t4 = lane % 4;
    // ldmatrix loads of 4 matrices per 16 rows: 16 dims each, so one per k step (32 dims of FP8: two)
    const LOADS = c.D / (2 * VEC);
    // The lanes addressing each 8 x 8 matrix of a load (ldmatrix: lanes 8m..8m+7 give matrix m's rows), as
    // (row within the 16, 16-byte column). K (A, not transposed): rows 0-7 and 8-15 at column 0, then at 1.
    // V (A transposed): rows 0-7 at columns 0 and 1, then rows 8-15.
    const kRow = lane % 8 + ((lane / 8) % 2) * 8;
    const kColumn = lane / 16;
    const vRow = lane % 8 + (lane / 16) * 8;
    const vColumn = (lane / 8) % 2;

    // Q as the B fragments of the score mma, one pair per k step and block of heads: this lane's head g0 of
    // the block at dims 2 t4, 2 t4 + 1 and 2 t4 + 8, + 9; heads past G are zero. Over an FP8 cache, in the
    // permuted k order (the top of the file): dims 4 t4, + 1 and 4 t4 + 2, + 3.
    // Where they wait in shared memory (Q_SHARED), each warp writes the k steps kk = warp (mod WARPS) of every
    // lane, and the loop reads a fragment just before its mma.
    const qb = regs("u32", [Q_SHARED ? 1 : HEAD_BLOCKS, KSTEPS, 2], 0);
    for (const hb of unroll(HEAD_BLOCKS)) {
      if (hb * 8 + g0 < c.G) {
        const h = qHead + hb * 8 + g0;
        for (const kk of unroll(KSTEPS)) {
          if (!Q_SHARED || kk % WARPS == warp) {
            const f = regs("u32", [2]);
            if (FP8) {
              const d = kk * 16 + 4 * t4;
              f[0] = pack2(q.at(b, h, d), q.at(b, h, d + 1), MMA);
              f[1] = pack2(q.at(b, h, d + 2), q.at(b, h, d + 3), MMA);
            } else {
              f[0] = loadBits(q.ref(b, h, kk * 16 + 2 * t4));
              f[1] = loadBits(q.ref(b, h, kk * 16 + 2 * t4 + 8));
            }
            if (Q_SHARED) {
              qShared[hb * KSTEPS + kk][2 * lane] = f[0];
              qShared[hb * KSTEPS + kk][2 * lane + 1] = f[1];
            } else {
              qb[hb][kk][0] = f[0];
              qb[hb][kk][1] = f[1];
            }
          }
        }
      } else if (Q_SHARED) {
        for (const kk of unroll(KSTEPS)) {
          if (kk % WARPS == warp) {
            qShared[hb * KSTEPS + kk][2 * lane] = 0;
            qShared[hb * KSTEPS + kk][2 * lane + 1] = 0;
          }
        }
      }
    }
    if (Q_SHARED) syncthreads(); // the consumers' barrier: every fragment is written
    // Scores in base 2; the keys' scale of an FP8 cache folds in (the values' scales the output, at the end).
    let scale2 = scale * LOG2E;
    if (present(kScale)) scale2 = scale2 * kScale.perHead(kvHead);

    // The softmax state of this lane's two heads per block, and the output: acc[nb][hb] is 16 output dims
    // (see outputDim) by the block's 8 heads.
    const m = regs("f32", [HEAD_BLOCKS, 2], NO_SCORE); // the same in every lane of a column
    const l = regs("f32", [HEAD_BLOCKS, 2], 0.0); // this lane's part (its rows) of the running sums
    const acc = regs("f32", [DIM_BLOCKS, HEAD_BLOCKS, 4], 0.0);
    {
      const kStage = shared("kv", [s.stages, TILE, ROW]);
      const vStage = shared("kv", [s.stages, TILE, ROW]);
      for (let tile = 0; tile < tiles; tile++) {
        const stage = tile % s.stages;
        waitBarrier(full[stage], (tile / s.stages) % 2);
        const base = warp * SLICE; // this warp's first row of the tile
        const first = start + tile * TILE + base;

        // Scores of the slice's 16-row parts: score[rp][hb] holds rows g0, g0 + 8 by heads 2 t4, 2 t4 + 1.
        const score = regs("f32", [s.rows, HEAD_BLOCKS, 4], 0.0);
        for (const rp of unroll(s.rows)) {
          // Even and odd k steps accumulate apart (two mma chains, half as long), then add. Two blocks of heads
          // already make two chains and keep their registers: with an even and an odd chain per block, D 256,
          // G 16 over FP8 spilled before its Q fragments moved to shared memory (bench/NOTES.md sections 29-30).
          const CHAINS = HEAD_BLOCKS > 1 ? 1 : 2;
          const part = regs("f32", [CHAINS, HEAD_BLOCKS, 4], 0.0);
          for (const ld of unroll(LOADS)) {
            const kf = regs("u32", [4]);
            loadMatrix(kf, kStage.ref(stage, base + rp * 16 + kRow, (2 * ld + kColumn) * VEC), false);
            if (FP8) {
              // Registers 0 and 1 are rows g0 and g0 + 8 at dims 4 t4..4 t4 + 3 of the load's first 16 dims,
              // 2 and 3 of its second: widened, the A fragments of k steps 2 ld and 2 ld + 1 (permuted k).
              for (const half of unroll(2)) {
                const top = regs("u32", [2]);
                const bottom = regs("u32", [2]);
                widenFp8(top, kf[2 * half], c.kv, false);
                widenFp8(bottom, kf[2 * half + 1], c.kv, false);
                const a = regs("u32", [4]);
                a[0] = top[0];
                a[1] = bottom[0];
                a[2] = top[1];
                a[3] = bottom[1];
                for (const hb of unroll(HEAD_BLOCKS)) {
                  if (Q_SHARED) {
                    const qf = regs("u32", [2]);
                    qf[0] = qShared[hb * KSTEPS + 2 * ld + half][2 * lane];
                    qf[1] = qShared[hb * KSTEPS + 2 * ld + half][2 * lane + 1];
                    mma(part[half % CHAINS][hb], a, qf, MMA);
                  } else {
                    mma(part[half % CHAINS][hb], a, qb[hb][2 * ld + half], MMA);
                  }
                }
              }
            } else {
              // One load per k step: ld is the k step.
              for (const hb of unroll(HEAD_BLOCKS)) {
                if (Q_SHARED) {
                  const qf = regs("u32", [2]);
                  qf[0] = qShared[hb * KSTEPS + ld][2 * lane];
                  qf[1] = qShared[hb * KSTEPS + ld][2 * lane + 1];
                  mma(part[ld % CHAINS][hb], kf, qf, MMA);
                } else {
                  mma(part[ld % CHAINS][hb], kf, qb[hb][ld], MMA);
                }
              }
            }
          }
          for (const hb of unroll(HEAD_BLOCKS)) {
            for (const e of unroll(4)) {
              score[rp][hb][e] = part[0][hb][e];
              for (const ch of unroll(CHAINS - 1)) score[rp][hb][e] = score[rp][hb][e] + part[ch + 1][hb][e];
            }
          }
        }
        // Scale, mask rows past the split or skipped, write logits, and take this tile's maxima.
        const tileMax = regs("f32", [HEAD_BLOCKS, 2], -Infinity);
        for (const rp of unroll(s.rows)) {
          for (const half of unroll(2)) {
            const row = first + rp * 16 + g0 + 8 * half;
            const pos = row < end ? position(row) : -1;
            for (const hb of unroll(HEAD_BLOCKS)) {
              for (const e of unroll(2)) {
                const value = score[rp][hb][2 * half + e] * scale2;
                score[rp][hb][2 * half + e] = pos >= 0 ? value : -Infinity;
                tileMax[hb][e] = max(tileMax[hb][e], score[rp][hb][2 * half + e]);
                const head = hb * 8 + 2 * t4 + e;
                if (present(logits) && pos >= 0 && head < c.G) logits.store(value * LN2, b, qHead + head, pos);
              }
            }
          }
        }
        // A head's rows are spread over the 8 lanes of its column (4 apart).
        const alpha = regs("f32", [HEAD_BLOCKS, 2]);
        for (const hb of unroll(HEAD_BLOCKS)) {
          for (const e of unroll(2)) {
            const mNew = max(m[hb][e], laneGroupMax(tileMax[hb][e], 8, 4));
            alpha[hb][e] = exp2(m[hb][e] - mNew);
            m[hb][e] = mNew;
            l[hb][e] = l[hb][e] * alpha[hb][e];
          }
        }
        for (const nb of unroll(DIM_BLOCKS)) for (const hb of unroll(HEAD_BLOCKS)) for (const e of unroll(4)) acc[nb][hb][e] = acc[nb][hb][e] * alpha[hb][e % 2];
        for (const rp of unroll(s.rows)) {
          // P^T as the B fragments of the second mma (k: the part's 16 rows, n: heads). The probabilities
          // of rows g0 (then g0 + 8) and heads 2 t4, 2 t4 + 1, packed, are a fragment of the 8 x 8 matrix
          // rows x heads; transposed, this lane holds rows 2 t4, 2 t4 + 1 of head g0, as B wants.
          const pb = regs("u32", [HEAD_BLOCKS, 2]);
          for (const hb of unroll(HEAD_BLOCKS)) {
            for (const half of unroll(2)) {
              const p0 = exp2(score[rp][hb][2 * half] - m[hb][0]);
              const p1 = exp2(score[rp][hb][2 * half + 1] - m[hb][1]);
              l[hb][0] = l[hb][0] + p0;
              l[hb][1] = l[hb][1] + p1;
              pb[hb][half] = transposeMatrix(pack2(p0, p1, MMA));
            }
          }
          for (const ld of unroll(LOADS)) {
            // V^T as A, read transposed: registers 0 and 1 are output dims 16 ld + g0 and 16 ld + 8 + g0 at
            // rows 2 t4, 2 t4 + 1; registers 2 and 3 the same dims at rows 8 + 2 t4, + 1.
            const vf = regs("u32", [4]);
            loadMatrix(vf, vStage.ref(stage, base + rp * 16 + vRow, (2 * ld + vColumn) * VEC), true);
            if (FP8) {
              // Over FP8 (the top of the file) a register holds dims 2 g0, 2 g0 + 1 of both rows: widened, dim
              // 2 g0 (+ 16 for registers 1 and 3) feeds the even mma, dim 2 g0 + 1 the odd one.
              const wide = regs("u32", [4, 2]);
              for (const r of unroll(4)) widenFp8(wide[r], vf[r], c.kv, true);
              for (const parity of unroll(2)) {
                const a = regs("u32", [4]);
                for (const r of unroll(4)) a[r] = wide[r][parity];
                for (const hb of unroll(HEAD_BLOCKS)) mma(acc[2 * ld + parity][hb], a, pb[hb], MMA);
              }
            } else {
              for (const hb of unroll(HEAD_BLOCKS)) mma(acc[ld][hb], vf, pb[hb], MMA);
            }
          }
        }
        // This thread's reads of the stage are done: every consumer thread arrives, releasing its own reads, and
        // the last arrival frees the stage. One arrival per warp after a __syncwarp left the other 31 lanes'
        // reads unordered for compute-sanitizer's racecheck (32 hazards per launch, none with every thread
        // arriving, at no measurable cost: bench/NOTES.md section 26).
        arrive(empty[stage]);
      }
    }
    // Whatever follows in the stream may start launching now; it waits for this grid before reading.
    allowDependentGrid();
    syncthreads(); // every consumer is done with the ring, which the arrays below reuse

    // Merge the warps' states. Each head's weights are worked out once, by one thread (the block-wide maximum,
    // the rescaled sum, the output's scale folded in), and every output dim is then a weighted sum of the warps'
    // accumulators, MERGE_VEC dims per thread. Working the weights out again for every dim put a dependent chain
    // of shared loads, exp2 and a division on each: 4.6 us of a 17 us launch at B 1, D 256, G 8 (bench/NOTES.md
    // section 27).
    const ACC_ROW = c.D + 4; // padded: the 4 lanes storing one dim of heads 2 t4 (+ 1) hit different banks
    const mAll = shared("f32", [WARPS, 8 * HEAD_BLOCKS]);
    const lAll = shared("f32", [WARPS, 8 * HEAD_BLOCKS]);
    const weight = shared("f32", [WARPS, 8 * HEAD_BLOCKS]); // warp w's share of head g's output
    const accAll = shared("f32", [WARPS, 8 * HEAD_BLOCKS, ACC_ROW]);
    // The output dim of row g0 + 8 * half of acc[nb]: 16-bit caches give acc[nb] dims 16 nb + 0..15; over
    // FP8, acc[2 ld + parity] holds the dims of that parity in the load's 32 (2 g0 + parity, + 16).
    const outputDim = (nb: i32, half: i32): i32 => (FP8 ? (nb / 2) * 32 + 16 * half + 2 * g0 + nb % 2 : nb * 16 + 8 * half + g0);
    for (const hb of unroll(HEAD_BLOCKS)) {
      for (const e of unroll(2)) {
        const head = hb * 8 + 2 * t4 + e;
        const total = laneGroupSum(l[hb][e], 8, 4);
        if (g0 == 0) {
          mAll[warp][head] = m[hb][e];
          lAll[warp][head] = total;
        }
        for (const nb of unroll(DIM_BLOCKS)) for (const half of unroll(2)) accAll[warp][head][outputDim(nb, half)] = acc[nb][hb][2 * half + e];
      }
    }
    syncthreads();
    if (threadIdx.x < c.G) {
      const g = threadIdx.x;
      let mMax: f32 = NO_SCORE;
      for (const w of unroll(WARPS)) mMax = max(mMax, mAll[w][g]);
      let sum: f32 = 0.0;
      for (const w of unroll(WARPS)) sum = sum + lAll[w][g] * exp2(mAll[w][g] - mMax);
      // The values' scale of an FP8 cache is read only here: live across the main loop it cost a register
      // there, where D 256 with 16 heads per block has none to spare.
      let outScale: f32 = 1.0;
      if (present(vScale)) outScale = vScale.perHead(kvHead);
      const norm = sum > 0.0 ? outScale / sum : 0.0;
      for (const w of unroll(WARPS)) weight[w][g] = exp2(mAll[w][g] - mMax) * norm;
      const lse2 = sum > 0.0 ? mMax + log2(sum) : -Infinity; // base-2 log-sum-exp of the scaled scores
      if (splits == 1) {
        if (present(lse)) lse.store(lse2 * LN2, b, qHead + g);
      } else {
        partialLse.store(lse2, b, qHead + g, split); // every split writes its partial, empty ones with lse -inf
      }
    }
    syncthreads();
    for (let i = MERGE_VEC * threadIdx.x; i < c.G * c.D; i += MERGE_VEC * s.threads) {
      const g = i / c.D;
      const d = i % c.D; // MERGE_VEC divides D: the dims stay in one head
      const value = regs("f32", [MERGE_VEC], 0.0);
      for (const w of unroll(WARPS)) {
        const part = regs("f32", [MERGE_VEC]);
        loadVec(part, accAll.ref(w, g, d));
        for (const e of unroll(MERGE_VEC)) value[e] = value[e] + weight[w][g] * part[e];
      }
      if (splits == 1) storeVec(o.ref(b, qHead + g, d), value);
      else storeVec(partialO.ref(b, qHead + g, split, d), value);
    }
  }
  // The producers join the split merge (they are idle after their last copy): at B 1, D 256, G 8 its 4 rounds of
  // loads with the 128 consumer threads become 2 (bench/NOTES.md section 27). lastToArrive outside the role
  // branches synchronises the whole block.
  if (splits > 1) {
    // The last split of this (request, head block) to finish merges them all: o = sum_s w_s o_s / sum_s w_s
    // with w_s = 2^(lse_s - M), M the largest lse_s.
    if (lastToArrive(arrivals.ref(b, blockIdx.y), splits)) {
      // Each thread merges MERGE_VEC consecutive dims of one head, their partials loaded 16 bytes at a time.
      // The partials and their log-sum-exps are loaded c.MERGE_LOADS splits at a time, each batch unrolled
      // with its index clamped (weight 0 past the last split) so that all its loads issue together, and
      // merged online (rescaled to the running maximum). The merge is a serial tail after every other
      // block, and its rounds of loads from the L2 set its time: staging the log-sum-exps in shared memory
      // first and a loop unrolled by 4 waited on 5-10 trips for 16-33 splits (bench/NOTES.md section 18),
      // and one dim per thread took 8 rounds at G 8, head dim 128, 32 splits (section 23).
      // With the schedule's merge lanes m > 1 (the block has threads to spare: small G x D), m adjacent lanes
      // share an item, each taking every m-th split, and combine their states by shuffles before one of them
      // stores: the rounds drop by m (33 splits at head dim 64, G 8: 3 rounds -> 2), where there is more than
      // one; with one round sharing saves nothing, and every lane takes an item of its own.
      const ITEMS = (c.G * c.D) / MERGE_VEC; // MERGE_VEC divides D: an item's dims stay in one head
      const PARTS = s.merge;
      const parts = PARTS > 1 && splits > c.MERGE_LOADS ? PARTS : 1;
      const slots = parts > 1 ? ceilDiv(ITEMS * PARTS, 32) * 32 : ITEMS; // whole warps: every lane of a warp meets the shuffles
      for (let t = threadIdx.x; t < slots; t += s.threads + PRODUCERS) {
        const item = t / parts;
        const part = t % parts;
        const i = min(item, ITEMS - 1) * MERGE_VEC; // lanes past the last item merge it too, and store nothing
        const g = i / c.D;
        const d = i % c.D;
        const h = qHead + g;
        let mMax: f32 = NO_SCORE;
        let sum: f32 = 0.0;
        const out = regs("f32", [MERGE_VEC], 0.0);
        for (let k0 = 0; k0 < ceilDiv(splits, parts); k0 += c.MERGE_LOADS) {
          const lseBatch = regs("f32", [c.MERGE_LOADS]);
          const oBatch = regs("f32", [c.MERGE_LOADS, MERGE_VEC]);
          for (const j of unroll(c.MERGE_LOADS)) {
            const sp = part + parts * (k0 + j); // this lane's (k0 + j)-th split
            const loaded = partialLse.at(b, h, min(sp, splits - 1));
            lseBatch[j] = sp < splits ? loaded : -Infinity;
            loadVec(oBatch[j], partialO.ref(b, h, min(sp, splits - 1), d));
          }
          let mNew = mMax;
          for (const j of unroll(c.MERGE_LOADS)) mNew = max(mNew, lseBatch[j]);
          const alpha = exp2(mMax - mNew);
          sum = sum * alpha;
          for (const e of unroll(MERGE_VEC)) out[e] = out[e] * alpha;
          mMax = mNew;
          for (const j of unroll(c.MERGE_LOADS)) {
            const w = exp2(lseBatch[j] - mMax);
            sum = sum + w;
            for (const e of unroll(MERGE_VEC)) out[e] = out[e] + w * oBatch[j][e];
          }
        }
        if (parts > 1) {
          // The PARTS lanes' states rescaled to their common maximum and summed (a lane without splits adds 0).
          const mAll = laneGroupMax(mMax, PARTS);
          const alpha = exp2(mMax - mAll);
          sum = laneGroupSum(sum * alpha, PARTS);
          for (const e of unroll(MERGE_VEC)) out[e] = laneGroupSum(out[e] * alpha, PARTS);
          mMax = mAll;
        }
        if (item < ITEMS && part == 0) {
          for (const e of unroll(MERGE_VEC)) o.store(sum > 0.0 ? out[e] / sum : 0.0, b, h, d + e);
          if (d == 0 && present(lse)) lse.store(sum > 0.0 ? (mMax + log2(sum)) * LN2 : -Infinity, b, h);
        }
      }
    }
  }
}
