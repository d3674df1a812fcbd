// Merges the partial results of a split-KV attention: each split's output o_s (already normalised by its
// own softmax sum) and its base-2 log-sum-exp lse_s combine as o = sum_s 2^(lse_s - M) o_s / sum_s 2^(lse_s - M),
// with M the largest lse_s. One block per (request, query head); its warps take the splits in turn, each
// keeping a running maximum, and the warps' states are combined in shared memory.

import {
  DEFAULT_MATRIX,
  blockIdx, defineKernel, exp2, laneId, loadVec, log2, max, present, range, regs, shared, syncthreads,
  threadIdx, unroll, waitForPrecedingGrid, warpId,
  type ConstantsOf, type MaybeOut, type Out, type ScheduleOf, type Tensor, type f32, type i32,
} from "../lang/index.js";

export const mergeStates = defineKernel({
  spec: {
    name: "merge_states",
    summary: "merges split-KV partial outputs and base-2 log-sum-exps into the final attention output",
    constants: { D: DEFAULT_MATRIX.headDims, dtype: DEFAULT_MATRIX.dtypes },
    schedule: { threads: { tag: "t", values: [64, 128, 256] } },
    grid: { x: "Hq", y: "B" },
    overlapsPrecedingKernel: true, // starts while decode_attention finishes; waits before reading its partials
  },
  heuristic: () => ({ threads: 128 }),
  rules: [(c) => (c.D % 16 === 0 ? undefined : `D (${c.D}) must be a multiple of 16 to spread over 32 or 16 lanes of a warp`)],
});

export function merge_states(
  c: ConstantsOf<typeof mergeStates.spec>,
  s: ScheduleOf<typeof mergeStates.spec>,
  partialO: Tensor<"f32", ["B", "Hq", "splits", "D"]>,
  partialLse: Tensor<"f32", ["B", "Hq", "splits"]>,
  o: Out<"dtype", ["B", "Hq", "D"]>,
  lse: MaybeOut<"f32", ["B", "Hq"]>,
  splits: i32,
): void {
  // Output dims per lane: a warp's 32 lanes share a row, or its first 16 when D is an odd multiple of 16
  // (D = 80: 16 lanes of 5), the others idle.
  const PER = c.D % 32 == 0 ? c.D / 32 : c.D / 16;
  const LANES = c.D / PER;
  const WARPS = s.threads / 32;
  const LN2 = 0.6931471805599453;
  const NO_SCORE = -1e30;

  const b = blockIdx.y;
  const h = blockIdx.x;
  const lane = laneId();
  const warp = warpId();
  const active = LANES == 32 || lane < LANES; // the lane holds dims of the row

  let mW: f32 = NO_SCORE;
  let lW: f32 = 0.0;
  const accW = regs("f32", [PER], 0.0);
  waitForPrecedingGrid();
  // Splits that saw no rows have lse -inf and weigh nothing.
  // Unrolled by 2: by 4, ptxas spills the D = 256 variants (two 16-byte loads per split in flight is enough).
  for (const sp of range(warp, splits, WARPS, 2)) {
    const lseS = partialLse.at(b, h, sp);
    const part = regs("f32", [PER], 0.0);
    if (active) loadVec(part, partialO.ref(b, h, sp, lane * PER));
    const mNew = max(mW, lseS);
    const alpha = exp2(mW - mNew);
    const w = exp2(lseS - mNew);
    lW = lW * alpha + w;
    for (const e of unroll(PER)) accW[e] = accW[e] * alpha + w * part[e];
    mW = mNew;
  }

  const mAll = shared("f32", [WARPS]);
  const lAll = shared("f32", [WARPS]);
  const accAll = shared("f32", [WARPS, c.D]);
  if (lane == 0) {
    mAll[warp] = mW;
    lAll[warp] = lW;
  }
  if (active) for (const e of unroll(PER)) accAll[warp][lane * PER + e] = accW[e];
  syncthreads();
  let mMax: f32 = NO_SCORE;
  for (const w of unroll(WARPS)) mMax = max(mMax, mAll[w]);
  let sum: f32 = 0.0;
  for (const w of unroll(WARPS)) sum = sum + lAll[w] * exp2(mAll[w] - mMax);
  for (let d = threadIdx.x; d < c.D; d += s.threads) {
    let out: f32 = 0.0;
    for (const w of unroll(WARPS)) out = out + accAll[w][d] * exp2(mAll[w] - mMax);
    o.store(out / sum, b, h, d);
  }
  if (threadIdx.x == 0 && present(lse)) lse.store((mMax + log2(sum)) * LN2, b, h);
}
