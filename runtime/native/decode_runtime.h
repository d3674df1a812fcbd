// The minimal decode runtime: a model's per-layer KV caches on the GPU and the attention part of its
// decode step under three policies (full attention, LessIsMore, TidalDecode-style per-head selection),
// each step captured once as a CUDA graph and replayed. It drives the generated kernels through the C
// ABI only (lim.h); it contains no kernel code of its own.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lim.h"

namespace lim_runtime {

enum class Policy { Full = 0, LessIsMore = 1, TidalDecode = 2 };

struct Config {
  int layers, q_heads, kv_heads, head_dim;
  lim_dtype dtype;
  std::vector<int> selection_layers;  // ascending; layers before the first are full attention
  int batch, context, capacity;       // prompt tokens per request; cache rows (context + decode steps)
  int budget;
  float recency_ratio;
  int sinks;
  uint32_t seed;
  bool synthetic;  // fill the caches with lim_synthesize_kv (else the caller uploads them)
  int page_size = 0;  // 0: contiguous caches; else paged NHD caches of this many positions per page, pages shuffled
  // FP8 caches in this format (LIM_DTYPE_E4M3 or LIM_DTYPE_E5M2, scale 1); none: caches in dtype
  std::optional<lim_dtype> fp8_format;
};

/** Bytes of one cache element: 1 for FP8 caches, 2 for bf16 / fp16. */
inline std::size_t cache_element_bytes(const Config& c) { return c.fp8_format ? 1 : 2; }

/** Device memory owned by the runtime; freed with it. */
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray();
  int allocate(std::size_t bytes, std::string* error);
  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

/** What one measured step of a policy yields. */
struct StepResult {
  float attention_ms;  // the attention part of the step (all layers), from events recorded in the graph
};

class DecodeRuntime {
 public:
  /** Bytes of device memory a configuration needs (caches, per-layer buffers, workspaces). */
  static std::size_t device_bytes(const Config& config);

  /** Allocates everything (after checking free memory) and fills the caches; nullptr with *error set. */
  static std::unique_ptr<DecodeRuntime> create(const Config& config, std::string* error);

  ~DecodeRuntime();

  /** Sets every request back to `context` tokens (the appended rows are written again by later steps). */
  int reset(std::string* error);

  /**
   * One decode step: count the new token, make each layer's query, key and value (synthetic), append them,
   * and run every layer's attention under `policy`. Captured as a CUDA graph on first use, then replayed.
   */
  int step(Policy policy, StepResult* result, std::string* error);

  /** The attention of every layer once, eagerly, with the current caches and queries (no new token). */
  int attend(Policy policy, std::string* error);

  /** Attention recall [batch, q_heads] at each selection layer of the last step or attend() of `policy`. */
  int recall(Policy policy, std::vector<std::vector<float>>* per_layer, std::string* error);

  /** Full attention of `layer` over the current cache and query (to compare a policy's output with). */
  int full_output(int layer, std::vector<uint16_t>* out, std::string* error);

  /** Raw 16-bit elements of one layer's buffer. */
  enum class Buffer { Query, Output, NewKey, KeyCache, ValueCache };
  int read_layer(Buffer which, int layer, std::vector<uint16_t>* out, std::string* error);

  /** Tokens in each request's cache. */
  int seqlens(std::vector<int32_t>* out, std::string* error);

  /**
   * Uploads one layer's keys and values ([batch, kv_heads, context, head_dim]) and its query
   * ([batch, q_heads, head_dim]), raw 16-bit elements; the sizes were checked by the caller.
   */
  int upload_layer(int layer, const void* k, const void* v, const void* q, std::string* error);

  const Config& config() const { return config_; }

 private:
  explicit DecodeRuntime(const Config& config) : config_(config) {}
  int allocate(std::string* error);
  int read(const void* device, std::size_t elements, std::vector<uint16_t>* out, std::string* error);
  int record_step(Policy policy, std::string* error);
  int record_attention(Policy policy, std::string* error);
  bool is_selection(int layer) const;
  int latest_selection(int layer) const;  // index into selection_layers, or -1

  // The calls that read or write a layer's caches, through the contiguous or the paged functions (FP8: their lim_fp8_* twins).
  bool paged() const { return config_.page_size > 0; }
  bool fp8() const { return config_.fp8_format.has_value(); }
  /**
   * What every call on one layer's caches passes: the caches and their strides, contiguous (request, head,
   * position) or paged (page, position in a page, head), the block table, the lengths and the queries' strides.
   */
  struct LayerCaches {
    char* k;
    char* v;
    int64_t s0, s1, s2;
    const int32_t* table;
    const int32_t* seqlens;
    int64_t qb, qh;
    float scale;
  };
  LayerCaches layer_caches(int layer) const;
  int attention(int layer, const void* q, void* out, float* lse, float* logits, std::string* error);
  int sparse_attention(int layer, const void* q, void* out, const int32_t* set, const int32_t* counts, bool per_head, std::string* error);
  int append(int layer, const void* k_new, const void* v_new, std::string* error);
  int synthesize(int layer, std::string* error);

  Config config_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  cudaGraphExec_t graphs_[3] = {nullptr, nullptr, nullptr};
  std::size_t cache_elems_ = 0;  // per layer, per cache
  DeviceArray k_cache_, v_cache_;  // [layers, batch, kv_heads, capacity, head_dim], or per layer a pool [pages, page_size, kv_heads, head_dim]
  DeviceArray block_table_;        // paged: [batch, pages_per_seq], the same for every layer (as engines keep it)
  int pages_per_seq_ = 0;
  DeviceArray q_, k_new_, v_new_, out_, full_out_;  // per layer: [layers, batch, heads, head_dim]
  DeviceArray seqlens_;
  DeviceArray lse_, logits_;  // per selection layer: [batch, q_heads], [batch, q_heads, capacity]
  DeviceArray shared_set_, shared_counts_;  // per selection layer: [batch, budget], [batch]
  DeviceArray head_set_, head_counts_;  // per selection layer: [batch, q_heads, budget], [batch, q_heads]
  DeviceArray recall_;  // [batch, q_heads]
  DeviceArray attention_ws_, sparse_ws_, head_ws_, select_ws_;
};

}  // namespace lim_runtime
