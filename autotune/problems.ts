// What the tuner runs for each tunable kernel: a correctness check of the variant in use against the float64
// reference on fresh random inputs (outputs poisoned first), and the shapes one shape bucket is timed at.
// Timed inputs are constant-filled or random device buffers made once per bucket and shared by every
// candidate; each candidate gets its own workspace, since the split plan depends on the variant.

import type { Constants } from "../codegen/types.js";
import { isFp8 } from "../dsl/lang/types.js";
import { DEFAULT_RUN } from "../runtime/ts/config.js";
import { roundToFp8, type Fp8Format } from "../runtime/ts/fp8.js";
import { decode, roundTo, type HalfType } from "../runtime/ts/half.js";
import type { DeviceBuffer, NativeAddon } from "../runtime/ts/native.js";
import { decodeAttentionReference, relativeError } from "../reference/attention.js";
import { poisonPastLengths } from "../reference/poison.js";
import { budgetSplit, topkRanked, unionOfFirstPicks } from "../reference/lessismore.js";
import { rng, uniform } from "../reference/random.js";
import { pagedLayout, TUNED_PAGE } from "./paged_cache.js";

/** One timed shape: `prepare` readies it for the variant now in use and returns the launch to time. */
export interface TimedShape {
  readonly label: string;
  prepare(): () => void;
}

export interface TuningProblem {
  /**
   * Relative error (or mismatch count) of the variant in use on small random inputs, and the tolerance.
   * The inputs and the reference are made once per constants and kept until dispose().
   */
  check(constants: Constants): { error: number; tolerance: number; what: string };
  /** The shapes of the bucket whose measure is tuned at `tunedAt`; their buffers go with the returned dispose. */
  shapes(constants: Constants, tunedAt: number): { shapes: TimedShape[]; dispose(): void };
  /** Frees every device buffer the checks made. */
  dispose(): void;
}

/** Device buffers that live as long as the problem, plus workspaces sized per candidate. */
class Buffers {
  private readonly all: DeviceBuffer[] = [];
  constructor(private readonly native: NativeAddon) {}

  make(bytes: number): DeviceBuffer {
    const b = new this.native.DeviceBuffer(Math.max(16, bytes));
    this.all.push(b);
    return b;
  }

  holding(data: ArrayBufferView): DeviceBuffer {
    const b = this.make(data.byteLength);
    b.upload(data);
    return b;
  }

  dispose(): void {
    for (const b of this.all.splice(0)) b.dispose();
  }
}

/** Made once per key of a memo and kept. */
function memo<T>(make: (key: string) => T): (key: string) => T {
  const made = new Map<string, T>();
  return (key) => {
    if (!made.has(key)) made.set(key, make(key));
    return made.get(key)!;
  };
}

/** A workspace that grows to what each candidate asks for. */
function workspaceFor(buffers: Buffers): (bytes: number) => DeviceBuffer | null {
  let current: DeviceBuffer | null = null;
  return (bytes) => {
    if (bytes === 0) return null;
    if (!current || current.bytes < bytes) current = buffers.make(bytes);
    return current;
  };
}

const HALF_TOLERANCE: Record<HalfType, number> = { bf16: 1e-2, fp16: 5e-3 };
/** Query heads of the timed shapes (the presets' 32), and the cache length sparse lists are drawn from. */
const TIMED_Q_HEADS = 32;
const SPARSE_CACHE = 32768;
/** Sparse lists up to this length stand for LessIsMore's budgets; longer measures time full attention. */
const LONGEST_LIST = 8192;

/** `count` ascending positions spread over [0, n), one in each of `count` equal strides. */
function spreadPositions(next: () => number, n: number, count: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const lo = Math.floor((i * n) / count);
    const hi = Math.floor(((i + 1) * n) / count);
    out[i] = lo + Math.floor(next() * (hi - lo));
  }
  return out;
}

/** The C ABI functions (full, its workspace size, a shared list, its workspace size) of each cache layout and element type. */
const ATTENTION_FUNCTIONS = {
  contiguous: {
    dtype: ["decodeAttention", "decodeAttentionWorkspaceSize", "sparseAttention", "sparseAttentionWorkspaceSize"],
    fp8: ["fp8DecodeAttention", "fp8DecodeAttentionWorkspaceSize", "fp8SparseAttention", "fp8SparseAttentionWorkspaceSize"],
  },
  paged: {
    dtype: ["pagedDecodeAttention", "pagedDecodeAttentionWorkspaceSize", "pagedSparseAttention", "pagedSparseAttentionWorkspaceSize"],
    fp8: ["fp8PagedDecodeAttention", "fp8PagedDecodeAttentionWorkspaceSize", "fp8PagedSparseAttention", "fp8PagedSparseAttentionWorkspaceSize"],
  },
} as const satisfies Record<string, Record<string, readonly (keyof NativeAddon)[]>>;

/**
 * The attention functions a decode_attention variant serves: over contiguous caches or pools of pages (the
 * arguments carry both layouts' fields; each function reads its own), in the dtype or in FP8 (kv e4m3 or
 * e5m2; scales left at 1) through the lim_fp8_* twins, which also take the scales and the format.
 */
function attentionCalls(native: NativeAddon, c: Constants) {
  const kvDtype = String(c.kv);
  const fp8 = isFp8(kvDtype);
  const [full, fullWorkspace, sparse, sparseWorkspace] = ATTENTION_FUNCTIONS[c.cache === "paged" ? "paged" : "contiguous"][fp8 ? "fp8" : "dtype"].map(
    (name) => native[name] as unknown as (args: object) => unknown,
  );
  const scales = fp8 ? { kScale: null, vScale: null, scaleHeads: 1, kvDtype } : {};
  const format = fp8 ? { kvDtype } : {};
  return {
    full: (a: object) => void full({ ...a, ...scales }),
    fullWorkspace: (a: object) => fullWorkspace({ ...a, ...format }) as number,
    sparse: (a: object) => void sparse({ ...a, ...scales }),
    sparseWorkspace: (a: object) => sparseWorkspace({ ...a, ...format }) as number,
    cacheBytes: fp8 ? 1 : 2,
  };
}

/** K and V as [batch, Hkv, n, D] element bits, or (timed calls) every byte one constant. */
type CacheData = { k: Uint16Array | Uint8Array; v: Uint16Array | Uint8Array } | { constant: number; elementBytes: number };

/** The cache arguments of a call over `data`: contiguous, or moved into a shuffled pool of pages for a paged variant. */
function cacheArgs(buffers: Buffers, c: Constants, batch: number, kvHeads: number, n: number, next: () => number, data: CacheData) {
  const D = c.D as number;
  const paged = c.cache === "paged" ? pagedLayout(batch, kvHeads, n, D, TUNED_PAGE, next) : undefined;
  const elements = paged ? paged.poolElements : batch * kvHeads * n * D;
  const cache = (which: "k" | "v") => {
    if ("constant" in data) {
      const b = buffers.make(elements * data.elementBytes);
      b.fill(data.constant);
      return b;
    }
    return buffers.holding(paged ? paged.pool(data[which]) : data[which]);
  };
  if (!paged) {
    return {
      kCache: cache("k"), kStrideB: kvHeads * n * D, kStrideH: n * D, kStrideN: D,
      vCache: cache("v"), vStrideB: kvHeads * n * D, vStrideH: n * D, vStrideN: D,
      cacheCapacity: n,
    };
  }
  const { page, slot, head } = paged.strides;
  return {
    kCache: cache("k"), kStridePage: page, kStrideSlot: slot, kStrideH: head,
    vCache: cache("v"), vStridePage: page, vStrideSlot: slot, vStrideH: head,
    blockTable: buffers.holding(paged.table), blockTableStride: paged.pagesPerSeq, numTableRows: batch, numPages: paged.numPages,
    pageSize: paged.page, maxPagesPerSeq: paged.pagesPerSeq,
  };
}

/**
 * The calls a decode_attention bucket tuned at `rows` rows per block is timed on, at B 1 and B 8: the bucket
 * is keyed by rows per block (`max_seqlen`, or `max_count` for index lists), so a bucket of list lengths also
 * serves full attention over as many tokens, and is timed on both. Tuned on lists alone, full attention over
 * 4K tokens at B 8, head dim 64, G 8 took a schedule 7.5% slower than the one before (bench/NOTES.md section 39).
 */
export function decodeAttentionCalls(rows: number): { kind: "sparse" | "full"; batch: number; cache: number }[] {
  const kinds = rows <= LONGEST_LIST ? (["sparse", "full"] as const) : (["full"] as const);
  return kinds.flatMap((kind) => [1, 8].map((batch) => ({ kind, batch, cache: kind === "sparse" ? SPARSE_CACHE : rows })));
}

function decodeAttentionProblem(native: NativeAddon, seed: number): TuningProblem {
  const checks = new Buffers(native);
  // Ragged, not a multiple of any tile, long enough to split; then a sparse list per request over the same cache,
  // long enough to split too (the planner leaves lists under 512 entries unsplit, runtime/capi/attention.cpp).
  const seqlens = [1, 777, 3001];
  const B = seqlens.length;
  const Hkv = 2;
  const N = 3001;
  const LIST = 700;
  const checkCase = memo((tag) => {
    const [D, G, dtype, kv, layout] = JSON.parse(tag) as [number, number, HalfType, string, string];
    const next = rng(seed);
    const Hq = Hkv * G;
    const q = roundTo(dtype, uniform(next, B * Hq * D));
    const cache = (values: Float64Array) => (isFp8(kv) ? roundToFp8(kv as Fp8Format, values) : roundTo(dtype, values));
    const k = cache(uniform(next, B * Hkv * N * D));
    const v = cache(uniform(next, B * Hkv * N * D));
    // Rows past each length are NaN on the GPU (the reference reads below the lengths): a read past one fails the check.
    for (const bits of [k.bits, v.bits]) poisonPastLengths(bits, seqlens, Hkv, D, { b: Hkv * N * D, h: N * D, n: D });
    const scale = 1 / Math.sqrt(D);
    const problem = {
      batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D, seqlens, scale,
      q: { data: q.rounded, strides: [Hq * D, D] }, k: { data: k.rounded, strides: [Hkv * N * D, N * D, D] }, v: { data: v.rounded, strides: [Hkv * N * D, N * D, D] },
    };
    const lists = seqlens.map((n) => Array.from(spreadPositions(next, n, Math.min(n, LIST))));
    const indices = new Int32Array(B * LIST);
    lists.forEach((l, b) => indices.set(l, b * LIST));
    const args = {
      q: checks.holding(q.bits), qStrideB: Hq * D, qStrideH: D,
      ...cacheArgs(checks, { D, cache: layout }, B, Hkv, N, next, { k: k.bits, v: v.bits }),
      seqlens: checks.holding(new Int32Array(seqlens)), out: checks.make(B * Hq * D * 2), outStrideB: Hq * D, outStrideH: D, lse: null,
      batch: B, numQHeads: Hq, numKvHeads: Hkv, headDim: D, maxSeqlen: N, dtype, softmaxScale: scale,
      indices: checks.holding(indices), indicesStrideB: LIST, counts: checks.holding(new Int32Array(lists.map((l) => l.length))), maxCount: LIST,
    };
    return { args, workspace: workspaceFor(checks), wantFull: decodeAttentionReference(problem).out, wantSparse: decodeAttentionReference(problem, (b) => lists[b]).out };
  });

  return {
    check(c) {
      const dtype = c.dtype as HalfType;
      const { args, workspace, wantFull, wantSparse } = checkCase(JSON.stringify([c.D, c.G, dtype, c.kv, c.cache]));
      const calls = attentionCalls(native, c);
      const got = new Uint16Array(wantFull.length);
      const run = (launch: () => void) => {
        args.out.fill(0xff); // NaN: an element the variant misses fails the check
        launch();
        native.checkDeviceStatus();
        args.out.download(got);
        return decode(dtype, got);
      };
      const full = relativeError(run(() => calls.full({ ...args, workspace: workspace(calls.fullWorkspace(args)) })), wantFull);
      const sparse = relativeError(run(() => calls.sparse({ ...args, workspace: workspace(calls.sparseWorkspace({ ...args, perHead: false })) })), wantSparse);
      const error = Number.isNaN(full) || Number.isNaN(sparse) ? NaN : Math.max(full, sparse);
      return { error, tolerance: HALF_TOLERANCE[dtype], what: `relative error (full ${full.toExponential(2)}, sparse ${sparse.toExponential(2)})` };
    },

    shapes(c, rows) {
      const D = c.D as number;
      const dtype = c.dtype as HalfType;
      const Hq = TIMED_Q_HEADS;
      const Hkv = Hq / (c.G as number);
      const calls = attentionCalls(native, c);
      const buffers = new Buffers(native);
      const shapes = decodeAttentionCalls(rows).map(({ kind, batch, cache: N }): TimedShape => {
        const sparse = kind === "sparse";
        let made: ReturnType<typeof makeInputs> | undefined;
        function makeInputs() {
          const next = rng(seed ^ batch);
          // 0x3c: a finite value in both half types and both FP8 formats: attention's time does not depend on the data.
          const q = buffers.make(batch * Hq * D * 2);
          q.fill(0x3c);
          const lists = new Int32Array(batch * rows);
          if (sparse) for (let b = 0; b < batch; b++) lists.set(spreadPositions(next, N, rows), b * rows);
          return {
            q, qStrideB: Hq * D, qStrideH: D,
            ...cacheArgs(buffers, c, batch, Hkv, N, next, { constant: 0x3c, elementBytes: calls.cacheBytes }),
            seqlens: buffers.holding(new Int32Array(batch).fill(N)), out: buffers.make(batch * Hq * D * 2), outStrideB: Hq * D, outStrideH: D, lse: null,
            batch, numQHeads: Hq, numKvHeads: Hkv, headDim: D, maxSeqlen: N, dtype, softmaxScale: 1 / Math.sqrt(D),
            indices: buffers.holding(lists), indicesStrideB: rows, counts: buffers.holding(new Int32Array(batch).fill(rows)), maxCount: rows,
            workspace: workspaceFor(buffers),
          };
        }
        return {
          label: sparse ? `B${batch} sparse ${rows} of ${N}` : `B${batch} full ${rows}`,
          prepare() {
            made ??= makeInputs();
            const { workspace, ...a } = made;
            if (sparse) {
              const ws = workspace(calls.sparseWorkspace({ ...a, perHead: false }));
              return () => calls.sparse({ ...a, workspace: ws });
            }
            const ws = workspace(calls.fullWorkspace(a));
            return () => calls.full({ ...a, workspace: ws });
          },
        };
      });
      return { shapes, dispose: () => buffers.dispose() };
    },

    dispose: () => checks.dispose(),
  };
}

/**
 * The calls (rows, row length) each top-k bucket is timed on, keyed by the bucket's tunedAt (the length
 * per row its spec names): a batch's rows of 8K-32K and one request's short rows; one request's heads at
 * 32K and a batch of 128K rows; one request's (or two's) heads at 64K-256K, where clusters of 4 nearly all
 * run at once (30 are resident, 15 of 8); one request's heads at 256K and a few long rows.
 */
export const TOPK_SHAPES: Readonly<Record<number, readonly (readonly [rows: number, length: number])[]>> = {
  128: [[256, 8192], [256, 32768], [32, 8192]],
  1024: [[32, 32768], [64, 32768], [256, 131072]],
  4096: [[32, 131072], [16, 65536], [64, 262144]],
  12288: [[32, 262144], [8, 131072], [16, 262144]],
};

function topkProblem(native: NativeAddon, seed: number): TuningProblem {
  const checks = new Buffers(native);
  const ROWS = 5;
  // Longer than any schedule's key caches (a cluster of 8 blocks caching 32K keys each), so that keys past them
  // take the uncached path; one row short of k (padded with -1) and one empty.
  const LENGTH = 8 * 32768 + 1001;
  const checkCase = memo((tag) => {
    const k = Number(tag);
    const next = rng(seed);
    // Few distinct values (ties everywhere), and NaN (below every number), infinities and -0 among them.
    const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0];
    const values = new Float32Array(ROWS * LENGTH).map(() => (next() < 0.002 ? special[Math.floor(next() * 4)] : Math.round(next() * 512) / 64));
    const lengths = [LENGTH, LENGTH - 5, LENGTH, k - 100, 0];
    const want = (order: "rank" | "position") =>
      lengths.flatMap((n, r) => {
        const ranked = topkRanked(values.subarray(r * LENGTH, (r + 1) * LENGTH), 0, n, k);
        const listed = order === "rank" ? ranked : [...ranked].sort((a, b) => a - b);
        return [...listed, ...Array<number>(k - listed.length).fill(-1)];
      });
    return { k, values: checks.holding(values), lengths: checks.holding(new Int32Array(lengths)), indices: checks.make(ROWS * k * 4), want: { rank: want("rank"), position: want("position") } };
  });
  return {
    // Both output orders, each run three times: every run must give the literal specification's list (so the
    // same list whichever block of a cluster finishes first).
    check(c) {
      const { k, values, lengths, indices, want } = checkCase(String(c.K));
      let wrong = 0;
      for (const order of ["rank", "position"] as const) {
        for (let run = 0; run < 3; run++) {
          indices.fill(0x7f); // not -1: a variant must write the padding of short rows itself
          native.topk({ values, valuesStride: LENGTH, lengths, indices, indicesStride: k, outValues: null, rows: ROWS, length: LENGTH, k, order });
          native.checkDeviceStatus();
          const got = new Int32Array(ROWS * k);
          indices.download(got);
          want[order].forEach((position, i) => (wrong += got[i] === position ? 0 : 1));
        }
      }
      return { error: wrong, tolerance: 0, what: `positions wrong over both orders and three runs (of ${6 * ROWS * k}; ties, NaN, infinities, -0, ragged rows)` };
    },

    // Each bucket of length / rows is timed on the calls of TOPK_SHAPES (all inside the bucket).
    shapes(c, tunedAt) {
      const k = c.K as number;
      const buffers = new Buffers(native);
      const calls = TOPK_SHAPES[tunedAt];
      if (!calls) throw new Error(`no top-k shapes for the bucket tuned at length / rows = ${tunedAt}: add them to TOPK_SHAPES (autotune/problems.ts)`);
      const shapes = calls.map(([rows, length]): TimedShape => {
        let made: { values: DeviceBuffer; indices: DeviceBuffer } | undefined;
        return {
          label: `${rows} rows of ${length}`,
          prepare() {
            made ??= { values: buffers.holding(new Float32Array(uniform(rng(seed ^ rows), rows * length))), indices: buffers.make(rows * k * 4) };
            const { values, indices } = made;
            return () => native.topk({ values, valuesStride: length, lengths: null, indices, indicesStride: k, outValues: null, rows, length, k, order: "rank" });
          },
        };
      });
      return { shapes, dispose: () => buffers.dispose() };
    },

    dispose: () => checks.dispose(),
  };
}

/** The selection the union is checked and timed with: the decode runtime's defaults (the paper's r and S, K 2048). */
const UNION_SELECTION = { recencyRatio: DEFAULT_RUN.recencyRatio, sinks: DEFAULT_RUN.sinks };
const UNION_TIMED_BUDGET = DEFAULT_RUN.budget;

/**
 * First-pick keys of requests of the given lengths (rows `stride` apart), as the top-k leaves them: each
 * request's candidates [sinks, n - recent) in a random order take distinct random keys below middle x heads
 * while they last; the rest, and the sinks and the window, no pick (0xffffffff, above every key).
 */
export function randomFirstPicks(next: () => number, lengths: readonly number[], stride: number, budget: number, heads: number): Uint32Array {
  const { middle, recent } = budgetSplit(budget, UNION_SELECTION.recencyRatio, UNION_SELECTION.sinks);
  const shuffled = (count: number) => {
    const a = Array.from({ length: count }, (_, i) => i);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  const keys = new Uint32Array(lengths.length * stride).fill(0xffffffff);
  const first = UNION_SELECTION.sinks;
  lengths.forEach((n, b) => {
    const candidates = Math.max(0, n - recent - first);
    const tokens = shuffled(candidates);
    const drawn = shuffled(middle * heads);
    for (let i = 0; i < Math.min(candidates, drawn.length); i++) keys[b * stride + first + tokens[i]] = drawn[i];
  });
  return keys;
}

function unionProblem(native: NativeAddon, seed: number): TuningProblem {
  const checks = new Buffers(native);
  // Ragged requests over several slices of every cluster size, each longer than a warp's run held in registers
  // at some schedule; few heads, so that some candidates stay unpicked.
  const seqlens = [1025, 5000, 40000];
  const N = Math.max(...seqlens);
  const BUDGET = 1024;
  const HEADS = 8;
  const checkCase = memo(() => {
    const keys = randomFirstPicks(rng(seed), seqlens, N, BUDGET, HEADS);
    const want = seqlens.map((n, b) => unionOfFirstPicks(keys.subarray(b * N, b * N + n), n, BUDGET, UNION_SELECTION.recencyRatio, UNION_SELECTION.sinks, HEADS));
    return { keys: checks.holding(keys), seqlens: checks.holding(new Int32Array(seqlens)), indices: checks.make(seqlens.length * BUDGET * 4), counts: checks.make(seqlens.length * 4), want };
  });
  return {
    check() {
      const { keys, seqlens: lengths, indices, counts, want } = checkCase("");
      indices.fill(0xff);
      counts.fill(0xff);
      native.selectLessismoreUnion({ keys, keysStrideB: N, seqlens: lengths, indices, indicesStrideB: BUDGET, counts, batch: seqlens.length, totalQHeads: HEADS, maxSeqlen: N, budget: BUDGET, ...UNION_SELECTION });
      native.checkDeviceStatus();
      const got = new Int32Array(seqlens.length * BUDGET);
      const gotCounts = new Int32Array(seqlens.length);
      indices.download(got);
      counts.download(gotCounts);
      let wrong = 0;
      want.forEach((w, b) => {
        wrong += gotCounts[b] === w.length ? 0 : 1;
        w.forEach((position, i) => (wrong += got[b * BUDGET + i] === position ? 0 : 1));
      });
      return { error: wrong, tolerance: 0, what: `positions or counts unlike the reference (of ${want.reduce((n, w) => n + w.length + 1, 0)})` };
    },

    // A bucket of request lengths is timed on one request and on 8 at the length it is tuned at, K 2048,
    // the presets' 32 query heads.
    shapes(_c, tokens) {
      const buffers = new Buffers(native);
      const shapes = [1, 8].map((batch): TimedShape => {
        let made: Parameters<NativeAddon["selectLessismoreUnion"]>[0] | undefined;
        return {
          label: `B${batch} ${tokens} tokens, K ${UNION_TIMED_BUDGET}`,
          prepare() {
            made ??= {
              keys: buffers.holding(randomFirstPicks(rng(seed ^ batch), new Array<number>(batch).fill(tokens), tokens, UNION_TIMED_BUDGET, TIMED_Q_HEADS)), keysStrideB: tokens,
              seqlens: buffers.holding(new Int32Array(batch).fill(tokens)), indices: buffers.make(batch * UNION_TIMED_BUDGET * 4), indicesStrideB: UNION_TIMED_BUDGET,
              counts: buffers.make(batch * 4), batch, totalQHeads: TIMED_Q_HEADS, maxSeqlen: tokens, budget: UNION_TIMED_BUDGET, ...UNION_SELECTION,
            };
            const args = made;
            return () => native.selectLessismoreUnion(args);
          },
        };
      });
      return { shapes, dispose: () => buffers.dispose() };
    },

    dispose: () => checks.dispose(),
  };
}

/** The kernels `lim tune` can tune, by name. */
export const TUNABLE: Readonly<Record<string, (native: NativeAddon, seed: number) => TuningProblem>> = {
  decode_attention: decodeAttentionProblem,
  topk: topkProblem,
  lessismore_union: unionProblem,
};
