// The KV cache as a decode step changes it: advance_seqlens counts the new token (seqlens[b] += 1), and
// append_kv writes its key and value at position seqlens[b] - 1 of every KV head. Engines call these
// between their projections and attention; the decode runtime does too.
//
// An FP8 cache (kv = e4m3 or e5m2) stores each element divided by its scale (per tensor, or per KV head),
// rounded to nearest and saturated at the largest finite value (+-448 in E4M3, +-57344 in E5M2; NaN stays
// NaN): what attention multiplies back.

import {
  DEFAULT_MATRIX,
  blockIdx, defineKernel, loadVec, present, raise, regs, sizeof, storeVec, threadIdx, unroll,
  type ConstantsOf, type MaybeTensor, type Out, type ScheduleOf, type Tensor, type f32, type i32,
} from "../lang/index.js";

/** One thread per 16-byte piece of a row, in whole warps: one warp up to D 256 (append and slot write alike). */
const threadsPerRow = (D: number): number => 32 * Math.ceil(D / 8 / 32);
const coversRow = (D: number, threads: number): string | undefined => (D / 8 <= threads ? undefined : `threads (${threads}) must cover the ${D / 8} lanes of a row`);

export const appendKv = defineKernel({
  spec: {
    name: "append_kv",
    summary: "writes one new token's key and value per request at position seqlens[b] - 1 of its cache",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes, cache: DEFAULT_MATRIX.caches, kv: DEFAULT_MATRIX.kvDtypes },
    schedule: { threads: { tag: "t", values: [32, 64] } },
    grid: { x: "Hkv", y: "B" },
  },
  heuristic: (c) => ({ threads: threadsPerRow(c.D) }),
  rules: [(c, s) => coversRow(c.D, s.threads)],
});

export function append_kv(
  c: ConstantsOf<typeof appendKv.spec>,
  s: ScheduleOf<typeof appendKv.spec>,
  kNew: Tensor<"dtype", ["B", "Hkv", "D"]>,
  vNew: Tensor<"dtype", ["B", "Hkv", "D"]>,
  seqlens: Tensor<"i32", ["B"]>,
  k: Out<"kv", ["B", "Hkv", "Nmax", "D"], "cache">, // contiguous, or paged: the position goes through the block table
  v: Out<"kv", ["B", "Hkv", "Nmax", "D"], "cache">,
  kScale: MaybeTensor<"f32", ["KS"]>, // FP8 caches: one scale, or one per KV head (KS = Hkv); absent: 1
  vScale: MaybeTensor<"f32", ["KS"]>,
): void {
  const VEC = 16 / sizeof(c.dtype);
  const b = blockIdx.y;
  const h = blockIdx.x;
  const lane = threadIdx.x;
  const position = seqlens.at(b) - 1;
  if (position < 0 || position >= k.size("Nmax")) {
    if (lane == 0 && h == 0) raise("seqlens[{0}] = {1}: the new token's position is outside the cache of {2}", b, position + 1, k.size("Nmax"));
    return;
  }
  const page = k.page(b, position);
  if (page < 0) {
    if (lane == 0 && h == 0) raise("the block table of request {0} names no page of the pool for position {1}", b, position);
    return;
  }
  if (lane * VEC < c.D) {
    // The lane's elements divided by the cache's scale (FP8: then rounded and saturated by the store; a
    // 16-bit cache has no scale and gets the row exactly).
    const kRow = regs("f32", [VEC]);
    const vRow = regs("f32", [VEC]);
    loadVec(kRow, kNew.ref(b, h, lane * VEC));
    loadVec(vRow, vNew.ref(b, h, lane * VEC));
    let kDiv: f32 = 1.0;
    let vDiv: f32 = 1.0;
    if (present(kScale)) kDiv = kScale.perHead(h);
    if (present(vScale)) vDiv = vScale.perHead(h);
    for (const e of unroll(VEC)) {
      kRow[e] = kRow[e] / kDiv;
      vRow[e] = vRow[e] / vDiv;
    }
    storeVec(k.pageRef(page, h, position, lane * VEC), kRow);
    storeVec(v.pageRef(page, h, position, lane * VEC), vRow);
  }
}

export const advanceSeqlens = defineKernel({
  spec: {
    name: "advance_seqlens",
    summary: "counts one new token per request: seqlens[b] += 1, refusing to pass the cache capacity",
    constants: {},
    schedule: { threads: { tag: "t", values: [128] } },
    grid: { x: "ceilDiv(B, s.threads)" },
  },
  heuristic: () => ({ threads: 128 }),
  rules: [],
});

export function advance_seqlens(
  c: ConstantsOf<typeof advanceSeqlens.spec>,
  s: ScheduleOf<typeof advanceSeqlens.spec>,
  seqlens: Out<"i32", ["B"]>,
  capacity: i32,
): void {
  const b = blockIdx.x * s.threads + threadIdx.x;
  if (b < seqlens.size("B")) {
    const n = seqlens.at(b);
    if (n + 1 > capacity) raise("seqlens[{0}] = {1} cannot grow: the cache holds {2} tokens", b, n, capacity);
    else seqlens.store(n + 1, b);
  }
}

export const writeKvSlots = defineKernel({
  spec: {
    name: "write_kv_slots",
    summary: "writes new tokens' keys and values into a paged cache at the slots an engine mapped them to (page * page_size + offset; -1 skips a token)",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes, kv: DEFAULT_MATRIX.kvDtypes },
    schedule: { threads: { tag: "t", values: [32, 64] } },
    grid: { x: "T", y: "Hkv" }, // tokens along x: a prefill's slot mapping can hold more than 65535
  },
  heuristic: (c) => ({ threads: threadsPerRow(c.D) }),
  rules: [(c, s) => coversRow(c.D, s.threads)],
});

// vLLM's cache write (reshape_and_cache): the engine has already chosen each token's slot, so the pools are
// plain tensors [pages, page_size, Hkv, D] (NHD or HND in the strides) and no block table is read.
export function write_kv_slots(
  c: ConstantsOf<typeof writeKvSlots.spec>,
  s: ScheduleOf<typeof writeKvSlots.spec>,
  kNew: Tensor<"dtype", ["T", "Hkv", "D"]>,
  vNew: Tensor<"dtype", ["T", "Hkv", "D"]>,
  slots: Tensor<"i32", ["T"]>,
  k: Out<"kv", ["P", "PS", "Hkv", "D"]>,
  v: Out<"kv", ["P", "PS", "Hkv", "D"]>,
  kScale: MaybeTensor<"f32", ["KS"]>, // FP8 pools: one scale, or one per KV head (KS = Hkv); absent: 1
  vScale: MaybeTensor<"f32", ["KS"]>,
): void {
  const VEC = 16 / sizeof(c.dtype);
  const t = blockIdx.x;
  const h = blockIdx.y;
  const lane = threadIdx.x;
  const slot = slots.at(t);
  if (slot == -1) return; // a padding token
  const page = slot / k.size("PS");
  if (slot < 0 || page >= k.size("P")) {
    if (lane == 0 && h == 0) raise("slot_mapping[{0}] = {1} is outside the pool of {2} pages of {3} slots", t, slot, k.size("P"), k.size("PS"));
    return;
  }
  if (lane * VEC < c.D) {
    // As append_kv: divided by the pool's scale, then rounded (FP8: saturated) by the store.
    const kRow = regs("f32", [VEC]);
    const vRow = regs("f32", [VEC]);
    loadVec(kRow, kNew.ref(t, h, lane * VEC));
    loadVec(vRow, vNew.ref(t, h, lane * VEC));
    let kDiv: f32 = 1.0;
    let vDiv: f32 = 1.0;
    if (present(kScale)) kDiv = kScale.perHead(h);
    if (present(vScale)) vDiv = vScale.perHead(h);
    for (const e of unroll(VEC)) {
      kRow[e] = kRow[e] / kDiv;
      vRow[e] = vRow[e] / vDiv;
    }
    storeVec(k.ref(page, slot % k.size("PS"), h, lane * VEC), kRow);
    storeVec(v.ref(page, slot % k.size("PS"), h, lane * VEC), vRow);
  }
}
