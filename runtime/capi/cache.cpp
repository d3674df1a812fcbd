// The KV-cache functions of the C ABI: counting new tokens, appending them, and filling caches and
// decode steps with synthetic data.

#include <cuda_runtime_api.h>

#include <string>

#include "internal.h"

using namespace lim_capi;

namespace {

/** Checks what every function here takes: batch, heads, head dim, dtype, and that the variant exists. */
int common(const std::string& fn, int32_t batch, int32_t heads, int32_t head_dim, int dtype, const lim_variant_info* variant) {
  if (batch <= 0 || batch > 65535 || heads <= 0 || heads > 65535 || head_dim <= 0) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch and heads must be in [1, 65535] and head_dim positive, got " + std::to_string(batch) + ", " +
                                                std::to_string(heads) + ", " + std::to_string(head_dim));
  }
  if (dtype != LIM_DTYPE_BF16 && dtype != LIM_DTYPE_FP16) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": dtype must be LIM_DTYPE_BF16 or LIM_DTYPE_FP16");
  if (variant == nullptr) {
    return fail(LIM_ERROR_NO_VARIANT, fn + ": no generated variant for head_dim=" + std::to_string(head_dim) + ", dtype " + dtype_name(dtype) +
                                          "; run `bin/lim generate --head-dims " + std::to_string(head_dim) + "` in the toolkit and rebuild");
  }
  return ensure_device(fn.c_str());
}

int launch(const std::string& fn, const lim_variant_info* v, const void* params, cudaStream_t stream) {
  const int err = v->launch(params, stream);
  return err != 0 ? cuda_fail(fn.c_str(), (std::string("launching ") + v->name).c_str(), err) : ok();
}

bool null_or_misaligned(std::initializer_list<const void*> pointers, std::size_t align) {
  for (const void* p : pointers) if (p == nullptr || !aligned(p, align)) return true;
  return false;
}

}  // namespace

extern "C" int lim_advance_seqlens(int32_t* seqlens, int32_t batch, int32_t capacity, cudaStream_t stream) {
  const std::string fn = "lim_advance_seqlens";
  if (seqlens == nullptr || !aligned(seqlens, 4)) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": seqlens must be a non-NULL, 4-byte aligned pointer");
  if (batch <= 0 || capacity <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": batch and capacity must be positive");
  int status = ensure_device(fn.c_str());
  if (status != LIM_OK) return status;
  const lim_variant_info* v = lim_find_advance_seqlens();
  if (v == nullptr) return fail(LIM_ERROR_NO_VARIANT, fn + ": advance_seqlens was not generated; run `bin/lim generate` in the toolkit and rebuild");
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  lim_advance_seqlens_params p{};
  p.seqlens = tensor(seqlens, 1);
  p.B = batch;
  p.capacity = capacity;
  p.BB = (batch + v->threads - 1) / v->threads;
  p.status = status_word;
  return launch(fn, v, &p, stream);
}

extern "C" int lim_append_kv(const void* k_new, const void* v_new, const int32_t* seqlens, void* k_cache, void* v_cache, int64_t cache_stride_b,
                             int64_t cache_stride_h, int64_t cache_stride_n, int32_t batch, int32_t num_kv_heads, int32_t head_dim,
                             int32_t cache_capacity, lim_dtype dtype, cudaStream_t stream) {
  const std::string fn = "lim_append_kv";
  const lim_variant_info* v = lim_find_append_kv(head_dim, dtype);
  int status = common(fn, batch, num_kv_heads, head_dim, dtype, v);
  if (status != LIM_OK) return status;
  if (null_or_misaligned({k_new, v_new, k_cache, v_cache}, 16) || seqlens == nullptr) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": k_new, v_new, k_cache, v_cache (16-byte aligned) and seqlens must not be NULL");
  }
  if (cache_capacity <= 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": cache_capacity must be positive");
  for (int64_t s : {cache_stride_b, cache_stride_h, cache_stride_n}) {
    if (s < 0 || s % 8 != 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": cache strides must be non-negative multiples of 8 elements");
  }
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  lim_append_kv_params p{};
  p.kNew = tensor(k_new, static_cast<int64_t>(num_kv_heads) * head_dim, head_dim, 1);
  p.vNew = tensor(v_new, static_cast<int64_t>(num_kv_heads) * head_dim, head_dim, 1);
  p.seqlens = tensor(seqlens, 1);
  p.k = tensor(k_cache, cache_stride_b, cache_stride_h, cache_stride_n, 1);
  p.v = tensor(v_cache, cache_stride_b, cache_stride_h, cache_stride_n, 1);
  p.B = batch;
  p.Hkv = num_kv_heads;
  p.Nmax = cache_capacity;
  p.status = status_word;
  return launch(fn, v, &p, stream);
}

extern "C" int lim_synthesize_kv(void* k_cache, void* v_cache, const int32_t* seqlens, int32_t batch, int32_t num_kv_heads, int32_t head_dim,
                                 int32_t cache_capacity, lim_dtype dtype, uint32_t seed, int32_t layer, int32_t recent_window, cudaStream_t stream) {
  const std::string fn = "lim_synthesize_kv";
  const lim_variant_info* v = lim_find_synthesize_kv(head_dim, dtype);
  int status = common(fn, batch, num_kv_heads, head_dim, dtype, v);
  if (status != LIM_OK) return status;
  if (null_or_misaligned({k_cache, v_cache}, 16) || seqlens == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": k_cache, v_cache and seqlens must not be NULL");
  if (cache_capacity <= 0 || recent_window < 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": cache_capacity must be positive and recent_window >= 0");
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  const int64_t sn = head_dim, sh = static_cast<int64_t>(cache_capacity) * head_dim, sb = sh * num_kv_heads;
  const int rows_per_block = v->threads / (head_dim / 8);
  lim_synthesize_kv_params p{};
  p.k = tensor(k_cache, sb, sh, sn, 1);
  p.v = tensor(v_cache, sb, sh, sn, 1);
  p.seqlens = tensor(seqlens, 1);
  p.B = batch;
  p.Hkv = num_kv_heads;
  p.Nmax = cache_capacity;
  p.seed = seed;
  p.layer = layer;
  p.recentWindow = recent_window;
  p.RB = (cache_capacity + rows_per_block - 1) / rows_per_block;
  p.status = status_word;
  return launch(fn, v, &p, stream);
}

extern "C" int lim_synthesize_step(void* q, void* k_new, void* v_new, const int32_t* seqlens, int32_t batch, int32_t num_q_heads, int32_t num_kv_heads,
                                   int32_t head_dim, lim_dtype dtype, uint32_t seed, int32_t layer, cudaStream_t stream) {
  const std::string fn = "lim_synthesize_step";
  const lim_variant_info* v = lim_find_synthesize_step(head_dim, dtype);
  int status = common(fn, batch, num_q_heads, head_dim, dtype, v);
  if (status != LIM_OK) return status;
  if (num_kv_heads <= 0 || num_q_heads % num_kv_heads != 0) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": num_kv_heads must divide num_q_heads");
  if (null_or_misaligned({q, k_new, v_new}, 16) || seqlens == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, fn + ": q, k_new, v_new and seqlens must not be NULL");
  lim_device_status* status_word = nullptr;
  if ((status = device_status(fn.c_str(), &status_word)) != LIM_OK) return status;
  lim_synthesize_step_params p{};
  p.q = tensor(q, static_cast<int64_t>(num_q_heads) * head_dim, head_dim, 1);
  p.kNew = tensor(k_new, static_cast<int64_t>(num_kv_heads) * head_dim, head_dim, 1);
  p.vNew = tensor(v_new, static_cast<int64_t>(num_kv_heads) * head_dim, head_dim, 1);
  p.seqlens = tensor(seqlens, 1);
  p.B = batch;
  p.Hq = num_q_heads;
  p.Hkv = num_kv_heads;
  p.seed = seed;
  p.layer = layer;
  p.HX = num_q_heads + num_kv_heads;
  p.status = status_word;
  return launch(fn, v, &p, stream);
}
