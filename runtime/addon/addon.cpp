// Entry point of the Node addon, and the argument helpers shared by its files.

#include <cuda_runtime_api.h>

#include <string>

#include "addon.h"

namespace lim_addon {

void check(const Napi::Env& env, int status) {
  if (status != LIM_OK) throw Napi::Error::New(env, lim_last_error());
}

namespace {

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

// CUDA reports a machine without the NVIDIA driver as cudaErrorInsufficientDriver, which reads like an old
// driver; the driver version tells the two apart (cudaDriverGetVersion gives 0 where no driver is installed).
std::string describe_cuda_error(int cuda_error) {
  const cudaError_t e = static_cast<cudaError_t>(cuda_error);
  const std::string name = cudaGetErrorName(e);
  if (e == cudaErrorNoDevice) return "no NVIDIA GPU found (" + name + ")";
  if (e == cudaErrorInsufficientDriver) {
    int driver = 0, runtime = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) return "no NVIDIA GPU or driver found (" + name + ")";
    cudaRuntimeGetVersion(&runtime);
    return "the NVIDIA driver supports CUDA " + cuda_version(driver) + ", older than the CUDA " + cuda_version(runtime) +
           " runtime the addon was built with: update the driver (" + name + ")";
  }
  return name + " (" + cudaGetErrorString(e) + ")";
}

void check_cuda(const Napi::Env& env, int cuda_error, const char* what) {
  if (cuda_error != cudaSuccess) throw Napi::Error::New(env, std::string(what) + " failed: " + describe_cuda_error(cuda_error));
}

void require_gpu(const Napi::Env& env) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) throw Napi::Error::New(env, describe_cuda_error(e));
  if (e == cudaSuccess && count == 0) throw Napi::Error::New(env, describe_cuda_error(cudaErrorNoDevice));
}

Napi::Object options(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected an options object");
  return info[0].As<Napi::Object>();
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

uint32_t uint32_arg(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = require(o, key, fn);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
  if (!(d >= 0.0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) {
    throw Napi::RangeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be an unsigned 32-bit integer");
  }
  return static_cast<uint32_t>(d);
}

int32_t flag_arg(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = require(o, key, fn);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be true or false");
  return v.As<Napi::Boolean>().Value() ? 1 : 0;
}

int32_t enum_arg(const Napi::Object& o, const char* key, const char* fn, std::initializer_list<const char*> names, std::initializer_list<int32_t> values) {
  Napi::Value v = require(o, key, fn);
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  std::string allowed;
  auto value = values.begin();
  for (const char* name : names) {
    if (s == name) return *value;
    allowed += (allowed.empty() ? "\"" : " or \"") + std::string(name) + "\"";
    ++value;
  }
  throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be " + allowed);
}

StringArg string_arg(const Napi::Object& o, const char* key, const char* fn, bool optional) {
  Napi::Value v = optional ? o.Get(key) : require(o, key, fn);
  if (optional && (v.IsNull() || v.IsUndefined())) return {false, ""};
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a string" + (optional ? " or null" : ""));
  return {true, v.As<Napi::String>().Utf8Value()};
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
