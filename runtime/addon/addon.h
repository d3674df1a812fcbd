// Shared declarations of the Node addon: argument helpers and the pieces each file registers.
#pragma once

#include <cuda_runtime_api.h>
#include <napi.h>

#include <initializer_list>
#include <string>

#include "lim.h"

namespace lim_addon {

/** Throws a JavaScript Error carrying lim_last_error() when a C ABI call failed. */
void check(const Napi::Env& env, int status);

/** Throws a JavaScript Error naming the CUDA call when it failed. */
void check_cuda(const Napi::Env& env, int cuda_error, const char* what);

/** A CUDA error in words; a missing GPU or driver is said as such, with CUDA's name in parentheses. */
std::string describe_cuda_error(int cuda_error);

/** Throws "no NVIDIA GPU or driver found (...)" and the like where CUDA sees no usable GPU. */
void require_gpu(const Napi::Env& env);

/** The options object a binding takes as its one argument. */
Napi::Object options(const Napi::CallbackInfo& info, const char* fn);

/** A required property of an options object. */
Napi::Value require(const Napi::Object& o, const char* key, const char* fn);

int32_t int_arg(const Napi::Object& o, const char* key, const char* fn);
int64_t int64_arg(const Napi::Object& o, const char* key, const char* fn);
double number_arg(const Napi::Object& o, const char* key, const char* fn);
uint32_t uint32_arg(const Napi::Object& o, const char* key, const char* fn);

/** A boolean property as 0 or 1. */
int32_t flag_arg(const Napi::Object& o, const char* key, const char* fn);

/** A string property that must be one of `names`; returns the matching entry of `values`. */
int32_t enum_arg(const Napi::Object& o, const char* key, const char* fn, std::initializer_list<const char*> names, std::initializer_list<int32_t> values);

/** A string property kept alive for the call; null (where optional) becomes a NULL pointer. */
struct StringArg {
  bool present;
  std::string text;
  const char* c_str_or_null() const { return present ? text.c_str() : nullptr; }
};
StringArg string_arg(const Napi::Object& o, const char* key, const char* fn, bool optional);

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

/** Registers the kernel entry points: the generated bindings of lim.h, synchronize and deviceInfo. */
void register_kernels(Napi::Env env, Napi::Object exports);

/** Registers the bindings of lim.h (generated/bindings/addon_functions.cpp). */
void register_abi_functions(Napi::Env env, Napi::Object exports);

/** Registers timeCalls. */
void register_timing(Napi::Env env, Napi::Object exports);

/** Registers the DecodeRuntime class. */
void register_runtime(Napi::Env env, Napi::Object exports);

}  // namespace lim_addon
