// Gather: copies the K and V rows of each request's index list into compact [B, Hkv, K, D] buffers, for
// engines that keep a compact cache of the selected tokens and run dense attention over it. Entries that
// are not a position below the sequence length above the previous entry are skipped and reported; rows
// past a list's count are left as they were.
//
// From an FP8 cache (kv = e4m3 or e5m2) the compact rows are the dequantised values, stored value times the cache's
// scale, in the model's dtype: a dense attention in that dtype (the engine's own, or decode_attention) then
// runs over them as over any compact cache.

import {
  DEFAULT_MATRIX,
  blockIdx, copyVec, defineKernel, loadVec, present, raise, regs, sizeof, storeVec, threadIdx, threadsForRows, unroll, waitForPrecedingGrid,
  type ConstantsOf, type MaybeTensor, type Out, type ScheduleOf, type Tensor, type f32, type i32,
} from "../lang/index.js";

export const gatherKv = defineKernel({
  spec: {
    name: "gather_kv",
    summary: "copies the K and V rows of each request's index list into compact [B, Hkv, K, D] buffers",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes, cache: DEFAULT_MATRIX.caches, kv: DEFAULT_MATRIX.kvDtypes },
    // 288, 320 and 448 hold whole rows of 12, 10 and 14 lanes (D 96 or 192, 80 or 160, 112).
    schedule: { threads: { tag: "t", values: [128, 256, 288, 320, 448, 512] } },
    grid: { x: "ceilDiv(KO, s.threads / (c.D / 8))", y: "Hkv", z: "B" }, // x: blocks of ROWS list rows
    overlapsPrecedingKernel: true, // the index lists usually come from the selection just before
  },
  // 256 threads, or the nearest count above that holds whole rows (D 80: 10 lanes a row, 320 threads).
  heuristic: (c) => ({ threads: threadsForRows(c.D / 8, 256) }),
  rules: [(c, s) => (s.threads % (c.D / 8) === 0 ? undefined : `threads (${s.threads}) must be a multiple of the ${c.D / 8} lanes of a row`)],
});

export function gather_kv(
  c: ConstantsOf<typeof gatherKv.spec>,
  s: ScheduleOf<typeof gatherKv.spec>,
  k: Tensor<"kv", ["B", "Hkv", "Nmax", "D"], "cache">, // in the model's dtype, or FP8
  v: Tensor<"kv", ["B", "Hkv", "Nmax", "D"], "cache">,
  kScale: MaybeTensor<"f32", ["KS"]>, // FP8 caches: one scale, or one per KV head (KS = Hkv); absent: 1
  vScale: MaybeTensor<"f32", ["KS"]>,
  seqlens: Tensor<"i32", ["B"]>,
  indices: Tensor<"i32", ["B", "KI"]>,
  counts: Tensor<"i32", ["B"]>,
  outK: Out<"dtype", ["B", "Hkv", "KO", "D"]>,
  outV: Out<"dtype", ["B", "Hkv", "KO", "D"]>,
  maxSeqlen: i32,
): void {
  const VEC = 16 / sizeof(c.dtype); // elements per thread: 16 bytes of the output (8 bytes of an FP8 cache)
  const LANES = c.D / VEC; // threads per row
  const ROWS = s.threads / LANES;
  const b = blockIdx.z;
  const kvHead = blockIdx.y;
  const i = blockIdx.x * ROWS + threadIdx.x / LANES;
  const lane = threadIdx.x % LANES;
  waitForPrecedingGrid();
  const seqlen = seqlens.at(b);
  const n = counts.at(b);
  if (seqlen < 1 || seqlen > maxSeqlen || n < 0 || n > indices.size("KI") || n > outK.size("KO")) {
    if (threadIdx.x == 0 && blockIdx.x == 0 && kvHead == 0) raise("request {0}: seqlen {1} or count {2} is out of range", b, seqlen, n);
    return;
  }
  if (i < n) {
    const p = indices.at(b, i);
    const previous = i > 0 ? indices.at(b, i - 1) : -1;
    if (p < 0 || p >= seqlen || p <= previous) {
      if (lane == 0 && kvHead == 0) raise("indices[{0}][{1}] = {2} is not a position below seqlens[b] above the previous entry", b, i, p);
    } else {
      const page = k.page(b, p);
      if (page < 0) {
        if (lane == 0 && kvHead == 0) raise("the block table of request {0} names no page of the pool for position {1}", b, p);
      } else {
        if (sizeof(c.kv) == 1) {
          const kRow = regs("f32", [VEC]);
          const vRow = regs("f32", [VEC]);
          loadVec(kRow, k.pageRef(page, kvHead, p, lane * VEC));
          loadVec(vRow, v.pageRef(page, kvHead, p, lane * VEC));
          let kMul: f32 = 1.0;
          let vMul: f32 = 1.0;
          if (present(kScale)) kMul = kScale.perHead(kvHead);
          if (present(vScale)) vMul = vScale.perHead(kvHead);
          for (const e of unroll(VEC)) {
            kRow[e] = kRow[e] * kMul;
            vRow[e] = vRow[e] * vMul;
          }
          storeVec(outK.ref(b, kvHead, i, lane * VEC), kRow);
          storeVec(outV.ref(b, kvHead, i, lane * VEC), vRow);
        } else {
          copyVec(outK.ref(b, kvHead, i, lane * VEC), k.pageRef(page, kvHead, p, lane * VEC), VEC);
          copyVec(outV.ref(b, kvHead, i, lane * VEC), v.pageRef(page, kvHead, p, lane * VEC), VEC);
        }
      }
    }
  }
}
