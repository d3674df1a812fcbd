// Synthetic KV caches and decode-step queries, for measuring the runtime when no model weights are at
// hand. Every element is a pure function of (seed, layer, head, position or step, dim), so runs repeat.
//
// The structure is what makes sparse attention interesting: like a trained model's, attention concentrates
// on few tokens, and the heads and layers largely agree on which (the observations LessIsMore rests on: a
// set chosen at a selection layer serves the layers after it). Per layer l and KV head h there are TOPICS
// unit directions u[l, h, t] (components N(0, 1) / sqrt(D)). Each token j of request b has a topic and an
// importance shared by all heads and layers (hashed from b and j):
//   key of token j    a(j) * u[l, h, topic(j)] + 0.1 * noise, with
//                     a(j) = 3 for the attention sinks (j < 4; their direction is half the sum of all topics),
//                            2 for heavy hitters (one token in 64, by hash),
//                            1.7 for recent tokens (the last `recentWindow` of the prompt, and every token
//                              appended while decoding),
//                            0.4 otherwise;
//   value of token j  noise N(0, 1);
//   query of head q   40 * u[l, q / G, topic] + 0.5 * noise, with one topic per (request, step) that three
//   at a step         heads in four follow and the fourth replaces by another, the same at every layer: the
//                     heads mostly agree, the cross-head union still matters, and a head's own picks stay
//                     good for it at later layers (TidalDecode's premise). (Keyed by the new token's position read on
//                     the device, not by a step number, so a step captured in a CUDA graph makes new data
//                     at every replay.)
// With softmax scale 1/sqrt(D) a query sees logits near 5 for sinks, 7 for heavy hitters and 6 for recent
// tokens of its topic, 1.4 for other tokens of its topic and 0 +- 0.4 for the rest: at 32K tokens a budget
// of 2048 keeps most, not all, of the attention (about three quarters), as in the paper's models.

import {
  DEFAULT_MATRIX,
  blockIdx, defineKernel, f32, present, raise, regs, sizeof, sqrt, storeVec, threadIdx, threadsForRows, u32, unroll,
  type ConstantsOf, type MaybeTensor, type Out, type ScheduleOf, type Tensor, type i32,
} from "../lang/index.js";

/** lowbias32: a 32-bit integer hash with good avalanche. */
function mix(x: u32): u32 {
  let y = x;
  y = y ^ (y >> 16);
  y = y * 0x7feb352d;
  y = y ^ (y >> 15);
  y = y * 0x846ca68b;
  y = y ^ (y >> 16);
  return y;
}

function hash4(w: u32, x: u32, y: u32, z: u32): u32 {
  return mix(w ^ mix(x ^ mix(y ^ mix(z))));
}

/** Approximately N(0, 1): the sum of four uniforms (Irwin-Hall), centred and scaled. */
function gaussian(h: u32): f32 {
  let sum: f32 = 0.0;
  for (const i of unroll(4)) sum = sum + f32(mix(h + u32(i)) >> 8) * (1.0 / 16777216.0);
  return (sum - 2.0) * 1.7320508075688772;
}

/** Component d of topic direction t of (layer, head), scaled to unit length on average. */
function topicComponent(seed: u32, layer: u32, head: u32, topic: u32, d: u32, invSqrtD: f32): f32 {
  return gaussian(hash4(seed, layer * 65536 + head, 0x70000 + topic, d)) * invSqrtD;
}

export const synthesizeKv = defineKernel({
  spec: {
    name: "synthesize_kv",
    summary: "fills positions [0, seqlens[b]) of one layer's K and V caches with structured synthetic data",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes, cache: DEFAULT_MATRIX.caches, kv: DEFAULT_MATRIX.kvDtypes },
    // 288, 320 and 448 hold whole rows of 12, 10 and 14 lanes (D 96 or 192, 80 or 160, 112).
    schedule: { threads: { tag: "t", values: [128, 256, 288, 320, 448] } },
    grid: { x: "ceilDiv(Nmax, s.threads / (c.D / 8))", y: "Hkv", z: "B" }, // x: blocks of ROWS positions
  },
  // 256 threads, or the nearest count above that holds whole rows (D 80: 10 lanes a row, 320 threads).
  heuristic: (c) => ({ threads: threadsForRows(c.D / 8, 256) }),
  rules: [(c, s) => (s.threads % (c.D / 8) === 0 ? undefined : `threads (${s.threads}) must be a multiple of the ${c.D / 8} lanes of a row`)],
});

export function synthesize_kv(
  c: ConstantsOf<typeof synthesizeKv.spec>,
  s: ScheduleOf<typeof synthesizeKv.spec>,
  k: Out<"kv", ["B", "Hkv", "Nmax", "D"], "cache">,
  v: Out<"kv", ["B", "Hkv", "Nmax", "D"], "cache">,
  kScale: MaybeTensor<"f32", ["KS"]>, // FP8 caches: the elements are stored divided by these (as append_kv does)
  vScale: MaybeTensor<"f32", ["KS"]>,
  seqlens: Tensor<"i32", ["B"]>,
  seed: u32,
  layer: i32,
  recentWindow: i32,
): void {
  const VEC = 16 / sizeof(c.dtype);
  const LANES = c.D / VEC;
  const ROWS = s.threads / LANES;
  const TOPICS = 4;
  const b = blockIdx.z;
  const h = blockIdx.y;
  const j = blockIdx.x * ROWS + threadIdx.x / LANES;
  const lane = threadIdx.x % LANES;
  const n = seqlens.at(b);
  if (n < 0 || n > k.size("Nmax")) {
    if (threadIdx.x == 0 && blockIdx.x == 0 && h == 0) raise("seqlens[{0}] = {1} is outside [0, {2}]", b, n, k.size("Nmax"));
    return;
  }
  if (j >= n) return;
  const page = k.page(b, j);
  if (page < 0) {
    if (lane == 0 && h == 0) raise("the block table of request {0} names no page of the pool for position {1}", b, j);
    return;
  }
  const invSqrtD = 1.0 / sqrt(f32(c.D));
  const l = u32(layer);
  const head = u32(b * k.size("Hkv") + h);
  const rowHash = hash4(seed, l, head, u32(j)); // this head's noise
  const tokenHash = hash4(seed ^ 0x70c3, 0, u32(b), u32(j)); // what all heads and layers agree on
  const topic = tokenHash % TOPICS;
  let amplitude: f32 = 0.4;
  if (j < 4) amplitude = 3.0;
  else if ((tokenHash >> 8) % 64 == 0) amplitude = 2.0;
  else if (j >= n - recentWindow) amplitude = 1.7;
  const kv = regs("f32", [VEC]);
  const vv = regs("f32", [VEC]);
  for (const e of unroll(VEC)) {
    const d = u32(lane * VEC + e);
    let direction: f32 = 0.0;
    if (j < 4) {
      for (const t of unroll(TOPICS)) direction = direction + topicComponent(seed, l, head, u32(t), d, invSqrtD);
      direction = direction * 0.5;
    } else {
      direction = topicComponent(seed, l, head, topic, d, invSqrtD);
    }
    kv[e] = amplitude * direction + 0.1 * gaussian(hash4(rowHash, 0x6b, d, l));
    vv[e] = gaussian(hash4(rowHash, 0x76, d, l));
  }
  let kDiv: f32 = 1.0;
  let vDiv: f32 = 1.0;
  if (present(kScale)) kDiv = kScale.perHead(h);
  if (present(vScale)) vDiv = vScale.perHead(h);
  for (const e of unroll(VEC)) {
    kv[e] = kv[e] / kDiv;
    vv[e] = vv[e] / vDiv;
  }
  storeVec(k.pageRef(page, h, j, lane * VEC), kv);
  storeVec(v.pageRef(page, h, j, lane * VEC), vv);
}

export const synthesizeStep = defineKernel({
  spec: {
    name: "synthesize_step",
    summary: "one decode step of synthetic data for one layer: every head's query, and the new token's key and value",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes },
    schedule: { threads: { tag: "t", values: [32, 64] } },
    grid: { x: "Hq + Hkv", y: "B" }, // one block per query head, then one per KV head
  },
  heuristic: (c) => ({ threads: 32 * Math.ceil(c.D / 8 / 32) }), // the warps that cover a row's lanes: one up to D 256
  rules: [(c, s) => (c.D / 8 <= s.threads ? undefined : `threads (${s.threads}) must cover the ${c.D / 8} lanes of a row`)],
});

export function synthesize_step(
  c: ConstantsOf<typeof synthesizeStep.spec>,
  s: ScheduleOf<typeof synthesizeStep.spec>,
  q: Out<"dtype", ["B", "Hq", "D"]>,
  kNew: Out<"dtype", ["B", "Hkv", "D"]>,
  vNew: Out<"dtype", ["B", "Hkv", "D"]>,
  seqlens: Tensor<"i32", ["B"]>, // the new token is position seqlens[b] - 1
  seed: u32,
  layer: i32,
): void {
  const VEC = 16 / sizeof(c.dtype);
  const LANES = c.D / VEC;
  const TOPICS = 4;
  const b = blockIdx.y;
  const x = blockIdx.x;
  const lane = threadIdx.x;
  if (lane >= LANES) return;
  const Hq = q.size("Hq");
  const Hkv = kNew.size("Hkv");
  const invSqrtD = 1.0 / sqrt(f32(c.D));
  const l = u32(layer);
  const j = seqlens.at(b) - 1;
  const out = regs("f32", [VEC]);
  if (x < Hq) {
    // Query of head x: the step's topic, or (one head in four) another.
    const kvHead = u32(b * Hkv + x / (Hq / Hkv));
    const qHash = hash4(seed ^ 0x9e3779b9, 0, u32(b * Hq + x), u32(j)); // a head deviates at every layer alike
    let topic = hash4(seed ^ 0x5eed, 0, u32(b), u32(j)) % TOPICS;
    if (qHash % 4 == 0) topic = (topic + 1 + (qHash >> 4) % 3) % TOPICS;
    for (const e of unroll(VEC)) {
      const d = u32(lane * VEC + e);
      out[e] = 40.0 * topicComponent(seed, l, kvHead, topic, d, invSqrtD) + 0.5 * gaussian(hash4(qHash, 0x71, d, l));
    }
    storeVec(q.ref(b, x, lane * VEC), out);
  } else {
    // The new token: a recent token of a topic of its own, like synthesize_kv's.
    const h = x - Hq;
    const head = u32(b * Hkv + h);
    const rowHash = hash4(seed, l, head, u32(j));
    const topic = hash4(seed ^ 0x70c3, 0, u32(b), u32(j)) % TOPICS;
    const vv = regs("f32", [VEC]);
    for (const e of unroll(VEC)) {
      const d = u32(lane * VEC + e);
      out[e] = 1.7 * topicComponent(seed, l, head, topic, d, invSqrtD) + 0.1 * gaussian(hash4(rowHash, 0x6b, d, l));
      vv[e] = gaussian(hash4(rowHash, 0x76, d, l));
    }
    storeVec(kNew.ref(b, h, lane * VEC), out);
    storeVec(vNew.ref(b, h, lane * VEC), vv);
  }
}
