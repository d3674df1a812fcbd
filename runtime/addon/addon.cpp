// Entry point of the Node addon, and the argument helpers shared by its files.

#include <cuda_runtime_api.h>

#include <string>

#include "addon.h"

namespace lim_addon {

void check(const Napi::Env& env, int status) {
  if (status != LIM_OK) throw Napi::Error::New(env, lim_last_error());
}

void check_cuda(const Napi::Env& env, int cuda_error, const char* what) {
  if (cuda_error != cudaSuccess) {
    const cudaError_t e = static_cast<cudaError_t>(cuda_error);
    throw Napi::Error::New(env, std::string(what) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
}

Napi::Value require(const Napi::Object& o, const char* key, const char* fn) {
  if (!o.Has(key)) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": missing '" + key + "'");
  return o.Get(key);
}

int32_t int_arg(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = require(o, key, fn);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int32_t>(d))) throw Napi::RangeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a 32-bit integer");
  return static_cast<int32_t>(d);
}

int64_t int64_arg(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = require(o, key, fn);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a number");
  return v.As<Napi::Number>().Int64Value();
}

int64_t optional_int64(const Napi::Object& o, const char* key, const char* fn, int64_t fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsNull() || v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a number");
  return v.As<Napi::Number>().Int64Value();
}

double number_arg(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = require(o, key, fn);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

lim_dtype dtype_arg(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = require(o, key, fn);
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "bf16") return LIM_DTYPE_BF16;
  if (s == "fp16") return LIM_DTYPE_FP16;
  throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be \"bf16\" or \"fp16\"");
}

}  // namespace lim_addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  lim_addon::register_device_buffer(env, exports);
  lim_addon::register_kernels(env, exports);
  lim_addon::register_timing(env, exports);
  lim_addon::register_runtime(env, exports);
  exports.Set("version", Napi::String::New(env, lim_version()));
  return exports;
}

NODE_API_MODULE(lim_addon, Init)
