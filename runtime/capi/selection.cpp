// The selection functions of the C ABI: LessIsMore's shared token set, TidalDecode's per-head sets, a
// general top-k, and attention recall. Each checks its arguments, picks the generated variants and
// launches them; none blocks.

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "internal.h"

using namespace lim_capi;

namespace {

/**
 * The top-k variant with the smallest budget that holds k, tuned for rows of `length` tokens, or an error
 * naming the command that makes one.
 */
int find_topk(const std::string& fn, int k, int length, const lim_variant_info** out) {
  int best = -1;
  for (int i = 0; i < lim_topk_variant_count; ++i) {
    const int capacity = lim_topk_variants[i]->constants[0];
    if (capacity >= k && (best < 0 || capacity < best)) best = capacity;
  }
  *out = best > 0 ? lim_find_topk(best, length) : nullptr;
  if (*out == nullptr) {
    int largest = 0;
    for (int i = 0; i < lim_topk_variant_count; ++i) largest = std::max(largest, static_cast<int>(lim_topk_variants[i]->constants[0]));
    int wanted = 1024;
    while (wanted < k) wanted *= 2;
    return fail(LIM_ERROR_NO_VARIANT, fn + ": ranking " + std::to_string(k) + " tokens needs a top-k variant of budget >= " + std::to_string(k) +
                                          " (the largest generated is " + std::to_string(largest) + "); run `bin/lim generate --budgets " +
                                          std::to_string(wanted) + "` in the toolkit (with your other budgets) and rebuild the library");
  }
  return LIM_OK;
}

/** Budget, ratio and sinks checked; the ranked and recent parts of the budget. */
int split_budget(const std::string& fn, int32_t budget, float recency_ratio, int32_t sinks, int* middle, int* recent) {
  if (sinks < 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": sinks must be >= 0, got " + std::to_string(sinks));
  if (budget < sinks + 2) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": budget " + std::to_string(budget) + " must be at least sinks + 2 = " + std::to_string(sinks + 2) +
                                                " (the sinks, one ranked token and the current token)");
  }
  if (!(recency_ratio >= 0.0f && recency_ratio < 1.0f)) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": recency_ratio must be in [0, 1), got " + std::to_string(recency_ratio));
  }
  *middle = static_cast<int>(std::floor(static_cast<double>(budget) * (1.0 - static_cast<double>(recency_ratio))));
  *recent = budget - *middle - sinks;
  if (*recent < 1) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": budget " + std::to_string(budget) + " with recency_ratio " + std::to_string(recency_ratio) + " and " +
                                                std::to_string(sinks) + " sinks leaves " + std::to_string(*recent) +
                                                " recent tokens; the current token must stay in the set: raise recency_ratio or lower sinks");
  }
  if (*middle < 1) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": recency_ratio " + std::to_string(recency_ratio) + " leaves no ranked tokens in a budget of " + std::to_string(budget));
  return LIM_OK;
}

int check_logits(const std::string& fn, const float* logits, int64_t stride_b, int64_t stride_h, const int32_t* seqlens, int32_t batch,
                 int32_t num_q_heads, int32_t max_seqlen) {
  if (logits == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits is NULL");
  if (seqlens == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": seqlens is NULL");
  if (!aligned(logits, 4) || !aligned(seqlens, 4)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits and seqlens must be 4-byte aligned");
  if (batch <= 0 || num_q_heads <= 0 || max_seqlen <= 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch, num_q_heads and max_seqlen must be positive, got " + std::to_string(batch) + ", " +
                                                std::to_string(num_q_heads) + ", " + std::to_string(max_seqlen));
  }
  if (stride_h < max_seqlen || stride_b < stride_h * num_q_heads) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits strides (" + std::to_string(stride_b) + ", " + std::to_string(stride_h) + ") must hold max_seqlen (" +
                                                std::to_string(max_seqlen) + ") positions per head without overlap");
  }
  return ensure_device(fn.c_str());
}

/** LessIsMore's scratch: every token's first rank-major key, [batch, max_seqlen]. */
std::size_t selection_workspace(int32_t batch, int32_t max_seqlen) {
  return round256(static_cast<std::size_t>(batch) * max_seqlen * sizeof(uint32_t));
}

constexpr int64_t kUnionMaxKeys = int64_t{1} << 20;  // the union kernel's shared-memory bitmap

int launch(const std::string& fn, const lim_variant_info* v, const void* params, cudaStream_t stream) {
  const int err = v->launch(params, stream);
  return err != 0 ? cuda_fail(fn.c_str(), (std::string("launching ") + v->name).c_str(), err) : LIM_OK;
}

}  // namespace

extern "C" int lim_select_lessismore_workspace_size(int32_t batch, int32_t num_q_heads, int32_t max_seqlen, int32_t budget, float recency_ratio,
                                                    int32_t sinks, size_t* bytes) {
  const std::string fn = "lim_select_lessismore_workspace_size";
  if (bytes == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": bytes is NULL");
  if (batch <= 0 || num_q_heads <= 0 || max_seqlen <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch, num_q_heads and max_seqlen must be positive");
  int middle = 0, recent = 0;
  const int status = split_budget(fn, budget, recency_ratio, sinks, &middle, &recent);
  if (status != LIM_OK) return status;
  *bytes = selection_workspace(batch, max_seqlen);
  return ok();
}

extern "C" int lim_select_lessismore(const float* logits, int64_t logits_stride_b, int64_t logits_stride_h, const int32_t* seqlens, int32_t* indices,
                                     int64_t indices_stride_b, int32_t* counts, int32_t batch, int32_t num_q_heads, int32_t max_seqlen, int32_t budget,
                                     float recency_ratio, int32_t sinks, void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const std::string fn = "lim_select_lessismore";
  int status = check_logits(fn, logits, logits_stride_b, logits_stride_h, seqlens, batch, num_q_heads, max_seqlen);
  if (status != LIM_OK) return status;
  int middle = 0, recent = 0;
  if ((status = split_budget(fn, budget, recency_ratio, sinks, &middle, &recent)) != LIM_OK) return status;
  if (indices == nullptr || counts == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": indices and counts must not be NULL");
  if (indices_stride_b < budget) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": indices_stride_b (" + std::to_string(indices_stride_b) + ") must be at least budget (" + std::to_string(budget) + ")");
  if (logits_stride_b != logits_stride_h * num_q_heads) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits_stride_b must equal num_q_heads * logits_stride_h (the heads of a request are consecutive rows)");
  }
  if (static_cast<int64_t>(middle) * num_q_heads > kUnionMaxKeys) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": middle (" + std::to_string(middle) + ") x num_q_heads (" + std::to_string(num_q_heads) +
                                                ") picks exceed the union's 2^20 rank-major keys");
  }
  const lim_variant_info* topk = nullptr;
  if ((status = find_topk(fn, middle, max_seqlen, &topk)) != LIM_OK) return status;
  const lim_variant_info* merge = lim_find_lessismore_union();
  if (merge == nullptr) return fail(LIM_ERROR_NO_VARIANT, fn + ": the lessismore_union kernel was not generated; run `bin/lim generate` in the toolkit and rebuild");
  const std::size_t needed = selection_workspace(batch, max_seqlen);
  if (workspace == nullptr || workspace_bytes < needed || !aligned(workspace, 16)) {
    return fail(LIM_ERROR_WORKSPACE, fn + ": needs " + std::to_string(needed) + " bytes of 16-byte aligned workspace, got " + std::to_string(workspace_bytes) +
                                         (workspace == nullptr ? " (NULL)" : "") + "; ask lim_select_lessismore_workspace_size");
  }
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  uint32_t* first_pick = static_cast<uint32_t*>(workspace);

  // No token has been picked yet: every first-occurrence key starts at 0xffffffff.
  const cudaError_t err = cudaMemsetAsync(first_pick, 0xff, static_cast<std::size_t>(batch) * max_seqlen * sizeof(uint32_t), stream);
  if (err != cudaSuccess) return cuda_fail(fn.c_str(), "cudaMemsetAsync of the first-pick keys", err);

  // Each head's top `middle` candidates of [sinks, n - recent), ranked; each pick lowers its token's key.
  lim_topk_params t{};
  t.values = tensor(logits, logits_stride_h, 1);  // rows b * Hq + h (the batch stride is checked above)
  t.lengths = tensor(seqlens, 1);
  t.firstPick = tensor(first_pick, max_seqlen, 1);
  t.R = batch * num_q_heads;
  t.L = max_seqlen;
  t.Q = batch;
  t.KO = middle;
  t.rowsPerSeq = num_q_heads;
  t.begin = sinks;
  t.tail = recent;
  t.k = middle;
  t.byPosition = 0;
  t.status = status_word;
  if ((status = launch(fn, topk, &t, stream)) != LIM_OK) return status;

  lim_lessismore_union_params u{};
  u.firstPick = tensor(first_pick, max_seqlen, 1);
  u.seqlens = tensor(seqlens, 1);
  u.indices = tensor(indices, indices_stride_b, 1);
  u.counts = tensor(counts, 1);
  u.B = batch;
  u.Nmax = max_seqlen;
  u.KI = budget;
  u.maxSeqlen = max_seqlen;
  u.budget = budget;
  u.middle = middle;
  u.sinks = sinks;
  u.recent = recent;
  u.heads = num_q_heads;
  u.status = status_word;
  if ((status = launch(fn, merge, &u, stream)) != LIM_OK) return status;
  return ok();
}

extern "C" int lim_select_per_head(const float* logits, int64_t logits_stride_b, int64_t logits_stride_h, const int32_t* seqlens, int32_t* indices,
                                   int64_t indices_stride_b, int64_t indices_stride_h, int32_t* counts, int32_t batch, int32_t num_q_heads,
                                   int32_t max_seqlen, int32_t budget, cudaStream_t stream) {
  const std::string fn = "lim_select_per_head";
  int status = check_logits(fn, logits, logits_stride_b, logits_stride_h, seqlens, batch, num_q_heads, max_seqlen);
  if (status != LIM_OK) return status;
  if (budget < 1) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": budget must be positive, got " + std::to_string(budget));
  if (indices == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": indices is NULL");
  if (indices_stride_h < budget || indices_stride_b != indices_stride_h * num_q_heads || logits_stride_b != logits_stride_h * num_q_heads) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": heads must be consecutive rows: indices_stride_b = num_q_heads * indices_stride_h (>= budget) and "
                                                 "logits_stride_b = num_q_heads * logits_stride_h");
  }
  const lim_variant_info* topk = nullptr;
  if ((status = find_topk(fn, budget, max_seqlen, &topk)) != LIM_OK) return status;
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  lim_topk_params t{};
  t.values = tensor(logits, logits_stride_h, 1);
  t.lengths = tensor(seqlens, 1);
  t.outIdx = tensor(indices, indices_stride_h, 1);
  t.outCount = tensor(counts, 1);
  t.R = batch * num_q_heads;
  t.L = max_seqlen;
  t.Q = batch;
  t.KO = budget;
  t.rowsPerSeq = num_q_heads;
  t.begin = 0;
  t.tail = 0;
  t.k = budget;
  t.byPosition = 1;
  t.status = status_word;
  if ((status = launch(fn, topk, &t, stream)) != LIM_OK) return status;
  return ok();
}

extern "C" int lim_topk(const float* values, int64_t values_stride, const int32_t* lengths, int32_t* indices, int64_t indices_stride, float* out_values,
                        int32_t rows, int32_t length, int32_t k, int32_t order, cudaStream_t stream) {
  const std::string fn = "lim_topk";
  if (values == nullptr || indices == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": values and indices must not be NULL");
  if (rows <= 0 || length <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": rows and length must be positive, got " + std::to_string(rows) + " and " + std::to_string(length));
  if (k < 1) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": k must be positive, got " + std::to_string(k));
  if (values_stride < length || indices_stride < k) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": values_stride must be >= length and indices_stride >= k");
  if (order != LIM_ORDER_RANK && order != LIM_ORDER_POSITION) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": order must be LIM_ORDER_RANK or LIM_ORDER_POSITION, got " + std::to_string(order));
  int status = ensure_device(fn.c_str());
  if (status != LIM_OK) return status;
  const lim_variant_info* topk = nullptr;
  if ((status = find_topk(fn, k, length, &topk)) != LIM_OK) return status;
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  lim_topk_params t{};
  t.values = tensor(values, values_stride, 1);
  t.lengths = tensor(lengths, 1);
  t.outIdx = tensor(indices, indices_stride, 1);
  t.outVal = tensor(out_values, indices_stride, 1);
  t.R = rows;
  t.L = length;
  t.Q = rows;
  t.KO = k;
  t.rowsPerSeq = 1;
  t.begin = 0;
  t.tail = 0;
  t.k = k;
  t.byPosition = order == LIM_ORDER_POSITION ? 1 : 0;
  t.status = status_word;
  if ((status = launch(fn, topk, &t, stream)) != LIM_OK) return status;
  return ok();
}

extern "C" int lim_attention_recall(const float* logits, int64_t logits_stride_b, int64_t logits_stride_h, int32_t logits_capacity, const float* lse,
                                    const int32_t* indices, int64_t indices_stride_b, int64_t indices_stride_s, const int32_t* counts, float* recall,
                                    int32_t batch, int32_t num_q_heads, int32_t sets, int32_t max_count, cudaStream_t stream) {
  const std::string fn = "lim_attention_recall";
  if (logits == nullptr || lse == nullptr || indices == nullptr || counts == nullptr || recall == nullptr) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits, lse, indices, counts and recall must not be NULL");
  }
  if (batch <= 0 || num_q_heads <= 0 || logits_capacity <= 0 || max_count <= 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch, num_q_heads, logits_capacity and max_count must be positive");
  }
  if (sets != 1 && sets != num_q_heads) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": sets must be 1 (shared) or num_q_heads (per head), got " + std::to_string(sets));
  if (batch > 65535) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch must be at most 65535");
  int status = ensure_device(fn.c_str());
  if (status != LIM_OK) return status;
  const lim_variant_info* v = lim_find_attention_recall();
  if (v == nullptr) return fail(LIM_ERROR_NO_VARIANT, fn + ": attention_recall was not generated; run `bin/lim generate` in the toolkit and rebuild");
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  lim_attention_recall_params p{};
  p.logits = tensor(logits, logits_stride_b, logits_stride_h, 1);
  p.lse = tensor(lse, num_q_heads, 1);
  p.indices = tensor(indices, indices_stride_b, indices_stride_s, 1);
  p.counts = tensor(counts, sets, 1);
  p.recall = tensor(recall, num_q_heads, 1);
  p.B = batch;
  p.Hq = num_q_heads;
  p.NL = logits_capacity;
  p.HI = sets;
  p.KI = max_count;
  p.status = status_word;
  if ((status = launch(fn, v, &p, stream)) != LIM_OK) return status;
  return ok();
}
