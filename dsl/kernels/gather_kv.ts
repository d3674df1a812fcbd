// Gather: copies the K and V rows of each request's index list into compact [B, Hkv, K, D] buffers, for
// engines that keep a compact cache of the selected tokens and run dense attention over it. Entries that
// are not a position below the sequence length above the previous entry are skipped and reported; rows
// past a list's count are left as they were.

import {
  DEFAULT_MATRIX,
  blockIdx, copyVec, defineKernel, raise, sizeof, threadIdx, threadsForRows, waitForPrecedingGrid,
  type ConstantsOf, type Out, type ScheduleOf, type Tensor, type i32,
} from "../lang/index.js";

export const gatherKv = defineKernel({
  spec: {
    name: "gather_kv",
    summary: "copies the K and V rows of each request's index list into compact [B, Hkv, K, D] buffers",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes, cache: DEFAULT_MATRIX.caches },
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
  k: Tensor<"dtype", ["B", "Hkv", "Nmax", "D"], "cache">,
  v: Tensor<"dtype", ["B", "Hkv", "Nmax", "D"], "cache">,
  seqlens: Tensor<"i32", ["B"]>,
  indices: Tensor<"i32", ["B", "KI"]>,
  counts: Tensor<"i32", ["B"]>,
  outK: Out<"dtype", ["B", "Hkv", "KO", "D"]>,
  outV: Out<"dtype", ["B", "Hkv", "KO", "D"]>,
  maxSeqlen: i32,
): void {
  const VEC = 16 / sizeof(c.dtype);
  const LANES = c.D / VEC; // threads per row, 16 bytes each
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
        copyVec(outK.ref(b, kvHead, i, lane * VEC), k.pageRef(page, kvHead, p, lane * VEC), VEC);
        copyVec(outV.ref(b, kvHead, i, lane * VEC), v.pageRef(page, kvHead, p, lane * VEC), VEC);
      }
    }
  }
}
