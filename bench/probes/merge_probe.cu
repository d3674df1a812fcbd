// What does merging the splits of a B 1 decode attention cost, by mechanism? A probe for decode_attention's
// split merge (bench/NOTES.md section 24), not part of the library.
//
// Each of 8 head blocks (G 4 heads of D 128) is split S ways; a block of 384 threads and ~150 KB of shared
// memory (one per SM, like the kernel) loads a chunk of rows (ROWS x 512 bytes, standing in for K and V),
// reduces it to a partial output of G x D floats and a log-sum-exp per head, then:
//   global:  writes the partial to device memory, counts its arrival with one acq_rel atomic, and the last
//            block of the head block loads every split's partial and writes the output (decode_attention now);
//   cluster: the S splits of a head block form one thread-block cluster (S <= 16; 16 is a non-portable size):
//            each block leaves its partial in its own shared memory, a cluster barrier, each block merges
//            1/S of the outputs reading its peers' shared memory, a second barrier before exit.
//   none:    one split, no merge (the floor).
// The floor (none) runs one block per head block over 1/16 of the rows. Prints the largest number of co-resident clusters per size, then microseconds per launch over CUDA-graph
// replays of 64 launches.
//
//   nvcc -O3 -std=c++17 -arch=sm_90a bench/probes/merge_probe.cu -o /tmp/merge_probe && /tmp/merge_probe

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "cuda_check.h"

constexpr int G = 4, D = 128, HEAD_BLOCKS = 8, THREADS = 384, OUTS = G * D;
constexpr int SHARED = 150 * 1024;

struct Args {
  const uint4* rows;  // [HEAD_BLOCKS][splits][rows_per_split * 32] 16-byte pieces
  float* partial_o;   // [HEAD_BLOCKS][splits][OUTS]
  float* partial_lse; // [HEAD_BLOCKS][splits][G]
  unsigned* arrivals; // [HEAD_BLOCKS]
  float* out;         // [HEAD_BLOCKS][OUTS]
  int splits, rows_per_split;
};

/** The stand-in for a split's work: every thread sums its pieces of the chunk; the partial is a function of it. */
__device__ float work(const Args& a, int hb, int split) {
  const uint4* chunk = a.rows + (static_cast<size_t>(hb) * a.splits + split) * a.rows_per_split * 32;
  unsigned acc = 0;
  for (int i = threadIdx.x; i < a.rows_per_split * 32; i += THREADS) {
    const uint4 v = chunk[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  return static_cast<float>(acc & 255) * 1e-3f + 1.0f;
}

__device__ __forceinline__ unsigned cluster_rank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
__device__ __forceinline__ float peer_load(const float* local, unsigned rank) {
  uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(local)), remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(addr), "r"(rank));
  float v;
  asm volatile("ld.shared::cluster.f32 %0, [%1];" : "=f"(v) : "r"(remote) : "memory");
  return v;
}

__global__ void __launch_bounds__(THREADS) split_none(Args a) {
  extern __shared__ float smem[];
  const int hb = blockIdx.y;
  const float x = work(a, hb, 0);
  smem[threadIdx.x] = x;
  __syncthreads();
  for (int i = threadIdx.x; i < OUTS; i += THREADS) a.out[hb * OUTS + i] = smem[i % THREADS];
}

__global__ void __launch_bounds__(THREADS) split_global(Args a) {
  extern __shared__ float smem[];
  __shared__ bool last;
  const int hb = blockIdx.y, split = blockIdx.x;
  const float x = work(a, hb, split);
  float* po = a.partial_o + (static_cast<size_t>(hb) * a.splits + split) * OUTS;
  for (int i = threadIdx.x; i < OUTS; i += THREADS) po[i] = x + i;
  if (threadIdx.x < G) a.partial_lse[(hb * a.splits + split) * G + threadIdx.x] = x;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned old;
    asm volatile("atom.acq_rel.gpu.global.inc.u32 %0, [%1], %2;" : "=r"(old) : "l"(a.arrivals + hb), "r"(a.splits - 1) : "memory");
    last = old == static_cast<unsigned>(a.splits - 1);
  }
  __syncthreads();
  if (!last) return;
  for (int i = 4 * threadIdx.x; i < OUTS; i += 4 * THREADS) {
    float4 acc = {0, 0, 0, 0};
    float sum = 0;
    for (int s0 = 0; s0 < a.splits; s0 += 16) {
      float4 o[16];
      float l[16];
#pragma unroll
      for (int j = 0; j < 16; j++) {
        const int s = min(s0 + j, a.splits - 1);
        o[j] = *reinterpret_cast<const float4*>(a.partial_o + (static_cast<size_t>(hb) * a.splits + s) * OUTS + i);
        l[j] = s0 + j < a.splits ? a.partial_lse[(hb * a.splits + s) * G + i / D] : 0.f;
      }
#pragma unroll
      for (int j = 0; j < 16; j++) {
        sum += l[j];
        acc.x += l[j] * o[j].x, acc.y += l[j] * o[j].y, acc.z += l[j] * o[j].z, acc.w += l[j] * o[j].w;
      }
    }
    *reinterpret_cast<float4*>(a.out + hb * OUTS + i) = make_float4(acc.x / sum, acc.y / sum, acc.z / sum, acc.w / sum);
  }
}

__global__ void __launch_bounds__(THREADS) split_cluster(Args a) {
  extern __shared__ float smem[];  // [OUTS] partial, [G] lse
  const int hb = blockIdx.y;
  const unsigned rank = cluster_rank();
  const float x = work(a, hb, rank);
  for (int i = threadIdx.x; i < OUTS; i += THREADS) smem[i] = x + i;
  if (threadIdx.x < G) smem[OUTS + threadIdx.x] = x;
  cluster_sync();
  const int share = OUTS / a.splits;  // outputs this block merges
  for (int i = rank * share + threadIdx.x; i < (rank + 1) * share; i += THREADS) {
    float acc = 0, sum = 0;
#pragma unroll 16
    for (int s = 0; s < a.splits; s++) {
      const float l = peer_load(smem + OUTS + i / D, s);
      sum += l;
      acc += l * peer_load(smem + i, s);
    }
    a.out[hb * OUTS + i] = acc / sum;
  }
  cluster_sync();  // peers may still read this block's shared memory
}

int main() {
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  for (auto k : {split_none, split_global, split_cluster}) CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, SHARED));
  CHECK(cudaFuncSetAttribute(split_cluster, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
  for (int c : {2, 4, 8, 16}) {
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(c, HEAD_BLOCKS);
    config.blockDim = dim3(THREADS);
    config.dynamicSmemBytes = SHARED;
    cudaLaunchAttribute attr;
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = c, attr.val.clusterDim.y = 1, attr.val.clusterDim.z = 1;
    config.attrs = &attr, config.numAttrs = 1;
    int clusters = 0;
    CHECK(cudaOccupancyMaxActiveClusters(&clusters, split_cluster, &config));
    std::printf("cluster %2d: at most %d clusters resident (%d SMs)\n", c, clusters, sms);
  }
  const int total_rows = 2048;  // list entries of one head block (K 2048)
  uint4* rows;
  float *po, *pl, *out;
  unsigned* arrivals;
  CHECK(cudaMalloc(&rows, static_cast<size_t>(HEAD_BLOCKS) * total_rows * 512));
  CHECK(cudaMemset(rows, 1, static_cast<size_t>(HEAD_BLOCKS) * total_rows * 512));
  CHECK(cudaMalloc(&po, static_cast<size_t>(HEAD_BLOCKS) * 64 * OUTS * 4));
  CHECK(cudaMalloc(&pl, HEAD_BLOCKS * 64 * G * 4));
  CHECK(cudaMalloc(&out, HEAD_BLOCKS * OUTS * 4));
  CHECK(cudaMalloc(&arrivals, HEAD_BLOCKS * 4));
  CHECK(cudaMemset(arrivals, 0, HEAD_BLOCKS * 4));
  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  std::printf("%-8s %7s %9s %9s\n", "merge", "splits", "rows/blk", "us");
  auto time = [&](const char* name, void (*kernel)(Args), int splits, int cluster, int rows_per_block) {
    Args a{rows, po, pl, arrivals, out, splits, rows_per_block};
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(splits, HEAD_BLOCKS);
    config.blockDim = dim3(THREADS);
    config.dynamicSmemBytes = SHARED;
    config.stream = stream;
    cudaLaunchAttribute attr;
    attr.id = cudaLaunchAttributeClusterDimension;
    attr.val.clusterDim.x = cluster, attr.val.clusterDim.y = 1, attr.val.clusterDim.z = 1;
    config.attrs = &attr, config.numAttrs = cluster > 1 ? 1 : 0;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < 64; i++) CHECK(cudaLaunchKernelEx(&config, kernel, a));
    CHECK(cudaStreamEndCapture(stream, &graph));
    CHECK(cudaGraphInstantiate(&exec, graph, 0));
    for (int i = 0; i < 3; i++) CHECK(cudaGraphLaunch(exec, stream));
    cudaEvent_t e0, e1;
    CHECK(cudaEventCreate(&e0));
    CHECK(cudaEventCreate(&e1));
    CHECK(cudaEventRecord(e0, stream));
    for (int i = 0; i < 10; i++) CHECK(cudaGraphLaunch(exec, stream));
    CHECK(cudaEventRecord(e1, stream));
    CHECK(cudaStreamSynchronize(stream));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, e0, e1));
    std::printf("%-8s %7d %9d %9.2f\n", name, splits, rows_per_block, ms * 1000 / 640);
    CHECK(cudaGraphExecDestroy(exec));
    CHECK(cudaGraphDestroy(graph));
  };
  // The floor: one block per head block over as many rows as one split of 16 takes.
  time("none", split_none, 1, 1, total_rows / 16);
  for (int s : {8, 16, 32}) time("global", split_global, s, 1, total_rows / s);
  for (int s : {8, 16}) time("cluster", split_cluster, s, s, total_rows / s);
  return 0;
}
