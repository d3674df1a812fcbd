// The attention functions of the C ABI: full decode attention, sparse attention over a shared index list
// and over per-head lists, and the gather of selected rows. All three attention functions share one
// launcher: check the arguments, pick the decode_attention variant for (head dim, heads per block, dtype),
// plan the split of the rows across blocks, launch, and merge the splits with merge_states.

#include <cuda_runtime_api.h>

#include <cmath>
#include <string>

#include "internal.h"

using namespace lim_capi;

namespace {

constexpr int kMinChunk = 128;  // rows: below this a split's fixed costs outweigh its parallelism
constexpr int kGranule = 16;    // chunks are multiples of this many rows: fine enough to keep the planned split count
// Index lists: decode_attention keeps this many entries of a block's list in shared memory (LIST_ROWS in
// dsl/kernels/decode_attention.ts); longer chunks read the rest from global memory, waiting on each index.
constexpr int kListChunk = 1024;

/** Which rows each block attends over. */
enum class Rows { All, SharedList, ListPerHead };

struct Attention {
  const void* q;
  int64_t q_stride_b, q_stride_h;
  const void* k;
  int64_t k_stride_b, k_stride_h, k_stride_n;
  const void* v;
  int64_t v_stride_b, v_stride_h, v_stride_n;
  const int32_t* seqlens;
  Rows rows;
  const int32_t* indices;  // lists: [batch, lists, max_count]
  int64_t indices_stride_b, indices_stride_h;
  const int32_t* counts;  // [batch, lists], contiguous
  int32_t max_count;
  void* out;
  int64_t out_stride_b, out_stride_h;
  float* lse;
  float* logits;
  int64_t logits_stride_b, logits_stride_h;
  int32_t batch, num_q_heads, num_kv_heads, head_dim, cache_capacity, max_seqlen;
  int dtype;
  float scale;
  void* workspace;
  size_t workspace_bytes;
};

struct Plan {
  const lim_variant_info* attention;
  const lim_variant_info* merge;
  int heads_per_block;  // G of the variant: the group size, or 1 for per-head lists
  SplitPlan split;
  std::size_t partial_o_bytes;
  std::size_t workspace_bytes;
};

std::string generate_hint(int head_dim, int group, int dtype) {
  return "; run `bin/lim generate --head-dims " + std::to_string(head_dim) + " --group-sizes " + std::to_string(group) + " --dtypes " +
         dtype_name(dtype) + "` in the toolkit (add your other shapes to each list: generation replaces generated/) and rebuild the library";
}

/** Checks the sizes, finds the variants and plans the split over `max_rows` rows per block. */
int make_plan(const std::string& fn, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_rows, int dtype,
              Rows rows, Plan* plan) {
  const bool per_head = rows == Rows::ListPerHead;
  if (batch <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch must be positive, got " + std::to_string(batch));
  if (num_q_heads <= 0 || num_kv_heads <= 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": num_q_heads and num_kv_heads must be positive, got " + std::to_string(num_q_heads) + " and " +
                                                std::to_string(num_kv_heads));
  }
  if (num_q_heads % num_kv_heads != 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": num_q_heads (" + std::to_string(num_q_heads) + ") must be a multiple of num_kv_heads (" +
                                                std::to_string(num_kv_heads) + ")");
  }
  if (head_dim <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": head_dim must be positive, got " + std::to_string(head_dim));
  if (max_rows <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": max_seqlen and max_count must be positive, got " + std::to_string(max_rows));
  if (dtype != LIM_DTYPE_BF16 && dtype != LIM_DTYPE_FP16) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": dtype must be LIM_DTYPE_BF16 or LIM_DTYPE_FP16, got " + std::to_string(dtype));
  }
  const int group = num_q_heads / num_kv_heads;
  plan->heads_per_block = per_head ? 1 : group;
  const int head_blocks = num_q_heads / plan->heads_per_block;
  if (batch > 65535 || head_blocks > 65535) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch and heads must be at most 65535 (grid limits)");
  plan->attention = lim_find_decode_attention(head_dim, plan->heads_per_block, static_cast<lim_dtype>(dtype), max_rows);
  plan->merge = lim_find_merge_states(head_dim, static_cast<lim_dtype>(dtype));
  if (plan->attention == nullptr || plan->merge == nullptr) {
    return fail(LIM_ERROR_NO_VARIANT, fn + ": no generated variant for head_dim=" + std::to_string(head_dim) + ", " + std::to_string(plan->heads_per_block) +
                                          " query heads per block (num_q_heads " + std::to_string(num_q_heads) + " / num_kv_heads " +
                                          std::to_string(num_kv_heads) + (per_head ? ", one list per head" : "") + "), dtype " + dtype_name(dtype) +
                                          generate_hint(head_dim, plan->heads_per_block, dtype));
  }
  int status = ensure_device(fn.c_str());
  if (status != LIM_OK) return status;
  int sms = 0;
  if ((status = multiprocessors(fn.c_str(), &sms)) != LIM_OK) return status;
  const int per_sm = plan->attention->blocks_per_sm();
  if (per_sm <= 0) return fail(LIM_ERROR_CUDA, fn + ": variant " + plan->attention->name + " cannot be resident on this device");
  plan->split = plan_split(static_cast<int64_t>(batch) * head_blocks, max_rows, sms * per_sm, kMinChunk, kGranule, rows == Rows::All ? 0 : kListChunk);
  const std::size_t partials = static_cast<std::size_t>(batch) * num_q_heads * plan->split.splits;
  plan->partial_o_bytes = plan->split.splits > 1 ? round256(partials * head_dim * sizeof(float)) : 0;
  plan->workspace_bytes = plan->split.splits > 1 ? plan->partial_o_bytes + round256(partials * sizeof(float)) : 0;
  return LIM_OK;
}

int check_pointers_and_strides(const std::string& fn, const Attention& a) {
  struct Pointer {
    const char* name;
    const void* p;
    std::size_t align;
  };
  for (const Pointer& p : {Pointer{"q", a.q, 16}, Pointer{"k_cache", a.k, 16}, Pointer{"v_cache", a.v, 16}, Pointer{"seqlens", a.seqlens, 4},
                           Pointer{"out", a.out, 16}}) {
    if (p.p == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + p.name + " is NULL");
    if (!aligned(p.p, p.align)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + p.name + " must be " + std::to_string(p.align) + "-byte aligned");
  }
  if (a.rows != Rows::All) {
    if (a.indices == nullptr || a.counts == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": indices and counts must not be NULL");
    if (!aligned(a.indices, 4) || !aligned(a.counts, 4)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": indices and counts must be 4-byte aligned");
    if (a.max_count <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": max_count must be positive, got " + std::to_string(a.max_count));
    const int64_t per_list = a.rows == Rows::ListPerHead ? a.indices_stride_h : a.indices_stride_b;
    if (per_list < a.max_count || (a.rows == Rows::ListPerHead && a.indices_stride_b < a.indices_stride_h * a.num_q_heads)) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": index strides must hold max_count (" + std::to_string(a.max_count) + ") entries per list without overlap");
    }
  }
  if (a.lse != nullptr && !aligned(a.lse, 4)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": lse must be 4-byte aligned");
  if (a.logits != nullptr) {
    if (!aligned(a.logits, 4)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits must be 4-byte aligned");
    if (a.logits_stride_h < a.max_seqlen || a.logits_stride_b < a.logits_stride_h * a.num_q_heads) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": logits strides (" + std::to_string(a.logits_stride_b) + ", " + std::to_string(a.logits_stride_h) +
                                                  ") must hold max_seqlen (" + std::to_string(a.max_seqlen) + ") positions per head without overlap");
    }
  }
  if (a.cache_capacity <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": cache_capacity must be positive, got " + std::to_string(a.cache_capacity));
  if (a.max_seqlen <= 0 || a.max_seqlen > a.cache_capacity) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": max_seqlen (" + std::to_string(a.max_seqlen) + ") must be in [1, cache_capacity (" +
                                                std::to_string(a.cache_capacity) + ")]");
  }
  if (!std::isfinite(a.scale) || a.scale == 0.0f) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": softmax_scale must be finite and non-zero, got " + std::to_string(a.scale));
  }
  // Rows are read 16 bytes at a time, so every row must start on a 16-byte boundary (8 elements of 2 bytes).
  struct Stride {
    const char* name;
    int64_t value;
  };
  for (const Stride& s : {Stride{"q_stride_b", a.q_stride_b}, Stride{"q_stride_h", a.q_stride_h}, Stride{"k_stride_b", a.k_stride_b},
                          Stride{"k_stride_h", a.k_stride_h}, Stride{"k_stride_n", a.k_stride_n}, Stride{"v_stride_b", a.v_stride_b},
                          Stride{"v_stride_h", a.v_stride_h}, Stride{"v_stride_n", a.v_stride_n}, Stride{"out_stride_b", a.out_stride_b},
                          Stride{"out_stride_h", a.out_stride_h}}) {
    if (s.value < 0 || s.value % 8 != 0) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + s.name + " = " + std::to_string(s.value) + " must be a non-negative multiple of 8 elements");
    }
  }
  if (a.k_stride_n < a.head_dim || a.v_stride_n < a.head_dim) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": k_stride_n and v_stride_n must be at least head_dim (" + std::to_string(a.head_dim) + ")");
  }
  return LIM_OK;
}

int run(const std::string& fn, const Attention& a, cudaStream_t stream) {
  int status = check_pointers_and_strides(fn, a);
  if (status != LIM_OK) return status;
  Plan plan;
  const int32_t max_rows = a.rows == Rows::All ? a.max_seqlen : a.max_count;
  if ((status = make_plan(fn, a.batch, a.num_q_heads, a.num_kv_heads, a.head_dim, max_rows, a.dtype, a.rows, &plan)) != LIM_OK) {
    return status;
  }
  if (a.workspace_bytes < plan.workspace_bytes || (plan.workspace_bytes > 0 && a.workspace == nullptr)) {
    return fail(LIM_ERROR_WORKSPACE, fn + ": needs " + std::to_string(plan.workspace_bytes) + " bytes of workspace, got " + std::to_string(a.workspace_bytes) +
                                         (a.workspace == nullptr ? " (NULL)" : "") + "; ask its _workspace_size function");
  }
  if (plan.workspace_bytes > 0 && !aligned(a.workspace, 16)) return fail(LIM_ERROR_WORKSPACE, fn + ": workspace must be 16-byte aligned");
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;

  const int splits = plan.split.splits;
  const int lists = a.rows == Rows::ListPerHead ? a.num_q_heads : 1;
  float* partial_o = static_cast<float*>(a.workspace);
  float* partial_lse = plan.workspace_bytes > 0 ? reinterpret_cast<float*>(static_cast<char*>(a.workspace) + plan.partial_o_bytes) : nullptr;
  lim_decode_attention_params p{};
  p.q = tensor(a.q, a.q_stride_b, a.q_stride_h, 1);
  p.k = tensor(a.k, a.k_stride_b, a.k_stride_h, a.k_stride_n, 1);
  p.v = tensor(a.v, a.v_stride_b, a.v_stride_h, a.v_stride_n, 1);
  p.seqlens = tensor(a.seqlens, 1);
  p.indices = tensor(a.rows == Rows::All ? nullptr : a.indices, a.indices_stride_b, a.indices_stride_h, 1);
  p.counts = tensor(a.rows == Rows::All ? nullptr : a.counts, lists, 1);
  p.o = tensor(a.out, a.out_stride_b, a.out_stride_h, 1);
  p.lse = tensor(a.lse, a.num_q_heads, 1);
  p.logits = tensor(a.logits, a.logits_stride_b, a.logits_stride_h, 1);
  p.partialO = tensor(partial_o, static_cast<int64_t>(a.num_q_heads) * splits * a.head_dim, static_cast<int64_t>(splits) * a.head_dim, a.head_dim, 1);
  p.partialLse = tensor(partial_lse, static_cast<int64_t>(a.num_q_heads) * splits, splits, 1);
  p.B = a.batch;
  p.Hq = a.num_q_heads;
  p.Hkv = a.num_kv_heads;
  p.Nmax = a.cache_capacity;
  p.HI = lists;
  p.KI = a.rows == Rows::All ? 1 : a.max_count;
  p.NL = a.max_seqlen;
  p.splits = splits;
  p.scale = a.scale;
  p.maxSeqlen = a.max_seqlen;
  p.groupSize = a.num_q_heads / a.num_kv_heads;
  p.HB = a.num_q_heads / plan.heads_per_block;
  p.chunk = plan.split.chunk;
  p.status = status_word;
  int err = plan.attention->launch(&p, stream);
  if (err != 0) return cuda_fail(fn.c_str(), (std::string("launching ") + plan.attention->name).c_str(), err);
  if (splits > 1) {
    lim_merge_states_params m{};
    m.partialO = p.partialO;
    m.partialLse = p.partialLse;
    m.o = p.o;
    m.lse = p.lse;
    m.B = a.batch;
    m.Hq = a.num_q_heads;
    m.splits = splits;
    m.status = status_word;
    err = plan.merge->launch(&m, stream);
    if (err != 0) return cuda_fail(fn.c_str(), (std::string("launching ") + plan.merge->name).c_str(), err);
  }
  return ok();
}

int workspace_size(const std::string& fn, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_rows, int dtype,
                   Rows rows, size_t* bytes) {
  if (bytes == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": bytes is NULL");
  Plan plan;
  const int status = make_plan(fn, batch, num_q_heads, num_kv_heads, head_dim, max_rows, dtype, rows, &plan);
  if (status != LIM_OK) return status;
  *bytes = plan.workspace_bytes;
  return ok();
}

}  // namespace

extern "C" int lim_decode_attention_workspace_size(int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_seqlen,
                                                   lim_dtype dtype, size_t* bytes) {
  return workspace_size("lim_decode_attention_workspace_size", batch, num_q_heads, num_kv_heads, head_dim, max_seqlen, dtype, Rows::All, bytes);
}

extern "C" int lim_sparse_attention_workspace_size(int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_count,
                                                   lim_dtype dtype, int32_t per_head, size_t* bytes) {
  return workspace_size("lim_sparse_attention_workspace_size", batch, num_q_heads, num_kv_heads, head_dim, max_count, dtype,
                        per_head != 0 ? Rows::ListPerHead : Rows::SharedList, bytes);
}

extern "C" int lim_decode_attention(const void* q, int64_t q_stride_b, int64_t q_stride_h, const void* k_cache, int64_t k_stride_b,
                                    int64_t k_stride_h, int64_t k_stride_n, const void* v_cache, int64_t v_stride_b, int64_t v_stride_h,
                                    int64_t v_stride_n, const int32_t* seqlens, void* out, int64_t out_stride_b, int64_t out_stride_h,
                                    float* lse, float* logits, int64_t logits_stride_b, int64_t logits_stride_h, int32_t batch,
                                    int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t cache_capacity, int32_t max_seqlen,
                                    lim_dtype dtype, float softmax_scale, void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const Attention a{q, q_stride_b, q_stride_h, k_cache, k_stride_b, k_stride_h, k_stride_n, v_cache, v_stride_b, v_stride_h, v_stride_n,
                    seqlens, Rows::All, nullptr, 0, 0, nullptr, 0, out, out_stride_b, out_stride_h, lse, logits, logits_stride_b,
                    logits_stride_h, batch, num_q_heads, num_kv_heads, head_dim, cache_capacity, max_seqlen, dtype, softmax_scale, workspace,
                    workspace_bytes};
  return run("lim_decode_attention", a, stream);
}

extern "C" int lim_sparse_attention(const void* q, int64_t q_stride_b, int64_t q_stride_h, const void* k_cache, int64_t k_stride_b,
                                    int64_t k_stride_h, int64_t k_stride_n, const void* v_cache, int64_t v_stride_b, int64_t v_stride_h,
                                    int64_t v_stride_n, const int32_t* seqlens, const int32_t* indices, int64_t indices_stride_b,
                                    const int32_t* counts, void* out, int64_t out_stride_b, int64_t out_stride_h, float* lse, int32_t batch,
                                    int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t cache_capacity, int32_t max_seqlen,
                                    int32_t max_count, lim_dtype dtype, float softmax_scale, void* workspace, size_t workspace_bytes,
                                    cudaStream_t stream) {
  const Attention a{q, q_stride_b, q_stride_h, k_cache, k_stride_b, k_stride_h, k_stride_n, v_cache, v_stride_b, v_stride_h, v_stride_n,
                    seqlens, Rows::SharedList, indices, indices_stride_b, 0, counts, max_count, out, out_stride_b, out_stride_h, lse, nullptr,
                    0, 0, batch, num_q_heads, num_kv_heads, head_dim, cache_capacity, max_seqlen, dtype, softmax_scale, workspace, workspace_bytes};
  return run("lim_sparse_attention", a, stream);
}

extern "C" int lim_sparse_attention_per_head(const void* q, int64_t q_stride_b, int64_t q_stride_h, const void* k_cache, int64_t k_stride_b,
                                             int64_t k_stride_h, int64_t k_stride_n, const void* v_cache, int64_t v_stride_b, int64_t v_stride_h,
                                             int64_t v_stride_n, const int32_t* seqlens, const int32_t* indices, int64_t indices_stride_b,
                                             int64_t indices_stride_h, const int32_t* counts, void* out, int64_t out_stride_b,
                                             int64_t out_stride_h, float* lse, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads,
                                             int32_t head_dim, int32_t cache_capacity, int32_t max_seqlen, int32_t max_count, lim_dtype dtype,
                                             float softmax_scale, void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  const Attention a{q, q_stride_b, q_stride_h, k_cache, k_stride_b, k_stride_h, k_stride_n, v_cache, v_stride_b, v_stride_h, v_stride_n,
                    seqlens, Rows::ListPerHead, indices, indices_stride_b, indices_stride_h, counts, max_count, out, out_stride_b,
                    out_stride_h, lse, nullptr, 0, 0, batch, num_q_heads, num_kv_heads, head_dim, cache_capacity, max_seqlen, dtype,
                    softmax_scale, workspace, workspace_bytes};
  return run("lim_sparse_attention_per_head", a, stream);
}

extern "C" int lim_gather_kv(const void* k_cache, int64_t k_stride_b, int64_t k_stride_h, int64_t k_stride_n, const void* v_cache,
                             int64_t v_stride_b, int64_t v_stride_h, int64_t v_stride_n, const int32_t* seqlens, const int32_t* indices,
                             int64_t indices_stride_b, const int32_t* counts, void* out_k, void* out_v, int64_t out_stride_b,
                             int64_t out_stride_h, int64_t out_stride_n, int32_t batch, int32_t num_kv_heads, int32_t head_dim,
                             int32_t cache_capacity, int32_t max_seqlen, int32_t max_count, lim_dtype dtype, cudaStream_t stream) {
  const std::string fn = "lim_gather_kv";
  for (const void* p : {k_cache, v_cache, static_cast<const void*>(seqlens), static_cast<const void*>(indices), static_cast<const void*>(counts),
                        static_cast<const void*>(out_k), static_cast<const void*>(out_v)}) {
    if (p == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": k_cache, v_cache, seqlens, indices, counts, out_k and out_v must not be NULL");
  }
  if (!aligned(k_cache, 16) || !aligned(v_cache, 16) || !aligned(out_k, 16) || !aligned(out_v, 16)) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": the caches and outputs must be 16-byte aligned");
  }
  if (batch <= 0 || batch > 65535 || num_kv_heads <= 0 || num_kv_heads > 65535 || head_dim <= 0 || cache_capacity <= 0 || max_count <= 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch and num_kv_heads must be in [1, 65535]; head_dim, cache_capacity and max_count positive");
  }
  if (max_seqlen <= 0 || max_seqlen > cache_capacity) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": max_seqlen must be in [1, cache_capacity]");
  for (int64_t s : {k_stride_b, k_stride_h, k_stride_n, v_stride_b, v_stride_h, v_stride_n, out_stride_b, out_stride_h, out_stride_n}) {
    if (s < 0 || s % 8 != 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": strides must be non-negative multiples of 8 elements");
  }
  if (indices_stride_b < max_count) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": indices_stride_b must be at least max_count");
  if (dtype != LIM_DTYPE_BF16 && dtype != LIM_DTYPE_FP16) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": dtype must be LIM_DTYPE_BF16 or LIM_DTYPE_FP16");
  int status = ensure_device(fn.c_str());
  if (status != LIM_OK) return status;
  const lim_variant_info* v = lim_find_gather_kv(head_dim, dtype);
  if (v == nullptr) {
    return fail(LIM_ERROR_NO_VARIANT, fn + ": no generated variant for head_dim=" + std::to_string(head_dim) + ", dtype " + dtype_name(dtype) +
                                          "; run `bin/lim generate --head-dims " + std::to_string(head_dim) + "` in the toolkit and rebuild");
  }
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  const int rows_per_block = v->threads / (head_dim / 8);
  lim_gather_kv_params p{};
  p.k = tensor(k_cache, k_stride_b, k_stride_h, k_stride_n, 1);
  p.v = tensor(v_cache, v_stride_b, v_stride_h, v_stride_n, 1);
  p.seqlens = tensor(seqlens, 1);
  p.indices = tensor(indices, indices_stride_b, 1);
  p.counts = tensor(counts, 1);
  p.outK = tensor(out_k, out_stride_b, out_stride_h, out_stride_n, 1);
  p.outV = tensor(out_v, out_stride_b, out_stride_h, out_stride_n, 1);
  p.B = batch;
  p.Hkv = num_kv_heads;
  p.Nmax = cache_capacity;
  p.KI = max_count;
  p.KO = max_count;
  p.maxSeqlen = max_seqlen;
  p.RB = (max_count + rows_per_block - 1) / rows_per_block;
  p.status = status_word;
  const int err = v->launch(&p, stream);
  if (err != 0) return cuda_fail(fn.c_str(), (std::string("launching ") + v->name).c_str(), err);
  return ok();
}
