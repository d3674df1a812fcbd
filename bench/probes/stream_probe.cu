// How fast can one kernel stream a K cache into shared memory on this GPU, by copy mechanism? A probe for
// the decode-attention producer's design (bench/NOTES.md section 11), not part of the library.
//
// Each block streams a contiguous range of 256-byte rows (D 128, bf16) through a ring of `stages` tiles of
// `rows` rows: a producer warp group fills the ring, four consumer warps wait for each tile, touch one word
// per row and release it. Mechanisms: 16-byte cp.async from 128 producer threads (what decode_attention does
// now), or TMA tensor copies (cp.async.bulk.tensor, 2-D boxes of 64 x rows elements, 128-byte swizzle)
// issued by one thread. Prints the read bandwidth of each configuration.
//
//   nvcc -O3 -std=c++17 -arch=sm_90a bench/probes/stream_probe.cu -o /tmp/stream_probe && /tmp/stream_probe

#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "cuda_check.h"

constexpr int D = 128;             // elements per row
constexpr int ROW_BYTES = D * 2;   // bf16
constexpr int CONSUMER_WARPS = 4;
constexpr int PRODUCER_WARPS = 4;

__device__ __forceinline__ uint32_t smem(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void bar_init(uint64_t* b, int n) { asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem(b)), "r"(n)); }
__device__ __forceinline__ void bar_arrive(uint64_t* b) { asm volatile("{.reg .b64 s; mbarrier.arrive.shared::cta.b64 s, [%0];}" ::"r"(smem(b)) : "memory"); }
__device__ __forceinline__ void bar_expect(uint64_t* b, int bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;" ::"r"(smem(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void bar_async_arrive(uint64_t* b) { asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(smem(b)) : "memory"); }
__device__ __forceinline__ void bar_wait(uint64_t* b, int parity) {
  uint32_t done = 0;
  while (!done) {
    asm volatile("{.reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p;}"
                 : "=r"(done) : "r"(smem(b)), "r"(parity) : "memory");
  }
}

template <bool TMA>
__global__ void __launch_bounds__(32 * (CONSUMER_WARPS + PRODUCER_WARPS))
stream(const __grid_constant__ CUtensorMap map, const uint8_t* __restrict__ k, long rows_per_block, int tile_rows, int stages, float* sink) {
  extern __shared__ uint8_t dynamic[];
  uint8_t* ring = dynamic + ((1024 - (smem(dynamic) & 1023)) & 1023);  // 128-byte swizzle: 1024-byte aligned tiles
  __shared__ uint64_t full[8], empty[8];
  const int tile_bytes = tile_rows * ROW_BYTES;
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      bar_init(&full[s], 32 * PRODUCER_WARPS);
      bar_init(&empty[s], CONSUMER_WARPS);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  const long first_row = blockIdx.x * rows_per_block;
  const int tiles = static_cast<int>(rows_per_block / tile_rows);
  const int consumers = 32 * CONSUMER_WARPS;
  if (threadIdx.x >= consumers) {
    const int x = threadIdx.x - consumers;
    for (int t = 0; t < tiles; ++t) {
      const int s = t % stages;
      if (t >= stages) bar_wait(&empty[s], (t / stages - 1) & 1);
      uint8_t* dst = ring + s * tile_bytes;
      const long row0 = first_row + static_cast<long>(t) * tile_rows;
      if (TMA) {
        if (x == 0) {
          bar_expect(&full[s], tile_bytes);
          for (int seg = 0; seg < D / 64; ++seg) {
            asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
                         ::"r"(smem(dst + seg * tile_rows * 128)), "l"(reinterpret_cast<uint64_t>(&map)), "r"(seg * 64), "r"(static_cast<int>(row0)),
                           "r"(smem(&full[s]))
                         : "memory");
          }
        }
      } else {
        const int pieces = tile_rows * (ROW_BYTES / 16);
        for (int y = x; y < pieces; y += 32 * PRODUCER_WARPS) {
          const int r = y / (ROW_BYTES / 16), c = y % (ROW_BYTES / 16);
          const uint8_t* src = k + (row0 + r) * ROW_BYTES + c * 16;
          // The swizzled place of chunk c of row r, as the TMA path writes it.
          uint8_t* to = dst + (c / 8) * tile_rows * 128 + r * 128 + ((c % 8) ^ (r % 8)) * 16;
          asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(smem(to)), "l"(src) : "memory");
        }
      }
      bar_async_arrive(&full[s]);
    }
  } else {
    float acc = 0.0f;
    const int warp = threadIdx.x / 32;
    for (int t = 0; t < tiles; ++t) {
      const int s = t % stages;
      bar_wait(&full[s], (t / stages) & 1);
      const uint8_t* src = ring + s * tile_bytes;
      for (int r = threadIdx.x; r < tile_rows; r += consumers) acc += *reinterpret_cast<const float*>(src + r * 128);
      __syncwarp();
      if (threadIdx.x % 32 == 0) bar_arrive(&empty[s]);
      (void)warp;
    }
    if (acc == 12345.0f) *sink = acc;  // keeps the reads
  }
}

int main() {
  const long total_rows = 8L << 20;  // 2 GiB of rows
  uint8_t* k = nullptr;
  float* sink = nullptr;
  CHECK(cudaMalloc(&k, total_rows * ROW_BYTES));
  CHECK(cudaMemset(k, 1, total_rows * ROW_BYTES));
  CHECK(cudaMalloc(&sink, 4));
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));

  PFN_cuTensorMapEncodeTiled_v12000 encode = nullptr;
  cudaDriverEntryPointQueryResult q{};
  CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", reinterpret_cast<void**>(&encode), 12000, cudaEnableDefault, &q));

  std::printf("%-8s %5s %6s %7s %7s %9s\n", "copy", "rows", "stages", "blocks", "per SM", "TB/s");
  for (int tma = 0; tma < 2; ++tma) {
    for (int tile_rows : {32, 64, 128}) {
      for (int stages : {2, 3, 4, 6, 8}) {
        const int shared = stages * tile_rows * ROW_BYTES;
        if (shared > 200 * 1024) continue;
        CUtensorMap map{};
        const cuuint64_t dims[2] = {D, static_cast<cuuint64_t>(total_rows)};
        const cuuint64_t strides[1] = {ROW_BYTES};
        const cuuint32_t box[2] = {64, static_cast<cuuint32_t>(tile_rows)};
        const cuuint32_t unit[2] = {1, 1};
        if (encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, k, dims, strides, box, unit, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                   CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS) {
          std::printf("encode failed\n");
          return 1;
        }
        auto kernel = tma ? stream<true> : stream<false>;
        CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared + 1024));
        int per_sm = 0;
        CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, 32 * (CONSUMER_WARPS + PRODUCER_WARPS), shared + 1024));
        const int blocks = sms * per_sm;
        const long rows_per_block = (total_rows / blocks) / tile_rows * tile_rows;
        cudaEvent_t a, b;
        CHECK(cudaEventCreate(&a));
        CHECK(cudaEventCreate(&b));
        float best = 1e30f;
        for (int rep = 0; rep < 6; ++rep) {
          CHECK(cudaEventRecord(a));
          kernel<<<blocks, 32 * (CONSUMER_WARPS + PRODUCER_WARPS), shared + 1024>>>(map, k, rows_per_block, tile_rows, stages, sink);
          CHECK(cudaGetLastError());
          CHECK(cudaEventRecord(b));
          CHECK(cudaEventSynchronize(b));
          float ms = 0;
          CHECK(cudaEventElapsedTime(&ms, a, b));
          if (rep > 0 && ms < best) best = ms;
        }
        const double bytes = static_cast<double>(rows_per_block) * blocks * ROW_BYTES;
        std::printf("%-8s %5d %6d %7d %7d %9.2f\n", tma ? "tma" : "cp.async", tile_rows, stages, blocks, per_sm, bytes / (best * 1e-3) / 1e12);
      }
    }
  }
  return 0;
}
