// Shared declarations of the Node addon: argument helpers and the pieces each file registers.
#pragma once

#include <cuda_runtime_api.h>
#include <napi.h>

#include <string>

#include "lim.h"

namespace lim_addon {

/** Throws a JavaScript Error carrying lim_last_error() when a C ABI call failed. */
void check(const Napi::Env& env, int status);

/** Throws a JavaScript Error naming the CUDA call when it failed. */
void check_cuda(const Napi::Env& env, int cuda_error, const char* what);

/** A required property of an options object. */
Napi::Value require(const Napi::Object& o, const char* key, const char* fn);

int32_t int_arg(const Napi::Object& o, const char* key, const char* fn);
int64_t int64_arg(const Napi::Object& o, const char* key, const char* fn);
double number_arg(const Napi::Object& o, const char* key, const char* fn);
lim_dtype dtype_arg(const Napi::Object& o, const char* key, const char* fn);

/** The device pointer of a DeviceBuffer property (NULL when the property is null and optional). */
void* buffer_arg(const Napi::Object& o, const char* key, const char* fn, bool optional = false);

/** The size in bytes of an optional DeviceBuffer property (0 when absent). */
size_t buffer_bytes(const Napi::Object& o, const char* key, const char* fn);

/** An optional integer property (the fallback when absent or null). */
int64_t optional_int64(const Napi::Object& o, const char* key, const char* fn, int64_t fallback);

/** The stream the kernel entry points launch on: the default stream, or timeCalls' capture stream. */
cudaStream_t launch_stream();

/** Registers the DeviceBuffer class. */
void register_device_buffer(Napi::Env env, Napi::Object exports);

/** Registers the kernel entry points. */
void register_kernels(Napi::Env env, Napi::Object exports);

/** Registers timeCalls. */
void register_timing(Napi::Env env, Napi::Object exports);

/** Registers the DecodeRuntime class. */
void register_runtime(Napi::Env env, Napi::Object exports);

}  // namespace lim_addon
