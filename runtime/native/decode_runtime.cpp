// The decode runtime's implementation: buffers, the per-policy step graph, and eager passes for
// measurements. Every kernel runs through the C ABI.

#include "decode_runtime.h"
#include "runtime_calls.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

namespace lim_runtime {

namespace {

std::string gigabytes(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

const char* policy_name(Policy p) {
  return p == Policy::Full ? "full" : p == Policy::LessIsMore ? "lessismore" : "tidaldecode";
}

}  // namespace

DeviceArray::~DeviceArray() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

int DeviceArray::allocate(std::size_t bytes, std::string* error) {
  bytes_ = std::max<std::size_t>(bytes, 16);
  CUDA_CALL(cudaMalloc(&ptr_, bytes_));
  CUDA_CALL(cudaMemset(ptr_, 0, bytes_));
  return LIM_OK;
}

/** Positions of one request's cache: the capacity, rounded up to whole pages when paged. */
static std::size_t cache_positions(const Config& c) {
  return c.page_size > 0 ? (static_cast<std::size_t>(c.capacity) + c.page_size - 1) / c.page_size * c.page_size : c.capacity;
}

std::size_t DecodeRuntime::device_bytes(const Config& c) {
  const std::size_t e = 2;  // bf16 / fp16
  const std::size_t L = c.layers, B = c.batch, S = c.selection_layers.size();
  std::size_t total = 2 * L * B * c.kv_heads * cache_positions(c) * c.head_dim * cache_element_bytes(c);  // caches
  if (c.page_size > 0) total += B * cache_positions(c) / c.page_size * 4;  // block table
  total += L * B * (2 * c.q_heads + 2 * c.kv_heads) * c.head_dim * e + B * c.q_heads * c.head_dim * e;  // q, out, new k/v, full_out
  total += S * B * c.q_heads * (1 + static_cast<std::size_t>(c.capacity)) * 4;                         // lse, logits
  total += S * B * (static_cast<std::size_t>(c.budget) + 1) * (1 + c.q_heads) * 4;                     // index sets, counts
  return total;
}

std::unique_ptr<DecodeRuntime> DecodeRuntime::create(const Config& config, std::string* error) {
  int device = 0;
  if (lim_check_device(0) != LIM_OK || cudaGetDevice(&device) != cudaSuccess) {
    *error = lim_last_error();
    return nullptr;
  }
  std::unique_ptr<DecodeRuntime> rt(new DecodeRuntime(config));
  if (rt->allocate(error) != LIM_OK) return nullptr;
  return rt;
}

DecodeRuntime::~DecodeRuntime() {
  for (cudaGraphExec_t g : graphs_) if (g != nullptr) cudaGraphExecDestroy(g);
  if (start_ != nullptr) cudaEventDestroy(start_);
  if (stop_ != nullptr) cudaEventDestroy(stop_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

bool DecodeRuntime::is_selection(int layer) const {
  return std::find(config_.selection_layers.begin(), config_.selection_layers.end(), layer) != config_.selection_layers.end();
}

int DecodeRuntime::latest_selection(int layer) const {
  int latest = -1;
  for (std::size_t i = 0; i < config_.selection_layers.size(); ++i) if (config_.selection_layers[i] <= layer) latest = static_cast<int>(i);
  return latest;
}

int DecodeRuntime::allocate(std::string* error) {
  const Config& c = config_;
  // Workspace sizes come from the library (they depend on the device), so ask before checking memory.
  std::size_t attention_ws = 0, sparse_ws = 0, head_ws = 0, select_ws = 0;
  // The paged variants' plans may differ (their occupancy): ask the queries of the layout the runtime calls.
  // The plan of the variants that will run: per layout and cache dtype (the FP8 queries take the format too).
  const auto query = [&](auto fp8_query, auto query_in_dtype, int32_t rows, auto... rest) {
    return fp8() ? fp8_query(c.batch, c.q_heads, c.kv_heads, c.head_dim, rows, *c.fp8_format, c.dtype, rest...)
                 : query_in_dtype(c.batch, c.q_heads, c.kv_heads, c.head_dim, rows, c.dtype, rest...);
  };
  const auto full_fp8 = paged() ? lim_fp8_paged_decode_attention_workspace_size : lim_fp8_decode_attention_workspace_size;
  const auto full = paged() ? lim_paged_decode_attention_workspace_size : lim_decode_attention_workspace_size;
  const auto list_fp8 = paged() ? lim_fp8_paged_sparse_attention_workspace_size : lim_fp8_sparse_attention_workspace_size;
  const auto list = paged() ? lim_paged_sparse_attention_workspace_size : lim_sparse_attention_workspace_size;
  LIM_CALL(query(full_fp8, full, c.capacity, &attention_ws));
  LIM_CALL(query(list_fp8, list, c.budget, 0, &sparse_ws));
  LIM_CALL(query(list_fp8, list, c.budget, 1, &head_ws));
  LIM_CALL(lim_select_lessismore_workspace_size(c.batch, c.q_heads, c.capacity, c.budget, c.recency_ratio, c.sinks, &select_ws));
  const std::size_t needed = device_bytes(c) + attention_ws + sparse_ws + head_ws + select_ws;
  std::size_t free_bytes = 0, total_bytes = 0;
  CUDA_CALL(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (needed > free_bytes) {
    *error = "the runtime needs " + gigabytes(needed) + ", " + gigabytes(free_bytes) + " free of " + gigabytes(total_bytes) +
             " on the GPU; use a smaller batch, context or model";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  CUDA_CALL(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CALL(cudaEventCreate(&start_));
  CUDA_CALL(cudaEventCreate(&stop_));

  const std::size_t e = 2, L = c.layers, B = c.batch, S = c.selection_layers.size();
  cache_elems_ = B * c.kv_heads * cache_positions(c) * c.head_dim;
  if (paged()) {
    if ((c.page_size & (c.page_size - 1)) != 0) {
      *error = "page size " + std::to_string(c.page_size) + " is not a power of two";
      return LIM_ERROR_INVALID_ARGUMENT;
    }
    // Every request's pages in a shuffled order of the pool, as an engine's allocator leaves them.
    pages_per_seq_ = static_cast<int>(cache_positions(c) / c.page_size);
    std::vector<int32_t> table(B * pages_per_seq_);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(c.seed));
    int status = block_table_.allocate(table.size() * 4, error);
    if (status != LIM_OK) return status;
    CUDA_CALL(cudaMemcpy(block_table_.get(), table.data(), table.size() * 4, cudaMemcpyHostToDevice));
  }
  int status = LIM_OK;
  for (auto [array, bytes] : std::initializer_list<std::pair<DeviceArray*, std::size_t>>{
           {&k_cache_, L * cache_elems_ * cache_element_bytes(c)}, {&v_cache_, L * cache_elems_ * cache_element_bytes(c)},
           {&q_, L * B * c.q_heads * c.head_dim * e}, {&out_, L * B * c.q_heads * c.head_dim * e},
           {&k_new_, L * B * c.kv_heads * c.head_dim * e}, {&v_new_, L * B * c.kv_heads * c.head_dim * e},
           {&full_out_, B * c.q_heads * c.head_dim * e}, {&seqlens_, B * 4},
           {&lse_, S * B * c.q_heads * 4}, {&logits_, S * B * c.q_heads * static_cast<std::size_t>(c.capacity) * 4},
           {&shared_set_, S * B * c.budget * 4}, {&shared_counts_, S * B * 4},
           {&head_set_, S * B * c.q_heads * c.budget * 4}, {&head_counts_, S * B * c.q_heads * 4}, {&recall_, B * c.q_heads * 4},
           {&attention_ws_, attention_ws}, {&sparse_ws_, sparse_ws}, {&head_ws_, head_ws}, {&select_ws_, select_ws}}) {
    if ((status = array->allocate(bytes, error)) != LIM_OK) return status;
  }
  // The zero fills ran on the legacy stream, which this non-blocking stream does not wait for.
  CUDA_CALL(cudaDeviceSynchronize());
  if ((status = reset(error)) != LIM_OK) return status;
  if (c.synthetic) {
    for (int l = 0; l < c.layers; ++l) {
      if ((status = synthesize(l, error)) != LIM_OK) return status;
    }
    LIM_CALL(lim_check_device_status(stream_));
  }
  return LIM_OK;
}

int DecodeRuntime::reset(std::string* error) {
  std::vector<int32_t> lengths(config_.batch, config_.context);
  CUDA_CALL(cudaMemcpyAsync(seqlens_.get(), lengths.data(), lengths.size() * 4, cudaMemcpyHostToDevice, stream_));
  CUDA_CALL(cudaStreamSynchronize(stream_));
  return LIM_OK;
}

int DecodeRuntime::record_attention(Policy policy, std::string* error) {
  const Config& c = config_;
  const std::size_t e = 2, B = c.batch;
  const int64_t qb = static_cast<int64_t>(c.q_heads) * c.head_dim;
  const int32_t* seqlens = static_cast<const int32_t*>(seqlens_.get());
  int status = LIM_OK;
  for (int l = 0; l < c.layers; ++l) {
    const char* q = static_cast<const char*>(q_.get()) + l * B * qb * e;
    char* out = static_cast<char*>(out_.get()) + l * B * qb * e;
    const int s = latest_selection(l);
    if (policy == Policy::Full || s < 0) {
      if ((status = attention(l, q, out, nullptr, nullptr, error)) != LIM_OK) return status;
      continue;
    }
    int32_t* shared_set = static_cast<int32_t*>(shared_set_.get()) + s * B * c.budget;
    int32_t* shared_counts = static_cast<int32_t*>(shared_counts_.get()) + s * B;
    int32_t* head_set = static_cast<int32_t*>(head_set_.get()) + s * B * c.q_heads * c.budget;
    int32_t* head_counts = static_cast<int32_t*>(head_counts_.get()) + s * B * c.q_heads;
    if (is_selection(l)) {
      // A selection layer: exact attention, plus every head's logits, ranked into the token set(s).
      float* lse = static_cast<float*>(lse_.get()) + s * B * c.q_heads;
      float* logits = static_cast<float*>(logits_.get()) + s * B * c.q_heads * static_cast<std::size_t>(c.capacity);
      const int64_t lb = static_cast<int64_t>(c.q_heads) * c.capacity, lh = c.capacity;
      if ((status = attention(l, q, out, lse, logits, error)) != LIM_OK) return status;
      if (policy == Policy::LessIsMore) {
        LIM_CALL(lim_select_lessismore(logits, lb, lh, seqlens, shared_set, c.budget, shared_counts, c.batch, c.q_heads, c.capacity, c.budget,
                                       c.recency_ratio, c.sinks, select_ws_.get(), select_ws_.bytes(), stream_));
      } else {
        LIM_CALL(lim_select_per_head(logits, lb, lh, seqlens, head_set, static_cast<int64_t>(c.q_heads) * c.budget, c.budget, head_counts, c.batch,
                                     c.q_heads, c.capacity, c.budget, stream_));
      }
    } else if (policy == Policy::LessIsMore) {
      if ((status = sparse_attention(l, q, out, shared_set, shared_counts, false, error)) != LIM_OK) return status;
    } else {
      if ((status = sparse_attention(l, q, out, head_set, head_counts, true, error)) != LIM_OK) return status;
    }
  }
  return LIM_OK;
}

int DecodeRuntime::record_step(Policy policy, std::string* error) {
  const Config& c = config_;
  const std::size_t e = 2, B = c.batch;
  int32_t* seqlens = static_cast<int32_t*>(seqlens_.get());
  LIM_CALL(lim_advance_seqlens(seqlens, c.batch, c.capacity, stream_));
  for (int l = 0; l < c.layers; ++l) {
    char* q = static_cast<char*>(q_.get()) + l * B * c.q_heads * c.head_dim * e;
    char* k_new = static_cast<char*>(k_new_.get()) + l * B * c.kv_heads * c.head_dim * e;
    char* v_new = static_cast<char*>(v_new_.get()) + l * B * c.kv_heads * c.head_dim * e;
    LIM_CALL(lim_synthesize_step(q, k_new, v_new, seqlens, c.batch, c.q_heads, c.kv_heads, c.head_dim, c.dtype, c.seed, l, stream_));
    const int status = append(l, k_new, v_new, error);
    if (status != LIM_OK) return status;
  }
  // External records: inside a capture a plain record only orders work; these become timing nodes.
  CUDA_CALL(cudaEventRecordWithFlags(start_, stream_, cudaEventRecordExternal));
  const int status = record_attention(policy, error);
  if (status != LIM_OK) return status;
  CUDA_CALL(cudaEventRecordWithFlags(stop_, stream_, cudaEventRecordExternal));
  return LIM_OK;
}

int DecodeRuntime::step(Policy policy, StepResult* result, std::string* error) {
  if (!config_.synthetic) {
    if (error) *error = "step() makes synthetic tokens; this runtime holds uploaded data: use attend()";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  cudaGraphExec_t& exec = graphs_[static_cast<int>(policy)];
  if (exec == nullptr) {
    // Run the attention once outside the capture, so that one-time set-up (shared-memory opt-ins) is done.
    int status = attend(policy, error);
    if (status != LIM_OK) return status;
    cudaGraph_t graph = nullptr;
    CUDA_CALL(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    status = record_step(policy, error);
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    if (status != LIM_OK) {
      if (graph != nullptr) cudaGraphDestroy(graph);
      if (error) *error = std::string("capturing the ") + policy_name(policy) + " step: " + *error;
      return status;
    }
    CUDA_CALL(end);
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_CALL(inst);
  }
  CUDA_CALL(cudaGraphLaunch(exec, stream_));
  LIM_CALL(lim_check_device_status(stream_));  // waits, and reports bad input the kernels met
  CUDA_CALL(cudaEventElapsedTime(&result->attention_ms, start_, stop_));
  return LIM_OK;
}

int DecodeRuntime::attend(Policy policy, std::string* error) {
  const int status = record_attention(policy, error);
  if (status != LIM_OK) return status;
  LIM_CALL(lim_check_device_status(stream_));
  return LIM_OK;
}

int DecodeRuntime::recall(Policy policy, std::vector<std::vector<float>>* per_layer, std::string* error) {
  const Config& c = config_;
  if (policy == Policy::Full) {
    if (error) *error = "recall measures a selected token set: ask for lessismore or tidaldecode";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  const std::size_t B = c.batch;
  per_layer->clear();
  for (std::size_t s = 0; s < c.selection_layers.size(); ++s) {
    const float* logits = static_cast<const float*>(logits_.get()) + s * B * c.q_heads * static_cast<std::size_t>(c.capacity);
    const float* lse = static_cast<const float*>(lse_.get()) + s * B * c.q_heads;
    const bool shared = policy == Policy::LessIsMore;
    const int32_t* set = shared ? static_cast<const int32_t*>(shared_set_.get()) + s * B * c.budget
                                : static_cast<const int32_t*>(head_set_.get()) + s * B * c.q_heads * c.budget;
    const int32_t* counts = shared ? static_cast<const int32_t*>(shared_counts_.get()) + s * B : static_cast<const int32_t*>(head_counts_.get()) + s * B * c.q_heads;
    LIM_CALL(lim_attention_recall(logits, static_cast<int64_t>(c.q_heads) * c.capacity, c.capacity, c.capacity, lse, set,
                                  shared ? c.budget : static_cast<int64_t>(c.q_heads) * c.budget, shared ? 0 : c.budget, counts,
                                  static_cast<float*>(recall_.get()), c.batch, c.q_heads, shared ? 1 : c.q_heads, c.budget, stream_));
    std::vector<float> values(B * c.q_heads);
    CUDA_CALL(cudaMemcpyAsync(values.data(), recall_.get(), values.size() * 4, cudaMemcpyDeviceToHost, stream_));
    LIM_CALL(lim_check_device_status(stream_));
    per_layer->push_back(std::move(values));
  }
  return LIM_OK;
}

int DecodeRuntime::full_output(int layer, std::vector<uint16_t>* out, std::string* error) {
  const Config& c = config_;
  if (layer < 0 || layer >= c.layers) {
    if (error) *error = "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.layers) + ")";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  const std::size_t e = 2, B = c.batch;
  const int64_t qb = static_cast<int64_t>(c.q_heads) * c.head_dim;
  const int status = attention(layer, static_cast<const char*>(q_.get()) + layer * B * qb * e, full_out_.get(), nullptr, nullptr, error);
  if (status != LIM_OK) return status;
  return read(full_out_.get(), B * qb, out, error);
}

int DecodeRuntime::read(const void* device, std::size_t elements, std::vector<uint16_t>* out, std::string* error) {
  out->resize(elements);
  CUDA_CALL(cudaMemcpyAsync(out->data(), device, elements * 2, cudaMemcpyDeviceToHost, stream_));
  LIM_CALL(lim_check_device_status(stream_));
  return LIM_OK;
}

int DecodeRuntime::read_layer(Buffer which, int layer, std::vector<uint16_t>* out, std::string* error) {
  const Config& c = config_;
  if (layer < 0 || layer >= c.layers) {
    if (error) *error = "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.layers) + ")";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  const std::size_t B = c.batch, e = 2;
  const std::size_t q_elems = B * c.q_heads * c.head_dim, kv_elems = B * c.kv_heads * c.head_dim;
  switch (which) {
    case Buffer::Query: return read(static_cast<char*>(q_.get()) + layer * q_elems * e, q_elems, out, error);
    case Buffer::Output: return read(static_cast<char*>(out_.get()) + layer * q_elems * e, q_elems, out, error);
    case Buffer::NewKey: return read(static_cast<char*>(k_new_.get()) + layer * kv_elems * e, kv_elems, out, error);
    case Buffer::KeyCache:
      if (paged() || fp8()) break;
      return read(static_cast<char*>(k_cache_.get()) + layer * cache_elems_ * e, cache_elems_, out, error);
    case Buffer::ValueCache:
      if (paged() || fp8()) break;
      return read(static_cast<char*>(v_cache_.get()) + layer * cache_elems_ * e, cache_elems_, out, error);
  }
  if (error) {
    *error = fp8() ? "the caches of an FP8 runtime hold bytes, not 16-bit elements: read them from a runtime with caches in the dtype"
                   : "the caches of a paged runtime are pools of shuffled pages, not [batch, kv_heads, capacity, head_dim]: read them from a contiguous runtime";
  }
  return LIM_ERROR_INVALID_ARGUMENT;
}

int DecodeRuntime::seqlens(std::vector<int32_t>* out, std::string* error) {
  out->resize(config_.batch);
  CUDA_CALL(cudaMemcpyAsync(out->data(), seqlens_.get(), out->size() * 4, cudaMemcpyDeviceToHost, stream_));
  CUDA_CALL(cudaStreamSynchronize(stream_));
  return LIM_OK;
}

int DecodeRuntime::upload_layer(int layer, const void* k, const void* v, const void* q, std::string* error) {
  const Config& c = config_;
  if (layer < 0 || layer >= c.layers) {
    if (error) *error = "layer " + std::to_string(layer) + " is outside [0, " + std::to_string(c.layers) + ")";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  if (paged() || fp8()) {
    if (error) *error = "uploaded caches go into contiguous caches in the dtype; create the runtime without a page size or FP8";
    return LIM_ERROR_INVALID_ARGUMENT;
  }
  const std::size_t e = 2, B = c.batch;
  const std::size_t row = static_cast<std::size_t>(c.context) * c.head_dim * e;   // one head's prompt in the caller's layout
  const std::size_t pitch = static_cast<std::size_t>(c.capacity) * c.head_dim * e;  // one head in the cache
  char* kc = static_cast<char*>(k_cache_.get()) + layer * cache_elems_ * e;
  char* vc = static_cast<char*>(v_cache_.get()) + layer * cache_elems_ * e;
  CUDA_CALL(cudaMemcpy2DAsync(kc, pitch, k, row, row, B * c.kv_heads, cudaMemcpyHostToDevice, stream_));
  CUDA_CALL(cudaMemcpy2DAsync(vc, pitch, v, row, row, B * c.kv_heads, cudaMemcpyHostToDevice, stream_));
  CUDA_CALL(cudaMemcpyAsync(static_cast<char*>(q_.get()) + layer * B * c.q_heads * c.head_dim * e, q, B * c.q_heads * c.head_dim * e,
                            cudaMemcpyHostToDevice, stream_));
  CUDA_CALL(cudaStreamSynchronize(stream_));
  return LIM_OK;
}

}  // namespace lim_runtime
