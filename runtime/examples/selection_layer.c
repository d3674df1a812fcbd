/* selection_layer.c: one LessIsMore selection layer through the C ABI, as another engine would call it.
 *
 *   build/lim_example [batch] [context] [head_dim] [num_q_heads] [num_kv_heads] [budget]
 *
 * Fills a bf16 KV cache with random values and, for a ragged batch (request b holds context - 37 * b
 * tokens), runs full decode attention that also writes the scaled logits, selects each request's
 * LessIsMore token set (budget K, recency ratio 0.25, 4 sinks) and measures the set's attention recall.
 * Every status is checked. The tests compare results with float64 references; this program shows the
 * calls (and is what compute-sanitizer runs).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cuda_runtime_api.h>

#include "lim.h"

#define CHECK_CUDA(call)                                                                  \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                            \
    }                                                                                     \
  } while (0)

#define CHECK_LIM(call)                                                   \
  do {                                                                    \
    if ((call) != LIM_OK) {                                               \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, lim_last_error()); \
      exit(1);                                                            \
    }                                                                     \
  } while (0)

/* float -> bf16 bits, rounding to nearest even. */
static uint16_t to_bf16(float f) {
  union { float f; uint32_t u; } v = {f};
  return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

static float from_bf16(uint16_t h) {
  union { uint32_t u; float f; } v = {(uint32_t)h << 16};
  return v.f;
}

static void* upload_random_bf16(size_t count) {
  uint16_t* host = (uint16_t*)malloc(count * sizeof(uint16_t));
  for (size_t i = 0; i < count; ++i) host[i] = to_bf16((float)rand() / RAND_MAX * 2.0f - 1.0f);
  void* dev = NULL;
  CHECK_CUDA(cudaMalloc(&dev, count * sizeof(uint16_t)));
  CHECK_CUDA(cudaMemcpy(dev, host, count * sizeof(uint16_t), cudaMemcpyHostToDevice));
  free(host);
  return dev;
}

int main(int argc, char** argv) {
  const int batch = argc > 1 ? atoi(argv[1]) : 3;
  const int context = argc > 2 ? atoi(argv[2]) : 5000;
  const int head_dim = argc > 3 ? atoi(argv[3]) : 128;
  const int hq = argc > 4 ? atoi(argv[4]) : 32;
  const int hkv = argc > 5 ? atoi(argv[5]) : 8;
  const int budget = argc > 6 ? atoi(argv[6]) : 256;
  srand(1);

  CHECK_LIM(lim_check_device(0)); /* also prepares the device-status word */
  printf("liblim %s, built for sm_%s\n", lim_version(), lim_built_architectures());

  /* Caches [batch, hkv, context, head_dim]; queries and output [batch, hq, head_dim]; all contiguous. */
  const size_t cache = (size_t)batch * hkv * context * head_dim;
  void* k = upload_random_bf16(cache);
  void* v = upload_random_bf16(cache);
  void* q = upload_random_bf16((size_t)batch * hq * head_dim);
  void* out = NULL;
  float* lse = NULL;
  int32_t* seqlens = NULL;
  CHECK_CUDA(cudaMalloc(&out, (size_t)batch * hq * head_dim * 2));
  CHECK_CUDA(cudaMalloc((void**)&lse, (size_t)batch * hq * sizeof(float)));
  CHECK_CUDA(cudaMalloc((void**)&seqlens, batch * sizeof(int32_t)));
  int32_t* lens = (int32_t*)malloc(batch * sizeof(int32_t));
  for (int b = 0; b < batch; ++b) lens[b] = context - 37 * b > 1 ? context - 37 * b : 1;
  CHECK_CUDA(cudaMemcpy(seqlens, lens, batch * sizeof(int32_t), cudaMemcpyHostToDevice));

  size_t workspace_bytes = 0;
  CHECK_LIM(lim_decode_attention_workspace_size(batch, hq, hkv, head_dim, context, LIM_DTYPE_BF16, &workspace_bytes));
  void* workspace = NULL;
  if (workspace_bytes > 0) {
    CHECK_CUDA(cudaMalloc(&workspace, workspace_bytes));
    CHECK_CUDA(cudaMemset(workspace, 0, workspace_bytes)); /* once: the split counters start at 0, and every call leaves them so */
  }

  const int64_t kv_b = (int64_t)hkv * context * head_dim, kv_h = (int64_t)context * head_dim, kv_n = head_dim;
  /* The selection layer's attention: the output, its log-sum-exp, and every head's logits [batch, hq, context]. */
  float* logits = NULL;
  CHECK_CUDA(cudaMalloc((void**)&logits, (size_t)batch * hq * context * sizeof(float)));
#define ATTEND(stream)                                                                                                              \
  lim_decode_attention(q, (int64_t)hq * head_dim, head_dim, k, kv_b, kv_h, kv_n, v, kv_b, kv_h, kv_n, seqlens, out, (int64_t)hq * head_dim, \
                       head_dim, lse, logits, (int64_t)hq * context, context, batch, hq, hkv, head_dim, context, context, LIM_DTYPE_BF16,  \
                       1.0f / sqrtf((float)head_dim), workspace, workspace_bytes, stream)
  CHECK_LIM(ATTEND(0));

  /* One token set per request, shared by all heads: budget positions (or all n when n <= budget), ascending. */
  int32_t* indices = NULL;
  int32_t* counts = NULL;
  float* recall = NULL;
  void* select_workspace = NULL;
  size_t select_bytes = 0;
  CHECK_CUDA(cudaMalloc((void**)&indices, (size_t)batch * budget * sizeof(int32_t)));
  CHECK_CUDA(cudaMalloc((void**)&counts, batch * sizeof(int32_t)));
  CHECK_CUDA(cudaMalloc((void**)&recall, (size_t)batch * hq * sizeof(float)));
  CHECK_LIM(lim_select_lessismore_workspace_size(batch, hq, context, budget, 0.25f, 4, &select_bytes));
  CHECK_CUDA(cudaMalloc(&select_workspace, select_bytes));
  CHECK_LIM(lim_select_lessismore(logits, (int64_t)hq * context, context, seqlens, indices, budget, counts, batch, hq, context, budget, 0.25f, 4,
                                  select_workspace, select_bytes, 0));
  /* How much of each head's attention the shared set keeps. */
  CHECK_LIM(lim_attention_recall(logits, (int64_t)hq * context, context, context, lse, indices, budget, 0, counts, recall, batch, hq, 1, budget, 0));
  CHECK_LIM(lim_check_device_status(0)); /* waits, and reports bad input the kernels found on the device */

  float* host_recall = (float*)malloc((size_t)batch * hq * sizeof(float));
  CHECK_CUDA(cudaMemcpy(host_recall, recall, (size_t)batch * hq * sizeof(float), cudaMemcpyDeviceToHost));
  float min_recall = 1.0f;
  for (int i = 0; i < batch * hq; ++i) min_recall = host_recall[i] < min_recall ? host_recall[i] : min_recall;

  const size_t n_out = (size_t)batch * hq * head_dim;
  uint16_t* host_out = (uint16_t*)malloc(n_out * 2);
  CHECK_CUDA(cudaMemcpy(host_out, out, n_out * 2, cudaMemcpyDeviceToHost));
  double checksum = 0.0;
  for (size_t i = 0; i < n_out; ++i) checksum += from_bf16(host_out[i]);
  printf("decode attention: batch %d, context %d, head_dim %d, heads %d/%d, workspace %zu bytes, checksum %.6f\n", batch, context,
         head_dim, hq, hkv, workspace_bytes, checksum);

  /* The same call captured once in a CUDA graph and replayed on a poisoned output: same plan, same workspace,
     and the same bits each time (the split merge happens inside the kernel, its counters back at 0). */
  cudaStream_t stream;
  cudaGraph_t graph;
  cudaGraphExec_t replay;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  CHECK_LIM(ATTEND(stream));
  CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
  CHECK_CUDA(cudaGraphInstantiate(&replay, graph, 0));
  uint16_t* replayed = (uint16_t*)malloc(n_out * 2);
  for (int i = 0; i < 3; ++i) {
    CHECK_CUDA(cudaMemsetAsync(out, 0xff, n_out * 2, stream));
    CHECK_CUDA(cudaGraphLaunch(replay, stream));
    CHECK_CUDA(cudaMemcpyAsync(replayed, out, n_out * 2, cudaMemcpyDeviceToHost, stream));
    CHECK_CUDA(cudaStreamSynchronize(stream));
    for (size_t j = 0; j < n_out; ++j) {
      if (replayed[j] != host_out[j]) {
        fprintf(stderr, "graph replay %d: output element %zu is 0x%04x, the direct call gave 0x%04x\n", i, j, replayed[j], host_out[j]);
        return 1;
      }
    }
  }
  CHECK_LIM(lim_check_device_status(stream));
  printf("3 CUDA-graph replays of the attention: outputs identical to the direct call\n");
  free(replayed);
  cudaGraphExecDestroy(replay);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  printf("LessIsMore set of %d tokens: lowest attention recall over requests and heads %.4f (random data)\n", budget, min_recall);

  free(host_recall);
  cudaFree(select_workspace);
  cudaFree(recall);
  cudaFree(counts);
  cudaFree(indices);
  cudaFree(logits);
  free(host_out);
  free(lens);
  cudaFree(workspace);
  cudaFree(seqlens);
  cudaFree(lse);
  cudaFree(out);
  cudaFree(q);
  cudaFree(v);
  cudaFree(k);
  return 0;
}
