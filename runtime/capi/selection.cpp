// The selection functions of the C ABI: LessIsMore's shared token set, TidalDecode's per-head sets, a
// general top-k, and attention recall. Their arguments arrive checked by the generated wrappers
// (generated/abi.cpp); each picks the generated variants and launches them; none blocks.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "internal.h"

using namespace lim_capi;

namespace {

/**
 * The top-k variant with the smallest budget that holds k, tuned for calls of `rows` rows of `length`
 * (the kernel's shape bucket is length / rows), or an error naming the command that makes one.
 */
int find_topk(const std::string& fn, int k, int rows, int length, const lim_variant_info** out) {
  int best = -1;
  for (int i = 0; i < lim_topk_variant_count; ++i) {
    const int capacity = lim_topk_variants[i]->constants[LIM_TOPK_CONSTANT_K];
    if (capacity >= k && (best < 0 || capacity < best)) best = capacity;
  }
  *out = best > 0 ? lim_find_topk(best, length / std::max(rows, 1)) : nullptr;
  if (*out == nullptr) {
    int largest = 0;
    for (int i = 0; i < lim_topk_variant_count; ++i) largest = std::max(largest, static_cast<int>(lim_topk_variants[i]->constants[LIM_TOPK_CONSTANT_K]));
    const std::string what = "ranking " + std::to_string(k) + " tokens: that needs a top-k variant of budget >= " + std::to_string(k) +
                             " (the largest generated is " + std::to_string(largest) + ")";
    for (int i = 0; i < lim_supported_budget_count; ++i) {
      if (lim_supported_budgets[i] >= k) return no_variant(fn.c_str(), what, "--budgets " + std::to_string(lim_supported_budgets[i]));
    }
    const int most = lim_supported_budgets[lim_supported_budget_count - 1];
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + what + "; no supported budget holds that many (the largest is " + std::to_string(most) +
                                                "): rank at most " + std::to_string(most) + " tokens per head");
  }
  return LIM_OK;
}

/** LessIsMore's budget, checked, and its parts: the ranked middle and the recency window. */
struct BudgetSplit {
  int budget = 0, middle = 0, recent = 0, sinks = 0;
};

/** Budget, ratio and sinks checked; the ranked and recent parts of the budget. */
int split_budget(const std::string& fn, int32_t budget, float recency_ratio, int32_t sinks, BudgetSplit* out) {
  if (budget < sinks + 2) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": budget " + std::to_string(budget) + " must be at least sinks + 2 = " + std::to_string(sinks + 2) +
                                                " (the sinks, one ranked token and the current token)");
  }
  if (!(recency_ratio >= 0.0f && recency_ratio < 1.0f)) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": recency_ratio must be in [0, 1), got " + std::to_string(recency_ratio));
  }
  const int middle = static_cast<int>(std::floor(static_cast<double>(budget) * (1.0 - static_cast<double>(recency_ratio))));
  const int recent = budget - middle - sinks;
  if (recent < 1) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": budget " + std::to_string(budget) + " with recency_ratio " + std::to_string(recency_ratio) + " and " +
                                                std::to_string(sinks) + " sinks leaves " + std::to_string(recent) +
                                                " recent tokens; the current token must stay in the set: raise recency_ratio or lower sinks");
  }
  if (middle < 1) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": recency_ratio " + std::to_string(recency_ratio) + " leaves no ranked tokens in a budget of " + std::to_string(budget));
  *out = BudgetSplit{budget, middle, recent, sinks};
  return LIM_OK;
}

/** LessIsMore's scratch: every token's first rank-major key, [batch, max_seqlen]. */
std::size_t selection_workspace(int32_t batch, int32_t max_seqlen) {
  return round256(static_cast<std::size_t>(batch) * max_seqlen * sizeof(uint32_t));
}

/** The rank-major keys the union kernel's shared-memory bitmap holds. */
constexpr int64_t kUnionMaxKeys = int64_t{LIM_LESSISMORE_UNION_WORDS} * 32;

/** The union holds middle x total_heads keys, or an error saying it cannot. */
int check_union_keys(const std::string& fn, const BudgetSplit& split, int total_heads) {
  if (static_cast<int64_t>(split.middle) * total_heads <= kUnionMaxKeys) return LIM_OK;
  return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": middle (" + std::to_string(split.middle) + ") x query heads (" + std::to_string(total_heads) +
                                              ") picks exceed the union's " + std::to_string(kUnionMaxKeys) + " rank-major keys");
}

/** Where one GPU's heads sit among the model's: rows of logits per request, the first one's global index, all heads. */
struct HeadRange {
  int count = 0, offset = 0, total = 0;
};

/**
 * The first half of a selection: every key of [batch, max_seqlen] set to "no pick" (dsl/kernels/clear_first_picks.ts,
 * which overlaps the kernel before it), then each head's top `middle` candidates of [sinks, n - recent), ranked,
 * lower their tokens' keys.
 */
int launch_local_keys(const char* function, const lim_variant_info* topk, const float* logits, int64_t logits_stride_h, const int32_t* seqlens, uint32_t* keys,
                      int64_t keys_stride_b, int batch, HeadRange heads, int max_seqlen, const BudgetSplit& split, lim_device_status* status_word,
                      cudaStream_t stream) {
  const lim_variant_info* clear = lim_find_clear_first_picks();
  if (clear == nullptr) return no_variant(function, "clear_first_picks (the kernel is missing)", "");
  lim_clear_first_picks_params c{};
  c.firstPick = tensor(keys, keys_stride_b, 1);
  c.B = batch;
  c.Nmax = max_seqlen;
  c.status = status_word;
  const int status = launch(function, clear, &c, stream);
  if (status != LIM_OK) return status;
  lim_topk_params t{};
  t.values = tensor(logits, logits_stride_h, 1);  // rows b * heads + h (the wrapper checked the batch stride)
  t.lengths = tensor(seqlens, 1);
  t.firstPick = tensor(keys, keys_stride_b, 1);
  t.R = batch * heads.count;
  t.L = max_seqlen;
  t.Q = batch;
  t.KO = split.middle;
  t.rowsPerSeq = heads.count;
  t.keyHeads = heads.total;
  t.keyHeadOffset = heads.offset;
  t.begin = split.sinks;
  t.tail = split.recent;
  t.k = split.middle;
  t.byPosition = 0;
  t.status = status_word;
  return launch(function, topk, &t, stream);
}

/** The second half: the set of each request from the keys of all heads. */
int launch_union(const char* function, const lim_variant_info* merge, const uint32_t* keys, int64_t keys_stride_b, const int32_t* seqlens, int32_t* indices,
                 int64_t indices_stride_b, int32_t* counts, int batch, int total_heads, int max_seqlen, const BudgetSplit& split,
                 lim_device_status* status_word, cudaStream_t stream) {
  lim_lessismore_union_params u{};
  u.firstPick = tensor(keys, keys_stride_b, 1);
  u.seqlens = tensor(seqlens, 1);
  u.indices = tensor(indices, indices_stride_b, 1);
  u.counts = tensor(counts, 1);
  u.B = batch;
  u.Nmax = max_seqlen;
  u.KI = split.budget;
  u.maxSeqlen = max_seqlen;
  u.budget = split.budget;
  u.middle = split.middle;
  u.sinks = split.sinks;
  u.recent = split.recent;
  u.heads = total_heads;
  u.status = status_word;
  return launch(function, merge, &u, stream);
}

/** What no_variant says when the union kernel was not generated. */
constexpr const char* kUnionMissing = "lessismore_union (the kernel is missing)";

}  // namespace

int lim_select_lessismore_workspace_size_impl(const lim_select_lessismore_workspace_size_args& a) {
  BudgetSplit split;
  const int status = split_budget(a.function, a.budget, a.recency_ratio, a.sinks, &split);
  if (status != LIM_OK) return status;
  *a.bytes = selection_workspace(a.batch, a.max_seqlen);
  return ok();
}

int lim_select_lessismore_impl(const lim_select_lessismore_args& a) {
  const std::string fn = a.function;
  BudgetSplit split;
  int status = split_budget(fn, a.budget, a.recency_ratio, a.sinks, &split);
  if (status != LIM_OK || (status = check_union_keys(fn, split, a.num_q_heads)) != LIM_OK) return status;
  const lim_variant_info* topk = nullptr;
  if ((status = find_topk(fn, split.middle, a.batch * a.num_q_heads, a.max_seqlen, &topk)) != LIM_OK) return status;
  const lim_variant_info* merge = lim_find_lessismore_union(a.max_seqlen);
  if (merge == nullptr) return no_variant(a.function, kUnionMissing, "");
  const std::size_t needed = selection_workspace(a.batch, a.max_seqlen);
  if (a.workspace == nullptr || a.workspace_bytes < needed) {
    return fail(LIM_ERROR_WORKSPACE, fn + ": needs " + std::to_string(needed) + " bytes of 16-byte aligned workspace, got " + std::to_string(a.workspace_bytes) +
                                         (a.workspace == nullptr ? " (NULL)" : "") + "; ask lim_select_lessismore_workspace_size");
  }
  lim_device_status* status_word = nullptr;
  if ((status = prepare_launch(a.function, &status_word)) != LIM_OK) return status;
  uint32_t* keys = static_cast<uint32_t*>(a.workspace);
  const HeadRange all{a.num_q_heads, 0, a.num_q_heads};
  status = launch_local_keys(a.function, topk, a.logits, a.logits_stride_h, a.seqlens, keys, a.max_seqlen, a.batch, all, a.max_seqlen, split, status_word, a.stream);
  if (status != LIM_OK) return status;
  return finish(launch_union(a.function, merge, keys, a.max_seqlen, a.seqlens, a.indices, a.indices_stride_b, a.counts, a.batch, a.num_q_heads, a.max_seqlen, split,
                             status_word, a.stream));
}

int lim_select_lessismore_local_keys_impl(const lim_select_lessismore_local_keys_args& a) {
  const std::string fn = a.function;
  BudgetSplit split;
  int status = split_budget(fn, a.budget, a.recency_ratio, a.sinks, &split);
  if (status != LIM_OK || (status = check_union_keys(fn, split, a.total_q_heads)) != LIM_OK) return status;
  const lim_variant_info* topk = nullptr;
  if ((status = find_topk(fn, split.middle, a.batch * a.num_q_heads, a.max_seqlen, &topk)) != LIM_OK) return status;
  lim_device_status* status_word = nullptr;
  if ((status = prepare_launch(a.function, &status_word)) != LIM_OK) return status;
  const HeadRange mine{a.num_q_heads, a.head_offset, a.total_q_heads};
  return finish(launch_local_keys(a.function, topk, a.logits, a.logits_stride_h, a.seqlens, a.keys, a.keys_stride_b, a.batch, mine, a.max_seqlen, split,
                                  status_word, a.stream));
}

int lim_select_lessismore_union_impl(const lim_select_lessismore_union_args& a) {
  const std::string fn = a.function;
  BudgetSplit split;
  int status = split_budget(fn, a.budget, a.recency_ratio, a.sinks, &split);
  if (status != LIM_OK || (status = check_union_keys(fn, split, a.total_q_heads)) != LIM_OK) return status;
  const lim_variant_info* merge = lim_find_lessismore_union(a.max_seqlen);
  lim_device_status* status_word = nullptr;
  if ((status = prepare_launch(a.function, merge, kUnionMissing, "", &status_word)) != LIM_OK) return status;
  return finish(launch_union(a.function, merge, a.keys, a.keys_stride_b, a.seqlens, a.indices, a.indices_stride_b, a.counts, a.batch, a.total_q_heads, a.max_seqlen,
                             split, status_word, a.stream));
}

int lim_select_per_head_impl(const lim_select_per_head_args& a) {
  const lim_variant_info* topk = nullptr;
  int status = find_topk(a.function, a.budget, a.batch * a.num_q_heads, a.max_seqlen, &topk);
  if (status != LIM_OK) return status;
  lim_device_status* status_word = nullptr;
  if ((status = prepare_launch(a.function, &status_word)) != LIM_OK) return status;
  lim_topk_params t{};
  t.values = tensor(a.logits, a.logits_stride_h, 1);
  t.lengths = tensor(a.seqlens, 1);
  t.outIdx = tensor(a.indices, a.indices_stride_h, 1);
  t.outCount = tensor(a.counts, 1);
  t.R = a.batch * a.num_q_heads;
  t.L = a.max_seqlen;
  t.Q = a.batch;
  t.KO = a.budget;
  t.rowsPerSeq = a.num_q_heads;
  t.begin = 0;
  t.tail = 0;
  t.k = a.budget;
  t.byPosition = 1;
  t.status = status_word;
  return finish(launch(a.function, topk, &t, a.stream));
}

int lim_topk_impl(const lim_topk_args& a) {
  const lim_variant_info* topk = nullptr;
  int status = find_topk(a.function, a.k, a.rows, a.length, &topk);
  if (status != LIM_OK) return status;
  lim_device_status* status_word = nullptr;
  if ((status = prepare_launch(a.function, &status_word)) != LIM_OK) return status;
  lim_topk_params t{};
  t.values = tensor(a.values, a.values_stride, 1);
  t.lengths = tensor(a.lengths, 1);
  t.outIdx = tensor(a.indices, a.indices_stride, 1);
  t.outVal = tensor(a.out_values, a.indices_stride, 1);
  t.R = a.rows;
  t.L = a.length;
  t.Q = a.rows;
  t.KO = a.k;
  t.rowsPerSeq = 1;
  t.begin = 0;
  t.tail = 0;
  t.k = a.k;
  t.byPosition = a.order == LIM_ORDER_POSITION ? 1 : 0;
  t.status = status_word;
  return finish(launch(a.function, topk, &t, a.stream));
}

int lim_attention_recall_impl(const lim_attention_recall_args& a) {
  const lim_variant_info* v = lim_find_attention_recall();
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, "attention_recall (the kernel is missing)", "", &status_word);
  if (status != LIM_OK) return status;
  lim_attention_recall_params p{};
  p.logits = tensor(a.logits, a.logits_stride_b, a.logits_stride_h, 1);
  p.lse = tensor(a.lse, a.num_q_heads, 1);
  p.indices = tensor(a.indices, a.indices_stride_b, a.indices_stride_s, 1);
  p.counts = tensor(a.counts, a.sets, 1);
  p.recall = tensor(a.recall, a.num_q_heads, 1);
  p.B = a.batch;
  p.Hq = a.num_q_heads;
  p.NL = a.logits_capacity;
  p.HI = a.sets;
  p.KI = a.max_count;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}

int lim_count_indices_impl(const lim_count_indices_args& a) {
  const lim_variant_info* v = lim_find_count_indices();
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, "count_indices (the kernel is missing)", "", &status_word);
  if (status != LIM_OK) return status;
  lim_count_indices_params p{};
  p.indices = tensor(a.indices, a.indices_stride_b, a.indices_stride_l, 1);
  p.counts = tensor(a.counts, a.lists, 1);
  p.B = a.batch;
  p.HL = a.lists;
  p.KI = a.max_count;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}
