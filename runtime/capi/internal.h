// Helpers shared by the C ABI functions: error messages, argument checks, the device-status buffer, and
// occupancy-based split planning. Nothing here is exported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lim.h"
#include "lim_variants.h"

namespace lim_capi {

/** Records the message for lim_last_error() and returns the status code. */
int fail(int code, const std::string& message);

/** Turns a CUDA error into LIM_ERROR_CUDA with the function's name and CUDA's words. */
int cuda_fail(const char* function, const char* what, int cuda_error);

/** Clears the thread's last error (called on success). */
int ok();

/** Checks the current device against the built architectures, once per device. */
int ensure_device(const char* function);

/** The current device's status buffer (allocated on first use; NULL while capturing a graph before any use). */
int device_status(const char* function, lim_device_status** status);

/** Multiprocessors of the current device. */
int multiprocessors(const char* function, int* count);

/** How a sequence of up to max_len tokens is split across blocks: splits blocks of chunk tokens each. */
struct SplitPlan {
  int splits;
  int chunk;
};

/**
 * Splits only when `blocks` (one per request and head) would leave room for more resident blocks: as many
 * splits as keep the grid within one wave, with chunks of at least min_chunk tokens rounded to a multiple
 * of granule; and, where max_chunk > 0, as many more as keep chunks within max_chunk tokens (even if that
 * takes more than one wave).
 */
SplitPlan plan_split(int64_t blocks, int max_len, int resident_blocks, int min_chunk, int granule, int max_chunk);

/** The name of a dtype for messages. */
const char* dtype_name(int dtype);

/** Whether a pointer is aligned to `bytes`. */
inline bool aligned(const void* p, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

/** Rounds up to a multiple of 256 bytes (workspace sub-buffers). */
inline std::size_t round256(std::size_t n) { return (n + 255) / 256 * 256; }

/** A lim_tensor with the given data and strides (unused strides are 0). */
lim_tensor tensor(const void* data, int64_t s0, int64_t s1 = 0, int64_t s2 = 0, int64_t s3 = 0);

}  // namespace lim_capi
