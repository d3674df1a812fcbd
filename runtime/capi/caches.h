// The K/V cache arguments of the C ABI functions as the kernels take them (lim_cache_tensor, in the
// layout of the variant they launch): the contiguous functions' [batch, heads, capacity, head_dim] with
// strides, or the paged functions' pools of pages and block table; in the model's dtype, or in FP8 with
// the scales the lim_fp8_* functions take.
#pragma once

#include <cstdint>
#include <type_traits>

#include "internal.h"

namespace lim_capi {

/** The caches' element type (a lim_dtype) and, for FP8, their scales [scale_heads] (NULL data: 1). */
struct CacheElements {
  int kv;
  lim_tensor k_scale;
  lim_tensor v_scale;
  int32_t scale_heads;
};

/** Whether a function's arguments are an FP8 call's or query's (they name the caches' FP8 format). */
template <typename A, typename = void>
struct is_fp8 : std::false_type {};
template <typename A>
struct is_fp8<A, std::void_t<decltype(&A::kv_dtype)>> : std::true_type {};

/** The element type of a call's caches: its FP8 format for the lim_fp8_* functions, the dtype otherwise. */
template <typename A>
int kv_dtype_of(const A& a) {
  if constexpr (is_fp8<A>::value) {
    return a.kv_dtype;
  } else {
    return a.dtype;
  }
}

/** The element type of a call's caches and, for FP8, their scales. */
template <typename A>
CacheElements cache_elements(const A& a) {
  if constexpr (is_fp8<A>::value) {
    return CacheElements{a.kv_dtype, tensor(a.k_scale, 1), tensor(a.v_scale, 1), a.scale_heads};
  } else {
    return CacheElements{a.dtype, tensor(nullptr, 1), tensor(nullptr, 1), 0};
  }
}

/** Both caches of a call, the layout whose variant reads them, the positions a request can hold (Nmax) and their elements. */
struct Caches {
  lim_cache_layout layout;
  lim_cache_tensor k;
  lim_cache_tensor v;
  int32_t capacity;
  CacheElements elements;
};

/** A contiguous cache [batch, heads, capacity, head_dim] with its strides. */
inline lim_cache_tensor contiguous_cache(const void* data, int64_t stride_b, int64_t stride_h, int64_t stride_n) {
  lim_cache_tensor t{};
  t.rows = tensor(data, stride_b, stride_h, stride_n, 1);
  return t;
}

/** The block table of a paged call: where each request's pages are, and how big pages and pool are. */
struct BlockTable {
  const int32_t* table;
  int64_t stride;
  const int32_t* rows;  // each request's row of the table, or NULL: row b
  int32_t height;       // rows of the table
  int32_t num_pages;
  int32_t page_size;  // a power of two (the generated wrapper checks it)
  int32_t width;      // pages per request
};

/** A pool of pages with its strides (page, position in the page, head) read through a block table. */
inline lim_cache_tensor paged_cache(const void* data, int64_t stride_page, int64_t stride_slot, int64_t stride_h, const BlockTable& t) {
  lim_cache_tensor c{};
  c.rows = tensor(data, stride_page, stride_slot, stride_h, 1);
  c.block_table = t.table;
  c.block_table_stride = t.stride;
  c.table_rows = t.rows;
  c.table_height = t.height;
  int shift = 0;
  while ((1 << shift) < t.page_size) ++shift;
  c.page_shift = shift;
  c.num_pages = t.num_pages;
  c.table_width = t.width;
  return c;
}

/** The block table arguments every paged function takes under the same names. */
template <typename A>
BlockTable block_table(const A& a) {
  return BlockTable{a.block_table, a.block_table_stride, a.block_table_rows, a.num_table_rows, a.num_pages, a.page_size, a.max_pages_per_seq};
}

/** Positions one request of a paged cache can hold. */
inline int32_t paged_capacity(const BlockTable& t) {
  const int64_t n = static_cast<int64_t>(t.width) * t.page_size;
  return n > INT32_MAX ? INT32_MAX : static_cast<int32_t>(n);
}

/** Whether a function's arguments are a paged call's (they name a block table). */
template <typename A, typename = void>
struct is_paged : std::false_type {};
template <typename A>
struct is_paged<A, std::void_t<decltype(&A::block_table)>> : std::true_type {};

/** The caches of a function that takes k_cache and v_cache with their own strides: contiguous or paged. */
template <typename A>
Caches caches_of(const A& a) {
  if constexpr (is_paged<A>::value) {
    const BlockTable t = block_table(a);
    return Caches{LIM_CACHE_PAGED, paged_cache(a.k_cache, a.k_stride_page, a.k_stride_slot, a.k_stride_h, t),
                  paged_cache(a.v_cache, a.v_stride_page, a.v_stride_slot, a.v_stride_h, t), paged_capacity(t), cache_elements(a)};
  } else {
    return Caches{LIM_CACHE_CONTIGUOUS, contiguous_cache(a.k_cache, a.k_stride_b, a.k_stride_h, a.k_stride_n),
                  contiguous_cache(a.v_cache, a.v_stride_b, a.v_stride_h, a.v_stride_n), a.cache_capacity, cache_elements(a)};
  }
}

/** The caches of a function whose two caches share strides (cache_stride_*): contiguous or paged. */
template <typename A>
Caches shared_stride_caches(const A& a) {
  if constexpr (is_paged<A>::value) {
    const BlockTable t = block_table(a);
    return Caches{LIM_CACHE_PAGED, paged_cache(a.k_cache, a.cache_stride_page, a.cache_stride_slot, a.cache_stride_h, t),
                  paged_cache(a.v_cache, a.cache_stride_page, a.cache_stride_slot, a.cache_stride_h, t), paged_capacity(t), cache_elements(a)};
  } else {
    return Caches{LIM_CACHE_CONTIGUOUS, contiguous_cache(a.k_cache, a.cache_stride_b, a.cache_stride_h, a.cache_stride_n),
                  contiguous_cache(a.v_cache, a.cache_stride_b, a.cache_stride_h, a.cache_stride_n), a.cache_capacity, cache_elements(a)};
  }
}

/** The name of a layout for messages and for lim generate's --caches. */
inline const char* layout_name(lim_cache_layout layout) { return layout == LIM_CACHE_PAGED ? "paged" : "contiguous"; }

/** The caches' element type for no_variant: " FP8 (e4m3)" or nothing, and the lim generate flag that makes it. */
inline std::string kv_words(int dtype, int kv) { return kv != dtype ? std::string(" FP8 (") + dtype_name(kv) + ")" : std::string(); }
inline std::string kv_flag(int dtype, int kv) { return std::string(" --kv-dtypes ") + (kv != dtype ? dtype_name(kv) : "auto"); }

/** A kernel over (head dim, dtype, caches), for no_variant: what is missing, and the lim generate flags that make it. */
inline std::string cache_shape(int32_t head_dim, int dtype, const Caches& caches) {
  return head_dim_shape(head_dim, dtype) + ", " + layout_name(caches.layout) + kv_words(dtype, caches.elements.kv) + " caches";
}
inline std::string cache_flags(int32_t head_dim, int dtype, const Caches& caches) {
  return head_dim_flags(head_dim, dtype) + " --caches " + layout_name(caches.layout) + kv_flag(dtype, caches.elements.kv);
}

}  // namespace lim_capi
