// The attention functions of the C ABI: full decode attention, sparse attention over a shared index list
// and over per-head lists, and the gather of selected rows. Their arguments arrive checked by the generated
// wrappers (generated/abi.cpp). All three attention functions share one launcher: pick the decode_attention
// variant for (head dim, heads per block, dtype), plan the split of the rows across blocks, and launch it
// once; the kernel merges the splits itself (the last block of each request and head block to finish).

#include <cuda_runtime_api.h>

#include <algorithm>

#include <string>

#include "caches.h"
#include "internal.h"

using namespace lim_capi;

namespace {

constexpr int kMinChunk = 128;  // rows: below this a split's fixed costs outweigh its parallelism
// Rows: shorter sequences and lists run unsplit. A split costs ~2.3 us at B 1 (the partials, the arrival counter,
// the merge) and saves ~0.007 us per row it moves off a block, so it pays from ~350 rows on; measured on the H200
// (bench/NOTES.md section 21): 256 list entries 9.1 us in two splits, 7.7 unsplit (B 8: 11.1, 7.8); 1024 entries
// 9.4 us in chunks of 128, 10.8 in chunks of 256.
constexpr int kMinSplitRows = 512;
// The merge loads the partials of LIM_DECODE_ATTENTION_MERGE_LOADS splits per round of L2 loads, one round after
// another in the last block. A second round costs ~1-2 us at B 1, more than halving short splits saves: splits
// stay within one round while each keeps at most this many rows. Measured on the H200 (bench/NOTES.md section
// 24): full attention over 4K tokens at B 1 0.8-2.1 us faster (D 64-256, G 4 and 8), 4096 list entries 12.6 ->
// 11.8 us; at 512 rows 8192 list entries got 0.9 us slower.
constexpr int kOneRoundRows = 256;
// The arrival counters of the in-kernel merge occupy the first bytes of every split plan's workspace, the
// same bytes whatever the plan: any attention call may reuse a workspace another plan left (its counters
// all back at 0), and no plan's partials ever land on them.
constexpr int64_t kCounters = 16384;  // (request, head block) pairs of a split launch; a GPU holds far fewer blocks at once
constexpr std::size_t kCounterBytes = kCounters * sizeof(int32_t);

/** Which rows each block attends over. */
enum class Rows { All, SharedList, ListPerHead };

/** The rows a function attends over: all of each sequence, or index lists [batch, lists, max_count]. */
struct RowSource {
  Rows kind;
  const int32_t* indices = nullptr;
  int64_t indices_stride_b = 0, indices_stride_h = 0;
  const int32_t* counts = nullptr;  // [batch, lists], contiguous
  int32_t max_count = 0;
};

/** The selection layer's optional logits output. */
struct LogitsOut {
  float* logits = nullptr;
  int64_t stride_b = 0, stride_h = 0;
};

/**
 * The launch and its workspace: with more than one split, [kCounters arrival counters | partial outputs |
 * partial log-sum-exps]. The counters must be 0 before the first call (the caller zeroes the workspace once
 * when it allocates it); every launch leaves them 0 again.
 */
struct Plan {
  const lim_variant_info* attention;
  int heads_per_block;  // G of the variant: the group size, or 1 for per-head lists
  int head_blocks;
  SplitPlan split;
  bool one_wave;  // every block resident at once: the kernel prefetches its first rows before the preceding kernel is done
  std::size_t partial_o_bytes;
  std::size_t partial_lse_bytes;
  std::size_t workspace_bytes;
};

/** Finds the variants and plans the split over `max_rows` rows per block (the arguments are checked by the wrapper). */
int make_plan(const std::string& fn, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_rows, int dtype,
              lim_cache_layout layout, int kv, Rows rows, Plan* plan) {
  const bool per_head = rows == Rows::ListPerHead;
  const int group = num_q_heads / num_kv_heads;
  plan->heads_per_block = per_head ? 1 : group;
  plan->head_blocks = num_q_heads / plan->heads_per_block;
  plan->attention = lim_find_decode_attention(head_dim, plan->heads_per_block, static_cast<lim_dtype>(dtype), layout, static_cast<lim_dtype>(kv), max_rows);
  if (plan->attention == nullptr) {
    return no_variant(fn.c_str(),
                      "head_dim=" + std::to_string(head_dim) + ", " + std::to_string(plan->heads_per_block) + " query heads per block (num_q_heads " +
                          std::to_string(num_q_heads) + " / num_kv_heads " + std::to_string(num_kv_heads) + (per_head ? ", one list per head" : "") +
                          "), dtype " + dtype_name(dtype) + ", " + layout_name(layout) + kv_words(dtype, kv) + " caches",
                      "--head-dims " + std::to_string(head_dim) + " --group-sizes " + std::to_string(plan->heads_per_block) + " --dtypes " + dtype_name(dtype) +
                          " --caches " + layout_name(layout) + kv_flag(dtype, kv));
  }
  int status = ensure_device(fn.c_str());
  if (status != LIM_OK) return status;
  int sms = 0;
  if ((status = multiprocessors(fn.c_str(), &sms)) != LIM_OK) return status;
  const int per_sm = plan->attention->blocks_per_sm();
  if (per_sm <= 0) return fail(LIM_ERROR_CUDA, fn + ": variant " + plan->attention->name + " cannot be resident on this device");
  const int64_t blocks = static_cast<int64_t>(batch) * plan->head_blocks;
  // At most MAX_SPLITS splits of one (request, head block): the bound of the partials a plan holds.
  int64_t resident = std::min<int64_t>(static_cast<int64_t>(sms) * per_sm, blocks * LIM_DECODE_ATTENTION_MAX_SPLITS);
  // Short splits stay within one round of the merge's loads (kOneRoundRows).
  const int merge_round = LIM_DECODE_ATTENTION_MERGE_LOADS;
  if ((max_rows + merge_round - 1) / merge_round <= kOneRoundRows) resident = std::min<int64_t>(resident, blocks * merge_round);
  plan->split = plan_split(blocks, max_rows, static_cast<int>(resident), kMinSplitRows, kMinChunk, LIM_DECODE_ATTENTION_CHUNK_GRANULE, rows == Rows::All ? 0 : LIM_DECODE_ATTENTION_LIST_ROWS);
  if (plan->split.splits > 1 && blocks > kCounters) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch " + std::to_string(batch) + " x " + std::to_string(plan->head_blocks) + " head blocks = " +
                                                std::to_string(blocks) + " split blocks, more than the " + std::to_string(kCounters) +
                                                " arrival counters of the workspace; use a smaller batch or lists of at most " +
                                                std::to_string(LIM_DECODE_ATTENTION_LIST_ROWS) + " entries");
  }
  if (plan->split.splits > LIM_DECODE_ATTENTION_MAX_SPLITS) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + std::to_string(max_rows) + " rows per block need " + std::to_string(plan->split.splits) +
                                                " splits, more than the " + std::to_string(LIM_DECODE_ATTENTION_MAX_SPLITS) + " the kernel merges");
  }
  plan->one_wave = blocks * plan->split.splits <= static_cast<int64_t>(sms) * per_sm;
  const std::size_t partials = static_cast<std::size_t>(batch) * num_q_heads * plan->split.splits;
  const bool split = plan->split.splits > 1;
  plan->partial_o_bytes = split ? round256(partials * head_dim * sizeof(float)) : 0;
  plan->partial_lse_bytes = split ? round256(partials * sizeof(float)) : 0;
  plan->workspace_bytes = split ? kCounterBytes + plan->partial_o_bytes + plan->partial_lse_bytes : 0;
  return LIM_OK;
}

/** Every attention function: the arguments q, caches, seqlens, out, lse, sizes, dtype, scale, workspace and stream of Args. */
template <typename Args>
int run(const Args& a, const RowSource& rows, const LogitsOut& logits) {
  const std::string fn = a.function;
  int status = LIM_OK;
  Plan plan;
  const Caches caches = caches_of(a);
  const int32_t max_rows = rows.kind == Rows::All ? a.max_seqlen : rows.max_count;
  if ((status = make_plan(fn, a.batch, a.num_q_heads, a.num_kv_heads, a.head_dim, max_rows, a.dtype, caches.layout, caches.elements.kv, rows.kind, &plan)) != LIM_OK) {
    return status;
  }
  if (a.workspace_bytes < plan.workspace_bytes || (plan.workspace_bytes > 0 && a.workspace == nullptr)) {
    return fail(LIM_ERROR_WORKSPACE, fn + ": needs " + std::to_string(plan.workspace_bytes) + " bytes of workspace, got " + std::to_string(a.workspace_bytes) +
                                         (a.workspace == nullptr ? " (NULL)" : "") + "; ask its _workspace_size function");
  }
  lim_device_status* status_word = nullptr;
  if ((status = prepare_launch(fn.c_str(), &status_word)) != LIM_OK) return status;

  const int splits = plan.split.splits;
  const int lists = rows.kind == Rows::ListPerHead ? a.num_q_heads : 1;
  char* workspace = static_cast<char*>(a.workspace);
  const bool split = plan.workspace_bytes > 0;
  int32_t* arrivals = split ? reinterpret_cast<int32_t*>(workspace) : nullptr;
  float* partial_o = split ? reinterpret_cast<float*>(workspace + kCounterBytes) : nullptr;
  float* partial_lse = split ? reinterpret_cast<float*>(workspace + kCounterBytes + plan.partial_o_bytes) : nullptr;
  lim_decode_attention_params p{};
  p.q = tensor(a.q, a.q_stride_b, a.q_stride_h, 1);
  p.k = caches.k;
  p.v = caches.v;
  p.kScale = caches.elements.k_scale;
  p.vScale = caches.elements.v_scale;
  p.KS = caches.elements.scale_heads;
  p.seqlens = tensor(a.seqlens, 1);
  p.indices = tensor(rows.indices, rows.indices_stride_b, rows.indices_stride_h, 1);
  p.counts = tensor(rows.counts, lists, 1);
  p.o = tensor(a.out, a.out_stride_b, a.out_stride_h, 1);
  p.lse = tensor(a.lse, a.num_q_heads, 1);
  p.logits = tensor(logits.logits, logits.stride_b, logits.stride_h, 1);
  p.partialO = tensor(partial_o, static_cast<int64_t>(a.num_q_heads) * splits * a.head_dim, static_cast<int64_t>(splits) * a.head_dim, a.head_dim, 1);
  p.partialLse = tensor(partial_lse, static_cast<int64_t>(a.num_q_heads) * splits, splits, 1);
  p.arrivals = tensor(arrivals, plan.head_blocks, 1);
  p.B = a.batch;
  p.Hq = a.num_q_heads;
  p.Hkv = a.num_kv_heads;
  p.HB = plan.head_blocks;
  p.Nmax = caches.capacity;
  p.HI = lists;
  p.KI = rows.kind == Rows::All ? 1 : rows.max_count;
  p.NL = a.max_seqlen;
  p.splits = splits;
  p.scale = a.softmax_scale;
  p.maxSeqlen = a.max_seqlen;
  p.groupSize = a.num_q_heads / a.num_kv_heads;
  p.chunk = plan.split.chunk;
  p.prefetch = plan.one_wave ? 1 : 0;
  p.status = status_word;
  return finish(launch(a.function, plan.attention, &p, a.stream));
}

int workspace_size(const std::string& fn, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_rows, int dtype,
                   lim_cache_layout layout, int kv, Rows rows, size_t* bytes) {
  Plan plan;
  const int status = make_plan(fn, batch, num_q_heads, num_kv_heads, head_dim, max_rows, dtype, layout, kv, rows, &plan);
  if (status != LIM_OK) return status;
  *bytes = plan.workspace_bytes;
  return ok();
}

}  // namespace

/**
 * The workspace queries of the attention functions for each layout and cache dtype (their variants may
 * differ in occupancy): the lim_fp8_* queries name their caches' FP8 format, the others read caches in the dtype.
 */
template <typename Args>
int full_workspace(const Args& a, lim_cache_layout layout) {
  return workspace_size(a.function, a.batch, a.num_q_heads, a.num_kv_heads, a.head_dim, a.max_seqlen, a.dtype, layout, kv_dtype_of(a), Rows::All, a.bytes);
}
template <typename Args>
int sparse_workspace(const Args& a, lim_cache_layout layout) {
  return workspace_size(a.function, a.batch, a.num_q_heads, a.num_kv_heads, a.head_dim, a.max_count, a.dtype, layout, kv_dtype_of(a),
                        a.per_head != 0 ? Rows::ListPerHead : Rows::SharedList, a.bytes);
}

int lim_decode_attention_workspace_size_impl(const lim_decode_attention_workspace_size_args& a) { return full_workspace(a, LIM_CACHE_CONTIGUOUS); }
int lim_paged_decode_attention_workspace_size_impl(const lim_paged_decode_attention_workspace_size_args& a) { return full_workspace(a, LIM_CACHE_PAGED); }
int lim_sparse_attention_workspace_size_impl(const lim_sparse_attention_workspace_size_args& a) { return sparse_workspace(a, LIM_CACHE_CONTIGUOUS); }
int lim_paged_sparse_attention_workspace_size_impl(const lim_paged_sparse_attention_workspace_size_args& a) { return sparse_workspace(a, LIM_CACHE_PAGED); }
int lim_fp8_decode_attention_workspace_size_impl(const lim_fp8_decode_attention_workspace_size_args& a) { return full_workspace(a, LIM_CACHE_CONTIGUOUS); }
int lim_fp8_paged_decode_attention_workspace_size_impl(const lim_fp8_paged_decode_attention_workspace_size_args& a) { return full_workspace(a, LIM_CACHE_PAGED); }
int lim_fp8_sparse_attention_workspace_size_impl(const lim_fp8_sparse_attention_workspace_size_args& a) { return sparse_workspace(a, LIM_CACHE_CONTIGUOUS); }
int lim_fp8_paged_sparse_attention_workspace_size_impl(const lim_fp8_paged_sparse_attention_workspace_size_args& a) { return sparse_workspace(a, LIM_CACHE_PAGED); }

/** Full attention with the optional selection logits, over either layout. */
template <typename Args>
int full_attention(const Args& a) {
  return run(a, RowSource{Rows::All}, LogitsOut{a.logits, a.logits_stride_b, a.logits_stride_h});
}
/** Sparse attention over one list per request, over either layout. */
template <typename Args>
int shared_list_attention(const Args& a) {
  return run(a, RowSource{Rows::SharedList, a.indices, a.indices_stride_b, 0, a.counts, a.max_count}, LogitsOut{});
}
/** Sparse attention over one list per query head, over either layout. */
template <typename Args>
int per_head_list_attention(const Args& a) {
  return run(a, RowSource{Rows::ListPerHead, a.indices, a.indices_stride_b, a.indices_stride_h, a.counts, a.max_count}, LogitsOut{});
}

int lim_decode_attention_impl(const lim_decode_attention_args& a) { return full_attention(a); }
int lim_paged_decode_attention_impl(const lim_paged_decode_attention_args& a) { return full_attention(a); }
int lim_sparse_attention_impl(const lim_sparse_attention_args& a) { return shared_list_attention(a); }
int lim_paged_sparse_attention_impl(const lim_paged_sparse_attention_args& a) { return shared_list_attention(a); }
int lim_sparse_attention_per_head_impl(const lim_sparse_attention_per_head_args& a) { return per_head_list_attention(a); }
int lim_paged_sparse_attention_per_head_impl(const lim_paged_sparse_attention_per_head_args& a) { return per_head_list_attention(a); }
int lim_fp8_decode_attention_impl(const lim_fp8_decode_attention_args& a) { return full_attention(a); }
int lim_fp8_paged_decode_attention_impl(const lim_fp8_paged_decode_attention_args& a) { return full_attention(a); }
int lim_fp8_sparse_attention_impl(const lim_fp8_sparse_attention_args& a) { return shared_list_attention(a); }
int lim_fp8_paged_sparse_attention_impl(const lim_fp8_paged_sparse_attention_args& a) { return shared_list_attention(a); }
int lim_fp8_sparse_attention_per_head_impl(const lim_fp8_sparse_attention_per_head_args& a) { return per_head_list_attention(a); }
int lim_fp8_paged_sparse_attention_per_head_impl(const lim_fp8_paged_sparse_attention_per_head_args& a) { return per_head_list_attention(a); }

/** The gather of selected rows into compact buffers, from either layout; from FP8 caches, dequantised. */
template <typename Args>
int gather(const Args& a) {
  const Caches caches = caches_of(a);
  const lim_variant_info* v = lim_find_gather_kv(a.head_dim, a.dtype, caches.layout, static_cast<lim_dtype>(caches.elements.kv));
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, cache_shape(a.head_dim, a.dtype, caches), cache_flags(a.head_dim, a.dtype, caches), &status_word);
  if (status != LIM_OK) return status;
  lim_gather_kv_params p{};
  p.k = caches.k;
  p.v = caches.v;
  p.kScale = caches.elements.k_scale;
  p.vScale = caches.elements.v_scale;
  p.KS = caches.elements.scale_heads;
  p.seqlens = tensor(a.seqlens, 1);
  p.indices = tensor(a.indices, a.indices_stride_b, 1);
  p.counts = tensor(a.counts, 1);
  p.outK = tensor(a.out_k, a.out_stride_b, a.out_stride_h, a.out_stride_n, 1);
  p.outV = tensor(a.out_v, a.out_stride_b, a.out_stride_h, a.out_stride_n, 1);
  p.B = a.batch;
  p.Hkv = a.num_kv_heads;
  p.Nmax = caches.capacity;
  p.KI = a.max_count;
  p.KO = a.max_count;
  p.maxSeqlen = a.max_seqlen;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}

int lim_gather_kv_impl(const lim_gather_kv_args& a) { return gather(a); }
int lim_paged_gather_kv_impl(const lim_paged_gather_kv_args& a) { return gather(a); }
int lim_fp8_gather_kv_impl(const lim_fp8_gather_kv_args& a) { return gather(a); }
int lim_fp8_paged_gather_kv_impl(const lim_fp8_paged_gather_kv_args& a) { return gather(a); }
