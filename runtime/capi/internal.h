// Helpers shared by the C ABI functions: error messages, argument checks, the device-status buffer, and
// (split_plan.h) occupancy-based split planning. Nothing here is exported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lim.h"
#include "lim_abi_checks.h"
#include "lim_abi_impl.h"
#include "lim_variants.h"
#include "split_plan.h"

namespace lim_capi {

/** Turns a CUDA error into LIM_ERROR_CUDA with the function's name and CUDA's words. */
int cuda_fail(const char* function, const char* what, int cuda_error);

/** Checks the current device against the built architectures, once per device. */
int ensure_device(const char* function);

/** The current device's status buffer (allocated on first use; NULL while capturing a graph before any use). */
int device_status(const char* function, lim_device_status** status);

/** What every launching function does first: the device check, then the device-status word its kernels report to. */
int prepare_launch(const char* function, lim_device_status** status);

/** Launches a variant with its parameter block; a failed launch becomes LIM_ERROR_CUDA naming the variant. */
int launch(const char* function, const lim_variant_info* variant, const void* params, cudaStream_t stream);

/**
 * LIM_ERROR_NO_VARIANT for a kernel that was not generated for `what` (e.g. "head_dim=96, dtype bf16"), naming
 * the `lim generate` flags that generate it (empty: the kernel is missing altogether).
 */
int no_variant(const char* function, const std::string& what, const std::string& flags);

/** prepare_launch for a variant that may be missing: no_variant(function, what, flags) when it is. */
int prepare_launch(const char* function, const lim_variant_info* variant, const std::string& what, const std::string& flags, lim_device_status** status);

/** The name of a dtype for messages. */
const char* dtype_name(int dtype);

/** A kernel over (head dim, dtype), for no_variant: what is missing, and the lim generate flags that make it. */
inline std::string head_dim_shape(int32_t head_dim, int dtype) { return "head_dim=" + std::to_string(head_dim) + ", dtype " + dtype_name(dtype); }
inline std::string head_dim_flags(int32_t head_dim, int dtype) { return "--head-dims " + std::to_string(head_dim) + " --dtypes " + dtype_name(dtype); }

/** A function's last step: clears the last error on success, passes a failure on. */
inline int finish(int status) { return status == LIM_OK ? ok() : status; }

/** Multiprocessors of the current device. */
int multiprocessors(const char* function, int* count);

/** Rounds up to a multiple of 256 bytes (workspace sub-buffers). */
inline std::size_t round256(std::size_t n) { return (n + 255) / 256 * 256; }

/** A lim_tensor with the given data and strides (unused strides are 0). */
lim_tensor tensor(const void* data, int64_t s0, int64_t s1 = 0, int64_t s2 = 0, int64_t s3 = 0);

}  // namespace lim_capi
