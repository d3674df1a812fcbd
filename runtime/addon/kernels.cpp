// The addon's functions: the bindings of every C function of lim.h, generated from the ABI description
// (generated/bindings/addon_functions.cpp), and the two that are the addon's own: synchronize and deviceInfo.

#include <cuda_runtime_api.h>

#include <string>

#include "addon.h"

namespace lim_addon {

namespace {

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  check_cuda(info.Env(), cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return info.Env().Undefined();
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  require_gpu(env);  // before lim_check_device, whose message would name only CUDA's error
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
  int driver = 0, runtime = 0;
  check_cuda(env, cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  check_cuda(env, cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  const auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  o.Set("cudaDriver", version(driver));
  o.Set("cudaRuntime", version(runtime));
  o.Set("library", lim_version());
  o.Set("builtFor", lim_built_architectures());
  return o;
}

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  register_abi_functions(env, exports);
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo));
}

}  // namespace lim_addon
