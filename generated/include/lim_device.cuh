// lim_device.cuh: the device primitives that generated kernels call (kernel-independent).
// Copied into generated/include by `lim generate`; edit templates/device/lim_device.cuh instead.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include <atomic>
#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda/std/type_traits>

#include "lim_variants.h"

namespace lim {

// ---- Element conversion ----------------------------------------------------------------------------

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f32(__nv_fp8_e4m3 x) { return static_cast<float>(x); }
__device__ __forceinline__ float to_f32(__nv_fp8_e5m2 x) { return static_cast<float>(x); }
__device__ __forceinline__ int to_value(int x) { return x; }
__device__ __forceinline__ unsigned to_value(unsigned x) { return x; }
__device__ __forceinline__ float to_value(float x) { return x; }
__device__ __forceinline__ float to_value(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_value(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_value(__nv_fp8_e4m3 x) { return static_cast<float>(x); }
__device__ __forceinline__ float to_value(__nv_fp8_e5m2 x) { return static_cast<float>(x); }

/** Whether T is one of the FP8 formats a cache can hold. */
template <typename T>
inline constexpr bool is_fp8_v = cuda::std::is_same_v<T, __nv_fp8_e4m3> || cuda::std::is_same_v<T, __nv_fp8_e5m2>;

/**
 * A register value (f32, i32, u32) converted to a storage type, rounding to nearest for 16-bit floats. FP8
 * rounds to nearest and saturates: a value beyond the largest finite one (+-448 in E4M3, +-57344 in E5M2),
 * infinities included, becomes it, as vLLM's FP8 cache writes do; NaN stays NaN.
 */
template <typename T, typename V>
__device__ __forceinline__ T convert(V v) {
  if constexpr (cuda::std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (cuda::std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (is_fp8_v<T>) {
    T out;
    out.__x = __nv_cvt_float_to_fp8(static_cast<float>(v), __NV_SATFINITE, cuda::std::is_same_v<T, __nv_fp8_e4m3> ? __NV_E4M3 : __NV_E5M2);
    return out;
  } else {
    return static_cast<T>(v);
  }
}

/** Loads through the read-only data cache for inputs (const T), plainly otherwise (device or shared memory). */
template <typename T>
__device__ __forceinline__ cuda::std::remove_const_t<T> load_elem(T* p) {
  if constexpr (cuda::std::is_const_v<T> && is_fp8_v<cuda::std::remove_const_t<T>>) {
    cuda::std::remove_const_t<T> out;  // __ldg has no FP8 overload: read the byte
    out.__x = __ldg(reinterpret_cast<const unsigned char*>(p));
    return out;
  } else if constexpr (cuda::std::is_const_v<T>) {
    return __ldg(p);
  } else {
    return *p;
  }
}

// ---- Reading ahead of the preceding kernel (sm_90) -----------------------------------------------------

/**
 * Starts moving the 128-byte line holding p into the L2, loading nothing. Safe before
 * wait_for_preceding_grid(): every SM's writes meet in the L2, so a line fetched there early is never stale
 * (unlike a line in this SM's L1, which a plain load could leave behind).
 */
__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

/**
 * prefetch_l2() on every 128-byte line of `elements` elements from `row`, from the line holding its first
 * byte (a row need not start on a line: allocations do, so the line stays inside the row's allocation).
 */
template <typename T>
__device__ __forceinline__ void prefetch_lines(const T* row, int elements) {
  const char* end = reinterpret_cast<const char*>(row + elements);
  for (const char* line = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(row) & ~uintptr_t{127}); line < end; line += 128) prefetch_l2(line);
}

/**
 * Reads an int at the L2 (a relaxed load at GPU scope: never from or into this SM's L1). Before
 * wait_for_preceding_grid() the preceding kernel may still be writing it: the value may be stale, so it is a
 * hint (an address to prefetch), never data.
 */
__device__ __forceinline__ int peek(const int* p) {
  int v;
  asm volatile("ld.relaxed.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// ---- Tensors in device memory ----------------------------------------------------------------------

/**
 * The row address a cache tensor's stage_row() wrote into two words of shared memory, from those words (low
 * first: the GPU is little-endian). staged_ref() takes the words rather than the slot so that a kernel can
 * read the words of several rows into registers before any of their copies.
 */
template <typename T>
__device__ __forceinline__ T* staged_row(unsigned low, unsigned high) {
  return reinterpret_cast<T*>((static_cast<unsigned long long>(high) << 32) | low);
}

/**
 * A rank-R view of a lim_tensor kernel argument. It refers to the __grid_constant__ parameter, so pointer
 * and strides are read from the parameter bank rather than copied into registers. The last dimension is
 * contiguous (the C ABI checks it); the others use 64-bit element strides.
 */
template <typename T, int R>
struct Tensor {
  const lim_tensor& arg;

  __device__ __forceinline__ explicit Tensor(const lim_tensor& a) : arg(a) {}

  __device__ __forceinline__ bool present() const { return arg.data != nullptr; }

  /** A contiguous cache [B, H, N, D] is one page per request (see PagedTensor). */
  __device__ __forceinline__ int page(int b, int) const { return b; }
  __device__ __forceinline__ int page_entry(int b, int) const { return b; }
  __device__ __forceinline__ int checked_page(int b, int, int) const { return b; }
  __device__ __forceinline__ T* page_ref(int page, int h, int position, int d) const { return ptr_at(page, h, position, d); }

  /** The address of the row (request `page`, `position`) at head 0 into two words of shared memory; staged_ref adds head and element to those words. */
  __device__ __forceinline__ void stage_row(unsigned* slot, int page, int position) const {
    *reinterpret_cast<T**>(slot) = page_ref(page, 0, position, 0);
  }
  __device__ __forceinline__ T* staged_ref(unsigned low, unsigned high, int h, int d) const {
    return staged_row<T>(low, high) + (h * arg.stride[1] + d);
  }
  /** Prefetches the first `elements` elements of row (b, h, position) into the L2, line by line (see prefetch_l2). */
  __device__ __forceinline__ void prefetch_row(int b, int h, int position, int elements) const { prefetch_lines(ptr_at(b, h, position, 0), elements); }

  template <typename... I>
  __device__ __forceinline__ T* ptr_at(I... i) const {
    static_assert(sizeof...(I) == R, "one index per dimension");
    const int64_t idx[R] = {static_cast<int64_t>(i)...};
    int64_t off = idx[R - 1];
#pragma unroll
    for (int d = 0; d < R - 1; ++d) off += idx[d] * arg.stride[d];
    return static_cast<T*>(arg.data) + off;
  }

  /**
   * Reads one element. A tensor the kernel writes is read from the L2 (ld.global.cg): other blocks may
   * have written it during this launch, and the SM's L1 is not coherent with their writes.
   */
  template <typename... I>
  __device__ __forceinline__ auto load(I... i) const {
    if constexpr (!cuda::std::is_const_v<T> && sizeof(T) == 4) {
      return to_value(__ldcg(ptr_at(i...)));
    } else {
      return to_value(load_elem(ptr_at(i...)));
    }
  }

  template <typename V, typename... I>
  __device__ __forceinline__ void store(V v, I... i) const {
    *ptr_at(i...) = convert<T>(v);
  }

  template <typename V, typename... I>
  __device__ __forceinline__ V atomic_add(V v, I... i) const {
    return atomicAdd(ptr_at(i...), v);
  }

  template <typename V, typename... I>
  __device__ __forceinline__ V atomic_min(V v, I... i) const {
    return atomicMin(ptr_at(i...), v);
  }
};

/**
 * A paged K or V cache seen as [B, H, N, D] by logical position (a lim_cache_tensor argument of a paged
 * variant): position n of request b lies in page block_table[r][n >> page_shift], at slot n & (page_size - 1)
 * of that page, r = b or table_rows[b] (SGLang's req_pool_indices into req_to_token). page() is -1 where the
 * table names no page of the pool (an entry outside [0, num_pages), a row outside [0, table_height), or a
 * position past the table's width): the kernels report it and never read the row. page_ref() and ptr_at()
 * fall back to page 0 for a page outside the pool, so that even an unchecked read stays inside it.
 */
template <typename T>
struct PagedTensor {
  const lim_cache_tensor& arg;

  __device__ __forceinline__ explicit PagedTensor(const lim_cache_tensor& a) : arg(a) {}

  __device__ __forceinline__ bool present() const { return arg.rows.data != nullptr; }

  __device__ __forceinline__ int page(int b, int position) const { return checked_page(b, position, page_entry(b, position)); }

  /**
   * page() in two steps, for a kernel that looks rows up ahead: page_entry() loads the table entry
   * unchecked, from an address clamped into the table (always a valid read), and checked_page() checks it
   * when it is used. page() checks at once, which stalls on the load right there.
   */
  __device__ __forceinline__ int page_entry(int b, int position) const { return __ldg(entry_at(table_row(b), position)); }
  /** Where the table entry of (table row `row`, `position`) lies, clamped into the table: always a valid read. */
  __device__ __forceinline__ const int* entry_at(int row, int position) const {
    const unsigned column = min(static_cast<unsigned>(max(position, 0)) >> arg.page_shift, static_cast<unsigned>(arg.table_width) - 1);
    return arg.block_table + min(static_cast<unsigned>(row), static_cast<unsigned>(arg.table_height) - 1) * arg.block_table_stride + column;
  }
  __device__ __forceinline__ int checked_page(int b, int position, int entry) const {
    const bool in_table = position >= 0 && (static_cast<unsigned>(position) >> arg.page_shift) < static_cast<unsigned>(arg.table_width) &&
                          static_cast<unsigned>(table_row(b)) < static_cast<unsigned>(arg.table_height);
    return in_table && static_cast<unsigned>(entry) < static_cast<unsigned>(arg.num_pages) ? entry : -1;
  }
  /** The block table row of request b: b, or table_rows[b] (SGLang's req_pool_indices). */
  __device__ __forceinline__ int table_row(int b) const { return arg.table_rows != nullptr ? __ldg(arg.table_rows + b) : b; }

  __device__ __forceinline__ T* page_ref(int page, int h, int position, int d) const {
    const int64_t p = static_cast<unsigned>(page) < static_cast<unsigned>(arg.num_pages) ? page : 0;
    const int64_t slot = position & ((1 << arg.page_shift) - 1);
    return static_cast<T*>(arg.rows.data) + p * arg.rows.stride[0] + slot * arg.rows.stride[1] + h * arg.rows.stride[2] + d;
  }

  __device__ __forceinline__ T* ptr_at(int b, int h, int position, int d) const { return page_ref(page(b, position), h, position, d); }

  /** The address of (page, its slot of `position`) at head 0 into two words of shared memory (a page outside the pool: page 0); staged_ref adds head and element to those words. */
  __device__ __forceinline__ void stage_row(unsigned* slot, int page, int position) const {
    *reinterpret_cast<T**>(slot) = page_ref(page, 0, position, 0);
  }
  __device__ __forceinline__ T* staged_ref(unsigned low, unsigned high, int h, int d) const {
    return staged_row<T>(low, high) + (h * arg.rows.stride[2] + d);
  }
  /**
   * Prefetches the first `elements` elements of row (b, h, position) into the L2. The page comes from the
   * table read with peek() (an entry the preceding kernel may still be writing: a stale one only wastes the
   * prefetch), at an address clamped into the table; an entry outside the pool prefetches nothing. b is a
   * request of the launch, as everywhere (table_rows has one entry per request).
   */
  __device__ __forceinline__ void prefetch_row(int b, int h, int position, int elements) const {
    const int page = peek(entry_at(arg.table_rows != nullptr ? peek(arg.table_rows + b) : b, position));
    if (static_cast<unsigned>(page) < static_cast<unsigned>(arg.num_pages)) prefetch_lines(page_ref(page, h, position, 0), elements);
  }

  template <typename... I>
  __device__ __forceinline__ auto load(I... i) const {
    return to_value(load_elem(ptr_at(i...)));
  }

  template <typename V, typename... I>
  __device__ __forceinline__ void store(V v, I... i) const {
    *ptr_at(i...) = convert<T>(v);
  }
};

// ---- Register arrays --------------------------------------------------------------------------------

template <typename T, typename V>
__device__ __forceinline__ void fill(T& x, V v) {
  x = static_cast<T>(v);
}
template <typename T, int N, typename V>
__device__ __forceinline__ void fill(T (&a)[N], V v) {
#pragma unroll
  for (int i = 0; i < N; ++i) fill(a[i], v);
}

template <int N>
__device__ __forceinline__ float dot(const float (&a)[N], const float (&b)[N]) {
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < N; ++i) sum = fmaf(a[i], b[i], sum);
  return sum;
}

/** Converts a 16-byte chunk of storage elements to floats. */
template <typename T>
__device__ __forceinline__ void unpack16(const uint4& raw, float* out) {
  if constexpr (cuda::std::is_same_v<T, __nv_bfloat16>) {
    const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 f = __bfloat1622float2(p[j]);
      out[2 * j] = f.x;
      out[2 * j + 1] = f.y;
    }
  } else if constexpr (cuda::std::is_same_v<T, __half>) {
    const __half2* p = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 f = __half22float2(p[j]);
      out[2 * j] = f.x;
      out[2 * j + 1] = f.y;
    }
  } else {
    const T* p = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int j = 0; j < 16 / static_cast<int>(sizeof(T)); ++j) out[j] = static_cast<float>(p[j]);
  }
}

/**
 * Loads N contiguous elements into floats: 16-byte loads where the length allows, else 8-byte ones (8 FP8
 * elements, a row piece of gather_kv) (the ABI checks alignment).
 */
template <typename T, int N>
__device__ __forceinline__ void load_vec(float (&dst)[N], T* src) {
  using E = cuda::std::remove_const_t<T>;
  using Chunk = cuda::std::conditional_t<cuda::std::is_const_v<T>, const uint4, uint4>;
  using Half = cuda::std::conditional_t<cuda::std::is_const_v<T>, const uint2, uint2>;
  constexpr int kPer16 = 16 / static_cast<int>(sizeof(E));
  constexpr int kPer8 = 8 / static_cast<int>(sizeof(E));
  if constexpr (N % kPer16 == 0) {
    Chunk* chunks = reinterpret_cast<Chunk*>(src);
#pragma unroll
    for (int c = 0; c < N / kPer16; ++c) unpack16<E>(load_elem(chunks + c), dst + c * kPer16);
  } else if constexpr (kPer8 > 0 && N % kPer8 == 0) {
    Half* halves = reinterpret_cast<Half*>(src);
#pragma unroll
    for (int c = 0; c < N / kPer8; ++c) {
      const uint2 raw = load_elem(halves + c);
      const E* e = reinterpret_cast<const E*>(&raw);
#pragma unroll
      for (int j = 0; j < kPer8; ++j) dst[c * kPer8 + j] = static_cast<float>(to_value(e[j]));
    }
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) dst[i] = static_cast<float>(to_value(load_elem(src + i)));
  }
}

/** Stores N floats as contiguous storage elements: 16-byte stores where the length allows. */
template <typename T, int N>
__device__ __forceinline__ void store_vec(T* dst, const float (&src)[N]) {
  constexpr int kPer16 = 16 / static_cast<int>(sizeof(T));
  if constexpr (N % kPer16 == 0) {
#pragma unroll
    for (int c = 0; c < N / kPer16; ++c) {
      uint4 raw;
      T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
      for (int j = 0; j < kPer16; ++j) e[j] = convert<T>(src[c * kPer16 + j]);
      reinterpret_cast<uint4*>(dst)[c] = raw;
    }
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) dst[i] = convert<T>(src[i]);
  }
}

/** Copies 16 bytes as they are (read through the read-only cache when the source is an input). */
template <typename D, typename S>
__device__ __forceinline__ void copy16(D* dst, S* src) {
  using Chunk = cuda::std::conditional_t<cuda::std::is_const_v<S>, const uint4, uint4>;
  *reinterpret_cast<uint4*>(dst) = load_elem(reinterpret_cast<Chunk*>(src));
}

// ---- Asynchronous copies (sm_80+) ------------------------------------------------------------------

/** Copies BYTES from device to shared memory without passing through registers; zero-fills when !valid. */
template <int BYTES>
__device__ __forceinline__ void cp_async(void* smem, const void* gmem, bool valid) {
  static_assert(BYTES == 4 || BYTES == 8 || BYTES == 16, "cp.async moves 4, 8 or 16 bytes");
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? BYTES : 0;
  // Through the L1 (.ca), whole lines from memory (.L2::128B): decode attention streams K and V rows in 16-byte
  // pieces, and with .cg (L1 bypassed) the L2 received half as many read requests again as the rows' bytes
  // (ncu); through the L1 the copies ran 4-6% faster on the H200 (bench/NOTES.md section 22). The rows are the
  // kernel's inputs, read after the preceding grid is done, so the L1 holds no stale copy of them.
  asm volatile("cp.async.ca.shared.global.L2::128B [%0], [%1], %2, %3;\n" ::"r"(dst), "l"(gmem), "n"(BYTES), "r"(src_bytes) : "memory");
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

/** Waits until at most N of this thread's committed groups are in flight; its own copies are then visible to it. */
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ---- Tensor cores (sm_80+) -----------------------------------------------------------------------------

/** acc += A x B, m16n8k16, 16-bit float inputs (T), f32 accumulation; fragments in the PTX ISA's layout. */
template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  if constexpr (cuda::std::is_same_v<T, __half>) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

/** ldmatrix: N (2 or 4) 8 x 8 matrices of 16-bit elements; lane 8m + r addresses row r of matrix m. */
template <bool TRANSPOSE, int N, typename T>
__device__ __forceinline__ void load_matrix(unsigned (&d)[N], const T* smem) {
  static_assert(N == 2 || N == 4, "ldmatrix loads 2 or 4 matrices here");
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  if constexpr (N == 4 && TRANSPOSE) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(at));
  } else if constexpr (N == 4) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3]) : "r"(at));
  } else if constexpr (TRANSPOSE) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];" : "=r"(d[0]), "=r"(d[1]) : "r"(at));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];" : "=r"(d[0]), "=r"(d[1]) : "r"(at));
  }
}

/**
 * Four FP8 bytes (FORMAT: __nv_fp8_e4m3 or __nv_fp8_e5m2) as two fp16 pairs (exact: every value of both
 * formats is an fp16), for an fp16 mma over an FP8 cache. Plain: d[0] = bytes (0, 1), d[1] = bytes (2, 3).
 * TRANSPOSED (a register of ldmatrix .trans over FP8 rows: bytes 0-1 of one row, then 2-3 of the next):
 * d[0] = bytes (0, 2), d[1] = bytes (1, 3). E4M3 takes a cvt per pair; an E5M2 byte is the top byte of its
 * fp16, so a byte permute (which also does the transposed order) is all it takes.
 */
template <typename FORMAT, bool TRANSPOSED>
__device__ __forceinline__ void widen_fp8(unsigned (&d)[2], unsigned w) {
  static_assert(is_fp8_v<FORMAT>, "widen_fp8 widens __nv_fp8_e4m3 or __nv_fp8_e5m2");
  if constexpr (cuda::std::is_same_v<FORMAT, __nv_fp8_e5m2>) {
    // __byte_perm selectors 4-7 name the zero word's bytes: each fp16 is (byte << 8).
    d[0] = __byte_perm(w, 0u, TRANSPOSED ? 0x2404 : 0x1404);
    d[1] = __byte_perm(w, 0u, TRANSPOSED ? 0x3414 : 0x3424);
  } else {
    const unsigned pairs = TRANSPOSED ? __byte_perm(w, 0u, 0x3120) : w;
    asm("{\n.reg .b16 lo, hi;\nmov.b32 {lo, hi}, %2;\ncvt.rn.f16x2.e4m3x2 %0, lo;\ncvt.rn.f16x2.e4m3x2 %1, hi;\n}" : "=r"(d[0]), "=r"(d[1]) : "r"(pairs));
  }
}

/** The warp's 8 x 8 matrix of 16-bit elements (a fragment: lane 4r + c holds row r, columns 2c, 2c + 1), transposed. */
__device__ __forceinline__ unsigned transpose_matrix(unsigned w) {
  unsigned out;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(out) : "r"(w));
  return out;
}

/** Two floats as two 16-bit floats (round to nearest) in one u32, x in the low half. */
template <typename T>
__device__ __forceinline__ unsigned pack2(float x, float y) {
  unsigned out;
  if constexpr (cuda::std::is_same_v<T, __half>) {
    const __half2 h = __floats2half2_rn(x, y);
    out = *reinterpret_cast<const unsigned*>(&h);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
    out = *reinterpret_cast<const unsigned*>(&h);
  }
  return out;
}

/** The 4 bytes at p (two 16-bit elements), through the read-only cache for inputs. */
template <typename T>
__device__ __forceinline__ unsigned load_bits(T* p) {
  using U = cuda::std::conditional_t<cuda::std::is_const_v<T>, const unsigned, unsigned>;
  return load_elem(reinterpret_cast<U*>(p));
}

// ---- Bulk asynchronous copies, mbarriers and warp roles (sm_90) --------------------------------------

/** Thread 0 initialises `count` mbarriers of `arrivals` arrivals each; every thread of the block must call it. */
__device__ __forceinline__ void init_barriers(uint64_t* bars, int count, int arrivals) {
  if (threadIdx.x == 0) {
    for (int i = 0; i < count; ++i) {
      const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(bars + i));
      asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(at), "r"(arrivals) : "memory");
    }
    // Makes the initialisation visible to the asynchronous (copy engine) proxy.
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
}

/**
 * Copies BYTES (a multiple of 16) from device to shared memory with the copy engine; the bytes are first
 * added to the barrier's expected transaction count, so its phase cannot complete before they land.
 */
__device__ __forceinline__ void bulk_copy(void* smem, const void* gmem, int bytes, uint64_t& bar) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;" ::"r"(at), "r"(bytes) : "memory");
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
               ::"r"(dst), "l"(gmem), "r"(bytes), "r"(at) : "memory");
}

/** bulk_copy of a compile-time size. */
template <int BYTES>
__device__ __forceinline__ void bulk_copy(void* smem, const void* gmem, uint64_t& bar) {
  static_assert(BYTES >= 16 && BYTES % 16 == 0, "cp.async.bulk moves a multiple of 16 bytes");
  bulk_copy(smem, gmem, BYTES, bar);
}

/** An arrival on the barrier once this thread's cp.async copies so far have landed (counted in its arrivals). */
__device__ __forceinline__ void cp_async_arrive(uint64_t& bar) {
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(at) : "memory");
}

/** One arrival on a barrier (release: this thread's earlier memory accesses happen before the phase completes). */
__device__ __forceinline__ void barrier_arrive(uint64_t& bar) {
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
  asm volatile("{\n .reg .b64 state;\n mbarrier.arrive.shared::cta.b64 state, [%0];\n}" ::"r"(at) : "memory");
}

/** Waits for the phase of this parity to complete (acquire: what it covered is then visible). */
__device__ __forceinline__ void barrier_wait(uint64_t& bar, int parity) {
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(&bar));
  unsigned done = 0;
  do {
    asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}"
                 : "=r"(done) : "r"(at), "r"(parity) : "memory");
  } while (done == 0);
}

/** setmaxnreg: this warp group keeps COUNT registers per thread, taking more (INC) or giving some back. */
template <int COUNT, bool INC>
__device__ __forceinline__ void set_max_registers() {
  if constexpr (INC) {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(COUNT));
  } else {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(COUNT));
  }
}

/** The producer warps follow the CONSUMERS consumer threads of the block. */
template <int CONSUMERS>
__device__ __forceinline__ bool is_producer() { return threadIdx.x >= CONSUMERS; }

/** A barrier of the CONSUMERS consumer threads only (named barrier 1; __syncthreads is barrier 0). */
template <int CONSUMERS>
__device__ __forceinline__ void sync_consumers() { asm volatile("bar.sync 1, %0;" ::"n"(CONSUMERS) : "memory"); }

/** A barrier of the PRODUCERS producer threads only (named barrier 2). */
template <int PRODUCERS>
__device__ __forceinline__ void sync_producers() { asm volatile("bar.sync 2, %0;" ::"n"(PRODUCERS) : "memory"); }

// ---- Thread-block clusters --------------------------------------------------------------------------

/** This block's rank in its cluster (%cluster_ctarank). */
__device__ __forceinline__ int cluster_rank() {
  unsigned rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  return static_cast<int>(rank);
}

/** Every thread of every block of the cluster: arrive (release), then wait (acquire). */
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

/**
 * The same shared array in the cluster's block `rank` (distributed shared memory): mapa turns this block's
 * shared address into the peer's, as a generic address that loads, stores and atomics take.
 */
template <typename A>
__device__ __forceinline__ A& peer(A& local, int rank) {
  const unsigned long long own = reinterpret_cast<unsigned long long>(&local);
  unsigned long long theirs;
  asm volatile("mapa.u64 %0, %1, %2;" : "=l"(theirs) : "l"(own), "r"(rank));
  return *reinterpret_cast<A*>(theirs);
}

/**
 * Counts the block's arrival at a counter that `total` blocks share; true in the last block, which then
 * sees every write the others made before they arrived, and which leaves the counter at 0 for the next
 * launch. The participating threads (all of the block, or its CONSUMERS consumers) must all call it.
 *
 * One thread arrives for the block, after a barrier, with one atomic that both releases the block's writes
 * and acquires the others' (the barrier orders every participant's writes before it, and every read after
 * it). The increment wraps at `total` - 1 to 0, so the last block resets the counter with its arrival. A
 * fence in every thread, an add and a separate reset cost 0.2-0.3 us more per split launch at B 1 (bench/NOTES.md
 * section 23).
 *
 * The verdict reaches the other threads through the second barrier's own reduction (bar.red), not through a
 * shared flag written before a barrier and read after it. With the flag, compute-sanitizer's racecheck reported
 * the producer warps' reads against thread 0's write in every split launch (bench/NOTES.md sections 28-29); it
 * still did with the barrier's count named, with barrier 3 instead of 0, with a volatile read, and with no
 * dependent launch allowed, and it stopped only with bar.red. The reduction costs registers: D 256, G 16 FP8
 * variants fit only because their score mmas run one chain per head block (dsl/kernels/decode_attention.ts).
 */
template <int CONSUMERS = 0>
__device__ __forceinline__ bool last_to_arrive(int* counter, int total) {
  if constexpr (CONSUMERS > 0) sync_consumers<CONSUMERS>();
  else __syncthreads();
  unsigned last = 0;
  if (threadIdx.x == 0) {
    const unsigned wrap = static_cast<unsigned>(total - 1);
    unsigned before;
    asm volatile("atom.acq_rel.gpu.global.inc.u32 %0, [%1], %2;" : "=r"(before) : "l"(counter), "r"(wrap) : "memory");
    last = before == wrap;
  }
  if constexpr (CONSUMERS > 0) {
    unsigned any;  // bar.red on the consumers' named barrier (1), as sync_consumers
    asm volatile("{\n  .reg .pred mine, all;\n  setp.ne.u32 mine, %1, 0;\n  bar.red.or.pred all, 1, %2, mine;\n  selp.u32 %0, 1, 0, all;\n}"
                 : "=r"(any) : "r"(last), "n"(CONSUMERS) : "memory");
    return any != 0;
  } else {
    return __syncthreads_or(static_cast<int>(last)) != 0;
  }
}

// ---- Warp collectives -------------------------------------------------------------------------------

__device__ __forceinline__ int lane_id() { return static_cast<int>(threadIdx.x & 31u); }
__device__ __forceinline__ int warp_id() { return static_cast<int>(threadIdx.x >> 5); }

/**
 * Butterfly all-reduce over groups of W lanes S apart (S = 1: aligned consecutive lanes); every lane of the
 * warp must take part.
 */
template <int W, int S = 1>
__device__ __forceinline__ float lane_group_sum(float x) {
#pragma unroll
  for (int off = W / 2 * S; off >= S; off /= 2) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

template <int W, int S = 1>
__device__ __forceinline__ float lane_group_max(float x) {
#pragma unroll
  for (int off = W / 2 * S; off >= S; off /= 2) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, off));
  return x;
}

// ---- Arithmetic -------------------------------------------------------------------------------------

/** 2^x with the hardware approximation (relative error ~2^-22; flushes denormals; 2^-inf = 0). */
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ int ceil_div(int a, int b) { return (a + b - 1) / b; }

// ---- Programmatic dependent launch (sm_90) ------------------------------------------------------------

/** Waits until the preceding kernel in the stream has completed and its memory operations are visible. */
__device__ __forceinline__ void wait_for_preceding_grid() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

/** Once every block of this kernel has called it (or exited), a dependent kernel may start launching. */
__device__ __forceinline__ void allow_dependent_grid() { asm volatile("griddepcontrol.launch_dependents;" :::); }

// ---- Order-preserving keys ---------------------------------------------------------------------------

/** Larger float, larger key; -0 and +0 are equal; every NaN maps to 0, below -inf (key 0x007fffff). */
__device__ __forceinline__ unsigned ordered_key(float x) {
  if (isnan(x)) return 0u;
  const unsigned u = x == 0.0f ? 0u : __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float key_value(unsigned key) {
  if (key == 0u) return __uint_as_float(0x7fc00000u);
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// ---- Block collectives (CUB). Each keeps its temporary storage in static shared memory and ends with a
// barrier, so the next call may reuse it. Every thread of the block must take part. ---------------------

template <int THREADS>
__device__ __forceinline__ void block_exclusive_sum(int value, int (&out)[2]) {
  using Scan = cub::BlockScan<int, THREADS>;
  __shared__ typename Scan::TempStorage storage;
  int total = 0;
  Scan(storage).ExclusiveSum(value, out[0], total);
  out[1] = total;
  __syncthreads();
}

template <int THREADS>
__device__ __forceinline__ float block_sum(float value) {
  using Reduce = cub::BlockReduce<float, THREADS>;
  __shared__ typename Reduce::TempStorage storage;
  __shared__ float result;
  const float total = Reduce(storage).Sum(value);
  if (threadIdx.x == 0) result = total;
  __syncthreads();
  const float out = result;
  __syncthreads();
  return out;
}

/** Sorts by the keys' low `bits` bits (the caller knows the rest are equal): one radix pass per 4 bits. */
template <int THREADS, int ITEMS>
__device__ __forceinline__ void block_sort_descending(unsigned (&keys)[ITEMS], int (&values)[ITEMS], int bits = 32) {
  using Sort = cub::BlockRadixSort<unsigned, THREADS, ITEMS, int>;
  __shared__ typename Sort::TempStorage storage;
  Sort(storage).SortDescending(keys, values, 0, bits);
  __syncthreads();
}

// ---- Bad-input reports -------------------------------------------------------------------------------

/** Records the first bad-input report of a launch; the C ABI reads and clears it (lim_check_device_status). */
__device__ __forceinline__ void raise(lim_device_status* status, int site, int a, int b, int c, int d) {
  if (status == nullptr) return;
  if (atomicCAS(&status->code, 0, 1) == 0) {
    status->site = site;
    status->a = a;
    status->b = b;
    status->c = c;
    status->d = d;
    __threadfence();
  }
}

// ---- Host side: launching a generated kernel ---------------------------------------------------------

/**
 * Remembers, per device, that a kernel may use its dynamic shared memory. Without the opt-in a block may
 * use 48 KB in all, static (CUB's temporary storage) and dynamic together, so every kernel with dynamic
 * shared memory opts in once per device.
 */
struct SharedMemoryOptIn {
  std::atomic<unsigned long long> devices{0};
};

template <typename Params>
inline cudaError_t opt_in(void (*kernel)(Params), int shared_bytes, SharedMemoryOptIn& opt) {
  if (shared_bytes == 0) return cudaSuccess;
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  const unsigned long long bit = device < 64 ? (1ull << device) : 0ull;
  if (bit != 0 && (opt.devices.load() & bit) != 0) return cudaSuccess;
  err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared_bytes);
  if (err == cudaSuccess) opt.devices.fetch_or(bit);
  return err;
}

/**
 * Launches a generated kernel. One that overlaps the preceding kernel is launched as its programmatic
 * dependent (Hopper): it may start while that kernel finishes, and waits for it in
 * wait_for_preceding_grid() before reading its output. That hides most of the gap between the two.
 */
template <typename Params>
inline int launch(void (*kernel)(Params), const Params& p, dim3 grid, int threads, int shared_bytes,
                  cudaStream_t stream, SharedMemoryOptIn& opt, bool overlaps_preceding_kernel, int cluster_blocks = 1) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return static_cast<int>(cudaErrorInvalidValue);
  if (grid.x % cluster_blocks != 0) return static_cast<int>(cudaErrorInvalidClusterSize);  // whole clusters along x
  if (grid.y > 65535 || grid.z > 65535) return static_cast<int>(cudaErrorInvalidConfiguration);
  cudaError_t err = opt_in(kernel, shared_bytes, opt);
  if (err != cudaSuccess) return static_cast<int>(err);
  if (!overlaps_preceding_kernel) {
    kernel<<<grid, threads, shared_bytes, stream>>>(p);
    return static_cast<int>(cudaGetLastError());
  }
  cudaLaunchAttribute attribute;
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = dim3(threads);
  config.dynamicSmemBytes = static_cast<size_t>(shared_bytes);
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  return static_cast<int>(cudaLaunchKernelEx(&config, kernel, p));
}

template <typename Params>
inline int blocks_per_sm(void (*kernel)(Params), int threads, int shared_bytes, SharedMemoryOptIn& opt) {
  if (opt_in(kernel, shared_bytes, opt) != cudaSuccess) return 0;
  int blocks = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads, shared_bytes) != cudaSuccess) return 0;
  return blocks;
}

}  // namespace lim
