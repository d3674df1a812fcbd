// Attention recall (the paper's fidelity metric): for head h of request b and an index set rho,
// recall = sum over j in rho of softmax(z[b, h])[j] = sum over j in rho of exp(z[b, h, j] - lse[b, h]), with z
// the selection layer's scaled logits and lse the full attention's log-sum-exp. The set is shared by all
// heads (indices [B, 1, K]) or one per head (indices [B, Hq, K]). One block per (head, request).

import {
  blockIdx, blockSum, defineKernel, exp, raise, threadIdx, waitForPrecedingGrid,
  type ConstantsOf, type Out, type ScheduleOf, type Tensor, type f32,
} from "../lang/index.js";

export const attentionRecall = defineKernel({
  spec: {
    name: "attention_recall",
    summary: "softmax mass each head puts on an index set (shared or per head), from the logits and the log-sum-exp",
    constants: {},
    schedule: { threads: { tag: "t", values: [128, 256, 512] } },
    grid: { x: "Hq", y: "B" },
    overlapsPrecedingKernel: true, // the index sets usually come from the kernel just before
  },
  heuristic: () => ({ threads: 256 }),
  rules: [],
});

export function attention_recall(
  c: ConstantsOf<typeof attentionRecall.spec>,
  s: ScheduleOf<typeof attentionRecall.spec>,
  logits: Tensor<"f32", ["B", "Hq", "NL"]>,
  lse: Tensor<"f32", ["B", "Hq"]>,
  indices: Tensor<"i32", ["B", "HI", "KI"]>, // HI = 1: one set for all heads; HI = Hq: a set per head
  counts: Tensor<"i32", ["B", "HI"]>,
  recall: Out<"f32", ["B", "Hq"]>,
): void {
  const h = blockIdx.x;
  const b = blockIdx.y;
  waitForPrecedingGrid();
  const set = indices.size("HI") == 1 ? 0 : h;
  const count = counts.at(b, set);
  if (count < 0 || count > indices.size("KI")) {
    if (threadIdx.x == 0 && h == 0) raise("counts[{0}] = {1} is outside [0, {2}]", b, count, indices.size("KI"));
    return;
  }
  const base = lse.at(b, h);
  let sum: f32 = 0.0;
  for (let i = threadIdx.x; i < count; i += s.threads) {
    const j = indices.at(b, set, i);
    if (j >= 0 && j < logits.size("NL")) sum = sum + exp(logits.at(b, h, j) - base);
    else raise("index {1} at [{0}, {2}] is outside the logits", b, j, i);
  }
  const total = blockSum(sum);
  if (threadIdx.x == 0) recall.store(total, b, h);
}
