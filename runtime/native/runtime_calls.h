// What the decode runtime's source files share: the checked-call macros (a failure returns its status and
// leaves the message in *error) and the synthetic prompts' recency window. Private to runtime/native.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "lim.h"

namespace lim_runtime {

constexpr int kRecentWindow = 64;  // synthetic prompts end in this many recent tokens (dsl/kernels/synthetic.ts)

}  // namespace lim_runtime

/** Runs a C ABI call; on failure records lim_last_error() and returns its status. */
#define LIM_CALL(call)                             \
  do {                                             \
    const int status_ = (call);                    \
    if (status_ != LIM_OK) {                       \
      if (error) *error = lim_last_error();        \
      return status_;                              \
    }                                              \
  } while (0)

/**
 * Calls lim_<fn> on the runtime's caches, or lim_fp8_<fn> when they are FP8 (its caches' scales NULL:
 * the runtime's FP8 caches hold the values themselves, scale 1). `before` and `after` are the arguments
 * around the dtype, in parentheses; used in DecodeRuntime's members (c is the config).
 */
#define LIM_UNPAREN(...) __VA_ARGS__
#define LIM_KV_CALL(fn, before, after)                                                                                         \
  LIM_CALL(fp8() ? lim_fp8_##fn(LIM_UNPAREN before, nullptr, nullptr, 1, *c.fp8_format, c.dtype, LIM_UNPAREN after)         \
                 : lim_##fn(LIM_UNPAREN before, c.dtype, LIM_UNPAREN after))

#define CUDA_CALL(call)                                                                       \
  do {                                                                                        \
    const cudaError_t err_ = (call);                                                          \
    if (err_ != cudaSuccess) {                                                                \
      if (error) *error = std::string(#call) + " failed: " + cudaGetErrorName(err_);          \
      return LIM_ERROR_CUDA;                                                                  \
    }                                                                                         \
  } while (0)
