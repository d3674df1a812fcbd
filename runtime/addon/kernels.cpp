// The kernel entry points as JavaScript functions taking one options object: each unpacks its arguments
// and calls the C ABI; a failed call throws an Error with lim_last_error()'s message.

#include <cuda_runtime_api.h>

#include "addon.h"

namespace lim_addon {

namespace {

Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  const char* fn = "decodeAttention";
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "decodeAttention: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  void* workspace = buffer_arg(o, "workspace", fn, true);
  const double workspace_bytes = o.Has("workspace") && !o.Get("workspace").IsNull() ? o.Get("workspace").As<Napi::Object>().Get("bytes").As<Napi::Number>().DoubleValue() : 0;
  check(env, lim_decode_attention(
                 buffer_arg(o, "q", fn), int64_arg(o, "qStrideB", fn), int64_arg(o, "qStrideH", fn), buffer_arg(o, "kCache", fn),
                 int64_arg(o, "kStrideB", fn), int64_arg(o, "kStrideH", fn), int64_arg(o, "kStrideN", fn), buffer_arg(o, "vCache", fn),
                 int64_arg(o, "vStrideB", fn), int64_arg(o, "vStrideH", fn), int64_arg(o, "vStrideN", fn),
                 static_cast<const int32_t*>(buffer_arg(o, "seqlens", fn)), buffer_arg(o, "out", fn), int64_arg(o, "outStrideB", fn),
                 int64_arg(o, "outStrideH", fn), static_cast<float*>(buffer_arg(o, "lse", fn, true)), int_arg(o, "batch", fn),
                 int_arg(o, "numQHeads", fn), int_arg(o, "numKvHeads", fn), int_arg(o, "headDim", fn), int_arg(o, "cacheCapacity", fn),
                 int_arg(o, "maxSeqlen", fn), dtype_arg(o, "dtype", fn), static_cast<float>(number_arg(o, "softmaxScale", fn)), workspace,
                 static_cast<size_t>(workspace_bytes), nullptr));
  return env.Undefined();
}

Napi::Value DecodeAttentionWorkspaceSize(const Napi::CallbackInfo& info) {
  const char* fn = "decodeAttentionWorkspaceSize";
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "decodeAttentionWorkspaceSize: expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  size_t bytes = 0;
  check(env, lim_decode_attention_workspace_size(int_arg(o, "batch", fn), int_arg(o, "numQHeads", fn), int_arg(o, "numKvHeads", fn),
                                                 int_arg(o, "headDim", fn), int_arg(o, "maxSeqlen", fn), dtype_arg(o, "dtype", fn), &bytes));
  return Napi::Number::New(env, static_cast<double>(bytes));
}

Napi::Value CheckDeviceStatus(const Napi::CallbackInfo& info) {
  check(info.Env(), lim_check_device_status(nullptr));
  return info.Env().Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  check_cuda(info.Env(), cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return info.Env().Undefined();
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check(env, lim_check_device(0));
  cudaDeviceProp prop;
  check_cuda(env, cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  size_t free_bytes = 0, total_bytes = 0;
  check_cuda(env, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", prop.name);
  o.Set("computeCapability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
  o.Set("multiprocessors", prop.multiProcessorCount);
  o.Set("freeBytes", static_cast<double>(free_bytes));
  o.Set("totalBytes", static_cast<double>(total_bytes));
  o.Set("library", lim_version());
  o.Set("builtFor", lim_built_architectures());
  return o;
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("decodeAttentionWorkspaceSize", Napi::Function::New(env, DecodeAttentionWorkspaceSize));
  exports.Set("checkDeviceStatus", Napi::Function::New(env, CheckDeviceStatus));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo));
}

}  // namespace lim_addon
