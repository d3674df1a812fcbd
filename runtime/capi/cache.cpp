// The KV-cache functions of the C ABI: counting new tokens, appending them, and filling caches and
// decode steps with synthetic data. Their arguments arrive checked by the generated wrappers
// (generated/abi.cpp); each finds its variant, fills the parameter block and launches.

#include <cuda_runtime_api.h>

#include <string>

#include "caches.h"
#include "internal.h"

using namespace lim_capi;

int lim_advance_seqlens_impl(const lim_advance_seqlens_args& a) {
  const lim_variant_info* v = lim_find_advance_seqlens();
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, "advance_seqlens (the kernel is missing)", "", &status_word);
  if (status != LIM_OK) return status;
  lim_advance_seqlens_params p{};
  p.seqlens = tensor(a.seqlens, 1);
  p.B = a.batch;
  p.capacity = a.capacity;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}

/** The new token's K and V at position seqlens[b] - 1, in either layout. */
template <typename Args>
int append(const Args& a) {
  const Caches caches = shared_stride_caches(a);
  const lim_variant_info* v = lim_find_append_kv(a.head_dim, a.dtype, caches.layout, static_cast<lim_dtype>(caches.elements.kv));
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, cache_shape(a.head_dim, a.dtype, caches), cache_flags(a.head_dim, a.dtype, caches), &status_word);
  if (status != LIM_OK) return status;
  lim_append_kv_params p{};
  p.kNew = tensor(a.k_new, static_cast<int64_t>(a.num_kv_heads) * a.head_dim, a.head_dim, 1);
  p.vNew = tensor(a.v_new, static_cast<int64_t>(a.num_kv_heads) * a.head_dim, a.head_dim, 1);
  p.seqlens = tensor(a.seqlens, 1);
  p.k = caches.k;
  p.v = caches.v;
  p.kScale = caches.elements.k_scale;
  p.vScale = caches.elements.v_scale;
  p.KS = caches.elements.scale_heads;
  p.B = a.batch;
  p.Hkv = a.num_kv_heads;
  p.Nmax = caches.capacity;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}

int lim_append_kv_impl(const lim_append_kv_args& a) { return append(a); }
int lim_paged_append_kv_impl(const lim_paged_append_kv_args& a) { return append(a); }
int lim_fp8_append_kv_impl(const lim_fp8_append_kv_args& a) { return append(a); }
int lim_fp8_paged_append_kv_impl(const lim_fp8_paged_append_kv_args& a) { return append(a); }

/** New tokens into the slots an engine mapped them to, in the dtype or FP8. */
template <typename Args>
int write_slots(const Args& a) {
  const CacheElements elements = cache_elements(a);
  const lim_variant_info* v = lim_find_write_kv_slots(a.head_dim, a.dtype, static_cast<lim_dtype>(elements.kv));
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, head_dim_shape(a.head_dim, a.dtype) + kv_words(a.dtype, elements.kv),
                                    head_dim_flags(a.head_dim, a.dtype) + kv_flag(a.dtype, elements.kv), &status_word);
  if (status != LIM_OK) return status;
  lim_write_kv_slots_params p{};
  p.kNew = tensor(a.k_new, a.new_stride_t, a.new_stride_h, 1);
  p.vNew = tensor(a.v_new, a.new_stride_t, a.new_stride_h, 1);
  p.slots = tensor(a.slot_mapping, 1);
  p.k = tensor(a.k_cache, a.cache_stride_page, a.cache_stride_slot, a.cache_stride_h, 1);
  p.v = tensor(a.v_cache, a.cache_stride_page, a.cache_stride_slot, a.cache_stride_h, 1);
  p.kScale = elements.k_scale;
  p.vScale = elements.v_scale;
  p.KS = elements.scale_heads;
  p.T = a.num_tokens;
  p.Hkv = a.num_kv_heads;
  p.P = a.num_pages;
  p.PS = a.page_size;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}

int lim_write_kv_slots_impl(const lim_write_kv_slots_args& a) { return write_slots(a); }
int lim_fp8_write_kv_slots_impl(const lim_fp8_write_kv_slots_args& a) { return write_slots(a); }

/** Synthetic K and V at positions [0, seqlens[b]), in either layout. Contiguous caches are packed (no strides). */
template <typename Args>
int synthesize(const Args& a) {
  Caches caches;
  if constexpr (is_paged<Args>::value) {
    caches = shared_stride_caches(a);
  } else {
    const int64_t sn = a.head_dim, sh = static_cast<int64_t>(a.cache_capacity) * a.head_dim, sb = sh * a.num_kv_heads;
    caches = Caches{LIM_CACHE_CONTIGUOUS, contiguous_cache(a.k_cache, sb, sh, sn), contiguous_cache(a.v_cache, sb, sh, sn), a.cache_capacity, cache_elements(a)};
  }
  const lim_variant_info* v = lim_find_synthesize_kv(a.head_dim, a.dtype, caches.layout, static_cast<lim_dtype>(caches.elements.kv));
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, cache_shape(a.head_dim, a.dtype, caches), cache_flags(a.head_dim, a.dtype, caches), &status_word);
  if (status != LIM_OK) return status;
  lim_synthesize_kv_params p{};
  p.k = caches.k;
  p.v = caches.v;
  p.kScale = caches.elements.k_scale;
  p.vScale = caches.elements.v_scale;
  p.KS = caches.elements.scale_heads;
  p.seqlens = tensor(a.seqlens, 1);
  p.B = a.batch;
  p.Hkv = a.num_kv_heads;
  p.Nmax = caches.capacity;
  p.seed = a.seed;
  p.layer = a.layer;
  p.recentWindow = a.recent_window;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}

int lim_synthesize_kv_impl(const lim_synthesize_kv_args& a) { return synthesize(a); }
int lim_paged_synthesize_kv_impl(const lim_paged_synthesize_kv_args& a) { return synthesize(a); }
int lim_fp8_synthesize_kv_impl(const lim_fp8_synthesize_kv_args& a) { return synthesize(a); }
int lim_fp8_paged_synthesize_kv_impl(const lim_fp8_paged_synthesize_kv_args& a) { return synthesize(a); }

int lim_synthesize_step_impl(const lim_synthesize_step_args& a) {
  const lim_variant_info* v = lim_find_synthesize_step(a.head_dim, a.dtype);
  lim_device_status* status_word = nullptr;
  const int status = prepare_launch(a.function, v, head_dim_shape(a.head_dim, a.dtype), head_dim_flags(a.head_dim, a.dtype), &status_word);
  if (status != LIM_OK) return status;
  lim_synthesize_step_params p{};
  p.q = tensor(a.q, static_cast<int64_t>(a.num_q_heads) * a.head_dim, a.head_dim, 1);
  p.kNew = tensor(a.k_new, static_cast<int64_t>(a.num_kv_heads) * a.head_dim, a.head_dim, 1);
  p.vNew = tensor(a.v_new, static_cast<int64_t>(a.num_kv_heads) * a.head_dim, a.head_dim, 1);
  p.seqlens = tensor(a.seqlens, 1);
  p.B = a.batch;
  p.Hq = a.num_q_heads;
  p.Hkv = a.num_kv_heads;
  p.seed = a.seed;
  p.layer = a.layer;
  p.status = status_word;
  return finish(launch(a.function, v, &p, a.stream));
}
