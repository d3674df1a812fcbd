// lim_decode_attention: checks the arguments, picks the generated variants for (head dim, group size,
// dtype), plans the split of the sequence across blocks, and launches decode_attention (+ merge_states).

#include <cuda_runtime_api.h>

#include <cmath>
#include <string>

#include "internal.h"

using namespace lim_capi;

namespace {

const char* const kFn = "lim_decode_attention";
constexpr int kMinChunk = 128;  // tokens: below this a split's fixed costs outweigh its parallelism
constexpr int kGranule = 16;    // chunks are multiples of this many tokens: fine enough to keep the planned split count

struct Plan {
  const lim_variant_info* attention;
  const lim_variant_info* merge;
  SplitPlan split;
  std::size_t partial_o_bytes;
  std::size_t workspace_bytes;
};

std::string generate_hint(int head_dim, int group, int dtype) {
  return "; run `bin/lim generate --head-dims " + std::to_string(head_dim) + " --group-sizes " + std::to_string(group) + " --dtypes " +
         dtype_name(dtype) + "` in the toolkit (add your other shapes to each list: generation replaces generated/) and rebuild the library";
}

int make_plan(const char* fn, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_seqlen, int dtype,
              Plan* plan) {
  if (batch <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": batch must be positive, got " + std::to_string(batch));
  if (num_q_heads <= 0 || num_kv_heads <= 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": num_q_heads and num_kv_heads must be positive, got " + std::to_string(num_q_heads) +
                                                " and " + std::to_string(num_kv_heads));
  }
  if (num_q_heads % num_kv_heads != 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": num_q_heads (" + std::to_string(num_q_heads) + ") must be a multiple of num_kv_heads (" +
                                                std::to_string(num_kv_heads) + ")");
  }
  if (head_dim <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": head_dim must be positive, got " + std::to_string(head_dim));
  if (max_seqlen <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": max_seqlen must be positive, got " + std::to_string(max_seqlen));
  if (dtype != LIM_DTYPE_BF16 && dtype != LIM_DTYPE_FP16) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": dtype must be LIM_DTYPE_BF16 or LIM_DTYPE_FP16, got " + std::to_string(dtype));
  }
  if (batch > 65535 || num_kv_heads > 65535) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": batch and num_kv_heads must be at most 65535 (grid limits)");
  }
  const int group = num_q_heads / num_kv_heads;
  plan->attention = lim_find_decode_attention(head_dim, group, static_cast<lim_dtype>(dtype));
  plan->merge = lim_find_merge_states(head_dim, static_cast<lim_dtype>(dtype));
  if (plan->attention == nullptr || plan->merge == nullptr) {
    return fail(LIM_ERROR_NO_VARIANT, std::string(fn) + ": no generated variant for head_dim=" + std::to_string(head_dim) + ", group size " +
                                          std::to_string(group) + " (num_q_heads " + std::to_string(num_q_heads) + " / num_kv_heads " +
                                          std::to_string(num_kv_heads) + "), dtype " + dtype_name(dtype) + generate_hint(head_dim, group, dtype));
  }
  int status = ensure_device(fn);
  if (status != LIM_OK) return status;
  int sms = 0;
  if ((status = multiprocessors(fn, &sms)) != LIM_OK) return status;
  const int per_sm = plan->attention->blocks_per_sm();
  if (per_sm <= 0) return fail(LIM_ERROR_CUDA, std::string(fn) + ": variant " + plan->attention->name + " cannot be resident on this device");
  plan->split = plan_split(static_cast<int64_t>(batch) * num_kv_heads, max_seqlen, sms * per_sm, kMinChunk, kGranule);
  const std::size_t rows = static_cast<std::size_t>(batch) * num_q_heads * plan->split.splits;
  plan->partial_o_bytes = plan->split.splits > 1 ? round256(rows * head_dim * sizeof(float)) : 0;
  plan->workspace_bytes = plan->split.splits > 1 ? plan->partial_o_bytes + round256(rows * sizeof(float)) : 0;
  return LIM_OK;
}

}  // namespace

extern "C" int lim_decode_attention_workspace_size(int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim, int32_t max_seqlen,
                                                   lim_dtype dtype, size_t* bytes) {
  const char* fn = "lim_decode_attention_workspace_size";
  if (bytes == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(fn) + ": bytes is NULL");
  Plan plan;
  const int status = make_plan(fn, batch, num_q_heads, num_kv_heads, head_dim, max_seqlen, dtype, &plan);
  if (status != LIM_OK) return status;
  *bytes = plan.workspace_bytes;
  return ok();
}

extern "C" int lim_decode_attention(const void* q, int64_t q_stride_b, int64_t q_stride_h, const void* k_cache, int64_t k_stride_b,
                                    int64_t k_stride_h, int64_t k_stride_n, const void* v_cache, int64_t v_stride_b, int64_t v_stride_h,
                                    int64_t v_stride_n, const int32_t* seqlens, void* out, int64_t out_stride_b, int64_t out_stride_h,
                                    float* lse, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads, int32_t head_dim,
                                    int32_t cache_capacity, int32_t max_seqlen, lim_dtype dtype, float softmax_scale, void* workspace,
                                    size_t workspace_bytes, cudaStream_t stream) {
  const std::string fn = kFn;
  struct Pointer {
    const char* name;
    const void* p;
  };
  for (const Pointer& a : {Pointer{"q", q}, Pointer{"k_cache", k_cache}, Pointer{"v_cache", v_cache}, Pointer{"seqlens", seqlens}, Pointer{"out", out}}) {
    if (a.p == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + a.name + " is NULL");
    if (!aligned(a.p, a.name == std::string("seqlens") ? 4 : 16)) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + a.name + " must be " + (a.name == std::string("seqlens") ? "4" : "16") + "-byte aligned");
    }
  }
  if (lse != nullptr && !aligned(lse, 4)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": lse must be 4-byte aligned");
  if (cache_capacity <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": cache_capacity must be positive, got " + std::to_string(cache_capacity));
  if (max_seqlen > cache_capacity) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": max_seqlen (" + std::to_string(max_seqlen) + ") exceeds cache_capacity (" + std::to_string(cache_capacity) + ")");
  }
  if (!std::isfinite(softmax_scale) || softmax_scale == 0.0f) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": softmax_scale must be finite and non-zero, got " + std::to_string(softmax_scale));
  }
  // Rows are read 16 bytes at a time, so every row must start on a 16-byte boundary (8 elements of 2 bytes).
  struct Stride {
    const char* name;
    int64_t value;
  };
  for (const Stride& s : {Stride{"q_stride_b", q_stride_b}, Stride{"q_stride_h", q_stride_h}, Stride{"k_stride_b", k_stride_b},
                          Stride{"k_stride_h", k_stride_h}, Stride{"k_stride_n", k_stride_n}, Stride{"v_stride_b", v_stride_b},
                          Stride{"v_stride_h", v_stride_h}, Stride{"v_stride_n", v_stride_n}, Stride{"out_stride_b", out_stride_b},
                          Stride{"out_stride_h", out_stride_h}}) {
    if (s.value < 0 || s.value % 8 != 0) {
      return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": " + s.name + " = " + std::to_string(s.value) + " must be a non-negative multiple of 8 elements");
    }
  }
  if (k_stride_n < head_dim || v_stride_n < head_dim) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": k_stride_n and v_stride_n must be at least head_dim (" + std::to_string(head_dim) + ")");
  }
  Plan plan;
  int status = make_plan(kFn, batch, num_q_heads, num_kv_heads, head_dim, max_seqlen, dtype, &plan);
  if (status != LIM_OK) return status;
  if (workspace_bytes < plan.workspace_bytes || (plan.workspace_bytes > 0 && workspace == nullptr)) {
    return fail(LIM_ERROR_WORKSPACE, fn + ": needs " + std::to_string(plan.workspace_bytes) + " bytes of workspace, got " + std::to_string(workspace_bytes) +
                                         (workspace == nullptr ? " (NULL)" : "") + "; ask lim_decode_attention_workspace_size");
  }
  if (plan.workspace_bytes > 0 && !aligned(workspace, 16)) return fail(LIM_ERROR_WORKSPACE, fn + ": workspace must be 16-byte aligned");
  lim_device_status* device_status_word = nullptr;
  if ((status = device_status(kFn, &device_status_word)) != LIM_OK) return status;

  const int splits = plan.split.splits;
  float* partial_o = static_cast<float*>(workspace);
  float* partial_lse = plan.workspace_bytes > 0 ? reinterpret_cast<float*>(static_cast<char*>(workspace) + plan.partial_o_bytes) : nullptr;

  lim_decode_attention_params p{};
  p.q = tensor(q, q_stride_b, q_stride_h, 1);
  p.k = tensor(k_cache, k_stride_b, k_stride_h, k_stride_n, 1);
  p.v = tensor(v_cache, v_stride_b, v_stride_h, v_stride_n, 1);
  p.seqlens = tensor(seqlens, 1);
  p.o = tensor(out, out_stride_b, out_stride_h, 1);
  p.lse = tensor(lse, num_q_heads, 1);
  p.partialO = tensor(partial_o, static_cast<int64_t>(num_q_heads) * splits * head_dim, static_cast<int64_t>(splits) * head_dim, head_dim, 1);
  p.partialLse = tensor(partial_lse, static_cast<int64_t>(num_q_heads) * splits, splits, 1);
  p.B = batch;
  p.Hq = num_q_heads;
  p.Hkv = num_kv_heads;
  p.Nmax = cache_capacity;
  p.splits = splits;
  p.scale = softmax_scale;
  p.maxSeqlen = max_seqlen;
  p.chunk = plan.split.chunk;
  p.status = device_status_word;
  int err = plan.attention->launch(&p, stream);
  if (err != 0) return cuda_fail(kFn, (std::string("launching ") + plan.attention->name).c_str(), err);
  if (splits > 1) {
    lim_merge_states_params m{};
    m.partialO = p.partialO;
    m.partialLse = p.partialLse;
    m.seqlens = p.seqlens;
    m.o = p.o;
    m.lse = p.lse;
    m.B = batch;
    m.Hq = num_q_heads;
    m.splits = splits;
    m.maxSeqlen = max_seqlen;
    m.chunk = plan.split.chunk;
    m.status = device_status_word;
    err = plan.merge->launch(&m, stream);
    if (err != 0) return cuda_fail(kFn, (std::string("launching ") + plan.merge->name).c_str(), err);
  }
  return ok();
}
