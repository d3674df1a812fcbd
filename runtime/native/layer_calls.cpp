// The decode runtime's calls on one layer's caches, through the contiguous or the paged functions of the
// C ABI: contiguous caches are [batch, kv_heads, capacity, head_dim]; paged ones a pool [pages, page_size,
// kv_heads, head_dim] (NHD, vLLM's layout) read through the runtime's block table. FP8 caches go through
// the lim_fp8_* twins (LIM_KV_CALL), which take the same arguments and the caches' scales before the dtype.

#include <cmath>

#include "decode_runtime.h"
#include "runtime_calls.h"

namespace lim_runtime {

DecodeRuntime::LayerCaches DecodeRuntime::layer_caches(int layer) const {
  const Config& c = config_;
  LayerCaches kv;
  kv.k = static_cast<char*>(k_cache_.get()) + layer * cache_elems_ * cache_element_bytes(c);
  kv.v = static_cast<char*>(v_cache_.get()) + layer * cache_elems_ * cache_element_bytes(c);
  kv.s0 = paged() ? static_cast<int64_t>(c.page_size) * c.kv_heads * c.head_dim : static_cast<int64_t>(c.kv_heads) * c.capacity * c.head_dim;
  kv.s1 = paged() ? static_cast<int64_t>(c.kv_heads) * c.head_dim : static_cast<int64_t>(c.capacity) * c.head_dim;
  kv.s2 = c.head_dim;
  kv.table = static_cast<const int32_t*>(block_table_.get());
  kv.seqlens = static_cast<const int32_t*>(seqlens_.get());
  kv.qb = static_cast<int64_t>(c.q_heads) * c.head_dim;
  kv.qh = c.head_dim;
  kv.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  return kv;
}

int DecodeRuntime::attention(int layer, const void* q, void* out, float* lse, float* logits, std::string* error) {
  const Config& c = config_;
  const LayerCaches kv = layer_caches(layer);
  const int64_t lb = static_cast<int64_t>(c.q_heads) * c.capacity, lh = c.capacity;
  if (paged()) {
    LIM_KV_CALL(paged_decode_attention, (q, kv.qb, kv.qh, kv.k, kv.s0, kv.s1, kv.s2, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, out, kv.qb, kv.qh, lse,
                    logits, lb, lh, c.batch, c.q_heads, c.kv_heads, c.head_dim, kv.table, pages_per_seq_, nullptr, c.batch, c.batch * pages_per_seq_, c.page_size,
                    pages_per_seq_, c.capacity),
                (kv.scale, attention_ws_.get(), attention_ws_.bytes(), stream_));
  } else {
    LIM_KV_CALL(decode_attention, (q, kv.qb, kv.qh, kv.k, kv.s0, kv.s1, kv.s2, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, out, kv.qb, kv.qh, lse, logits,
                    lb, lh, c.batch, c.q_heads, c.kv_heads, c.head_dim, c.capacity, c.capacity),
                (kv.scale, attention_ws_.get(), attention_ws_.bytes(), stream_));
  }
  return LIM_OK;
}

int DecodeRuntime::sparse_attention(int layer, const void* q, void* out, const int32_t* set, const int32_t* counts, bool per_head, std::string* error) {
  const Config& c = config_;
  const LayerCaches kv = layer_caches(layer);
  const int64_t set_b = per_head ? static_cast<int64_t>(c.q_heads) * c.budget : c.budget;
  const DeviceArray& ws = per_head ? head_ws_ : sparse_ws_;
  if (paged() && per_head) {
    LIM_KV_CALL(paged_sparse_attention_per_head, (q, kv.qb, kv.qh, kv.k, kv.s0, kv.s1, kv.s2, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, set, set_b,
                    c.budget, counts, out, kv.qb, kv.qh, nullptr, c.batch, c.q_heads, c.kv_heads, c.head_dim, kv.table, pages_per_seq_, nullptr, c.batch,
                    c.batch * pages_per_seq_, c.page_size, pages_per_seq_, c.capacity, c.budget),
                (kv.scale, ws.get(), ws.bytes(), stream_));
  } else if (paged()) {
    LIM_KV_CALL(paged_sparse_attention, (q, kv.qb, kv.qh, kv.k, kv.s0, kv.s1, kv.s2, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, set, set_b, counts, out,
                    kv.qb, kv.qh, nullptr, c.batch, c.q_heads, c.kv_heads, c.head_dim, kv.table, pages_per_seq_, nullptr, c.batch, c.batch * pages_per_seq_,
                    c.page_size, pages_per_seq_, c.capacity, c.budget),
                (kv.scale, ws.get(), ws.bytes(), stream_));
  } else if (per_head) {
    LIM_KV_CALL(sparse_attention_per_head, (q, kv.qb, kv.qh, kv.k, kv.s0, kv.s1, kv.s2, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, set, set_b, c.budget,
                    counts, out, kv.qb, kv.qh, nullptr, c.batch, c.q_heads, c.kv_heads, c.head_dim, c.capacity, c.capacity, c.budget),
                (kv.scale, ws.get(), ws.bytes(), stream_));
  } else {
    LIM_KV_CALL(sparse_attention, (q, kv.qb, kv.qh, kv.k, kv.s0, kv.s1, kv.s2, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, set, set_b, counts, out, kv.qb,
                    kv.qh, nullptr, c.batch, c.q_heads, c.kv_heads, c.head_dim, c.capacity, c.capacity, c.budget),
                (kv.scale, ws.get(), ws.bytes(), stream_));
  }
  return LIM_OK;
}

int DecodeRuntime::append(int layer, const void* k_new, const void* v_new, std::string* error) {
  const Config& c = config_;
  const LayerCaches kv = layer_caches(layer);
  if (paged()) {
    LIM_KV_CALL(paged_append_kv, (k_new, v_new, kv.seqlens, kv.k, kv.v, kv.s0, kv.s1, kv.s2, c.batch, c.kv_heads, c.head_dim, kv.table,
                    pages_per_seq_, nullptr, c.batch, c.batch * pages_per_seq_, c.page_size, pages_per_seq_),
                (stream_));
  } else {
    LIM_KV_CALL(append_kv, (k_new, v_new, kv.seqlens, kv.k, kv.v, kv.s0, kv.s1, kv.s2, c.batch, c.kv_heads, c.head_dim, c.capacity),
                (stream_));
  }
  return LIM_OK;
}

int DecodeRuntime::synthesize(int layer, std::string* error) {
  const Config& c = config_;
  const LayerCaches kv = layer_caches(layer);
  if (paged()) {
    LIM_KV_CALL(paged_synthesize_kv, (kv.k, kv.v, kv.s0, kv.s1, kv.s2, kv.seqlens, c.batch, c.kv_heads, c.head_dim, kv.table, pages_per_seq_, nullptr, c.batch,
                    c.batch * pages_per_seq_, c.page_size, pages_per_seq_),
                (c.seed, layer, kRecentWindow, stream_));
  } else {
    LIM_KV_CALL(synthesize_kv, (kv.k, kv.v, kv.seqlens, c.batch, c.kv_heads, c.head_dim, c.capacity),
                (c.seed, layer, kRecentWindow, stream_));
  }
  return LIM_OK;
}

}  // namespace lim_runtime
