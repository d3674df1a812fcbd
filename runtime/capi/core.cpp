// The kernel-independent part of the C ABI: version, errors, device checks and device-status reports.

#include <cuda_runtime_api.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "internal.h"

#ifndef LIM_CUDA_ARCHITECTURES
#error "build with -DLIM_CUDA_ARCHITECTURES=\"90a\" (the CMake project sets it)"
#endif

namespace lim_capi {

namespace {
thread_local std::string last_error;
std::mutex devices_mutex;
std::vector<int> checked_devices;               // devices that passed the compute-capability check
std::vector<lim_device_status*> status_buffers;  // per device

/** Whether "90a" or "90" in the built list covers compute capability major.minor. */
bool built_for(int major, int minor) {
  const std::string archs = LIM_CUDA_ARCHITECTURES;
  const std::string cc = std::to_string(major * 10 + minor);
  size_t pos = 0;
  while (pos <= archs.size()) {
    size_t end = archs.find_first_of(",;", pos);
    if (end == std::string::npos) end = archs.size();
    std::string arch = archs.substr(pos, end - pos);
    while (!arch.empty() && (arch.back() == 'a' || arch.back() == 'f')) arch.pop_back();
    if (arch == cc) return true;
    pos = end + 1;
  }
  return false;
}
}  // namespace

int fail(int code, const std::string& message) {
  last_error = message;
  return code;
}

int cuda_fail(const char* function, const char* what, int cuda_error) {
  const cudaError_t e = static_cast<cudaError_t>(cuda_error);
  return fail(LIM_ERROR_CUDA, std::string(function) + ": " + what + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

int ok() {
  last_error.clear();
  return LIM_OK;
}

static int check_device(const char* function, int device) {
  cudaDeviceProp prop;
  const cudaError_t err = cudaGetDeviceProperties(&prop, device);
  if (err != cudaSuccess) {
    return fail(LIM_ERROR_UNSUPPORTED_DEVICE, std::string(function) + ": cannot query CUDA device " + std::to_string(device) + ": " +
                                                  cudaGetErrorName(err) + " (is there a GPU and a driver?)");
  }
  if (!built_for(prop.major, prop.minor)) {
    return fail(LIM_ERROR_UNSUPPORTED_DEVICE,
                std::string(function) + ": device " + std::to_string(device) + " (" + prop.name + ") has compute capability " +
                    std::to_string(prop.major) + "." + std::to_string(prop.minor) + ", but the library was built for sm_" +
                    LIM_CUDA_ARCHITECTURES + "; rebuild with -DLIM_CUDA_ARCHITECTURES=" + std::to_string(prop.major * 10 + prop.minor) +
                    (prop.major == 9 ? "a" : ""));
  }
  return LIM_OK;
}

int ensure_device(const char* function) {
  int device = 0;
  const cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return fail(LIM_ERROR_UNSUPPORTED_DEVICE, std::string(function) + ": no CUDA device: " + cudaGetErrorName(err));
  {
    std::lock_guard<std::mutex> lock(devices_mutex);
    for (int d : checked_devices) if (d == device) return LIM_OK;
  }
  const int status = check_device(function, device);
  if (status != LIM_OK) return status;
  std::lock_guard<std::mutex> lock(devices_mutex);
  checked_devices.push_back(device);
  return LIM_OK;
}

int device_status(const char* function, lim_device_status** out) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return cuda_fail(function, "cudaGetDevice", err);
  std::lock_guard<std::mutex> lock(devices_mutex);
  if (status_buffers.size() <= static_cast<size_t>(device)) status_buffers.resize(device + 1, nullptr);
  if (status_buffers[device] == nullptr) {
    // Allocating and clearing are not allowed while a stream captures a graph; lim_check_device() does it ahead.
    const char* hint = " (call lim_check_device() once before capturing a CUDA graph)";
    lim_device_status* buffer = nullptr;
    err = cudaMalloc(reinterpret_cast<void**>(&buffer), sizeof(lim_device_status));
    if (err != cudaSuccess) return cuda_fail(function, (std::string("cudaMalloc of the device-status word") + hint).c_str(), err);
    err = cudaMemset(buffer, 0, sizeof(lim_device_status));
    if (err != cudaSuccess) {
      cudaFree(buffer);
      return cuda_fail(function, (std::string("cudaMemset of the device-status word") + hint).c_str(), err);
    }
    status_buffers[device] = buffer;
  }
  *out = status_buffers[device];
  return LIM_OK;
}

int prepare_launch(const char* function, lim_device_status** status) {
  const int result = ensure_device(function);
  return result != LIM_OK ? result : device_status(function, status);
}

int prepare_launch(const char* function, const lim_variant_info* variant, const std::string& what, const std::string& flags, lim_device_status** status) {
  return variant == nullptr ? no_variant(function, what, flags) : prepare_launch(function, status);
}

int launch(const char* function, const lim_variant_info* variant, const void* params, cudaStream_t stream) {
  const int err = variant->launch(params, stream);
  return err != 0 ? cuda_fail(function, (std::string("launching ") + variant->name).c_str(), err) : LIM_OK;
}

int no_variant(const char* function, const std::string& what, const std::string& flags) {
  return fail(LIM_ERROR_NO_VARIANT, std::string(function) + ": no generated variant for " + what + "; run `bin/lim generate" + (flags.empty() ? "" : " ") + flags +
                                        "` in the toolkit (add your other shapes to each list: generation replaces the output folder) and rebuild the library");
}

int multiprocessors(const char* function, int* count) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return cuda_fail(function, "cudaGetDevice", err);
  err = cudaDeviceGetAttribute(count, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) return cuda_fail(function, "cudaDeviceGetAttribute", err);
  return LIM_OK;
}

const char* dtype_name(int dtype) {
  switch (dtype) {
    case LIM_DTYPE_BF16: return "bf16";
    case LIM_DTYPE_FP16: return "fp16";
    case LIM_DTYPE_F32: return "f32";
    case LIM_DTYPE_I32: return "i32";
    case LIM_DTYPE_U32: return "u32";
    case LIM_DTYPE_E4M3: return "e4m3";
    case LIM_DTYPE_E5M2: return "e5m2";
    default: return "unknown";
  }
}

lim_tensor tensor(const void* data, int64_t s0, int64_t s1, int64_t s2, int64_t s3) {
  lim_tensor t;
  t.data = const_cast<void*>(data);
  t.stride[0] = s0;
  t.stride[1] = s1;
  t.stride[2] = s2;
  t.stride[3] = s3;
  return t;
}

}  // namespace lim_capi

using namespace lim_capi;

const char* lim_version_impl(const lim_version_args&) { return LIM_VERSION; }

int lim_abi_version_impl(const lim_abi_version_args&) { return LIM_ABI_VERSION; }

const char* lim_last_error_impl(const lim_last_error_args&) { return last_error.c_str(); }

const char* lim_built_architectures_impl(const lim_built_architectures_args&) { return LIM_CUDA_ARCHITECTURES; }

int lim_check_device_impl(const lim_check_device_args& a) {
  const int device = a.device;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    return fail(LIM_ERROR_UNSUPPORTED_DEVICE, std::string("lim_check_device: no usable CUDA device: ") + cudaGetErrorName(err) + " (" +
                                                   cudaGetErrorString(err) + ")");
  }
  if (device < 0 || device >= count) {
    return fail(LIM_ERROR_INVALID_ARGUMENT, "lim_check_device: device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " visible)");
  }
  int current = 0;
  err = cudaGetDevice(&current);
  if (err != cudaSuccess) return cuda_fail("lim_check_device", "cudaGetDevice", err);
  if ((err = cudaSetDevice(device)) != cudaSuccess) return cuda_fail("lim_check_device", "cudaSetDevice", err);
  int status = ensure_device("lim_check_device");
  lim_device_status* buffer = nullptr;
  if (status == LIM_OK) status = device_status("lim_check_device", &buffer);
  cudaSetDevice(current);
  return status == LIM_OK ? ok() : status;
}

namespace {
std::mutex chosen_mutex;
std::vector<std::pair<std::string, const lim_variant_info*>> chosen;  // kernel -> forced variant
}  // namespace

extern "C" const lim_variant_info* lim_chosen_variant(const char* kernel) {
  std::lock_guard<std::mutex> lock(chosen_mutex);
  for (const auto& c : chosen) if (c.first == kernel) return c.second;
  return nullptr;
}

int lim_use_variant_impl(const lim_use_variant_args& a) {
  const char* kernel = a.kernel;
  const char* variant = a.variant;
  const lim_kernel_table* table = nullptr;
  for (int i = 0; i < lim_kernel_table_count; ++i) if (std::string(lim_kernel_tables[i].kernel) == kernel) table = &lim_kernel_tables[i];
  if (table == nullptr) return fail(LIM_ERROR_INVALID_ARGUMENT, std::string(a.function) + ": no kernel named '" + kernel + "' in this library");
  const lim_variant_info* found = nullptr;
  if (variant != nullptr) {
    for (int i = 0; i < table->count; ++i) if (std::string(table->variants[i]->name) == variant) found = table->variants[i];
    if (found == nullptr) {
      return fail(LIM_ERROR_NO_VARIANT, std::string(a.function) + ": " + kernel + " has no variant '" + variant +
                                            "' in this library; generated/manifest.json lists the ones it has");
    }
  }
  std::lock_guard<std::mutex> lock(chosen_mutex);
  for (auto it = chosen.begin(); it != chosen.end(); ++it) {
    if (it->first == kernel) {
      chosen.erase(it);
      break;
    }
  }
  if (found != nullptr) chosen.emplace_back(kernel, found);
  return ok();
}

/** Replaces {0} .. {3} in a raise() message with the reported values. */
static std::string format_report(const char* message, const int values[4]) {
  std::string out;
  for (const char* p = message; *p; ++p) {
    if (p[0] == '{' && p[1] >= '0' && p[1] <= '3' && p[2] == '}') {
      out += std::to_string(values[p[1] - '0']);
      p += 2;
    } else {
      out += *p;
    }
  }
  return out;
}

int lim_check_device_status_impl(const lim_check_device_status_args& a) {
  const char* fn = a.function;
  const cudaStream_t stream = a.stream;
  lim_device_status* buffer = nullptr;
  int status = device_status(fn, &buffer);
  if (status != LIM_OK) return status;
  cudaError_t err = cudaStreamSynchronize(stream);
  if (err != cudaSuccess) return cuda_fail(fn, "cudaStreamSynchronize", err);
  lim_device_status host;
  err = cudaMemcpy(&host, buffer, sizeof(host), cudaMemcpyDeviceToHost);
  if (err != cudaSuccess) return cuda_fail(fn, "cudaMemcpy of the device-status word", err);
  if (host.code == 0) return ok();
  err = cudaMemset(buffer, 0, sizeof(lim_device_status));
  if (err != cudaSuccess) return cuda_fail(fn, "cudaMemset of the device-status word", err);
  if (host.site < 0 || host.site >= lim_raise_site_count) return fail(LIM_ERROR_DEVICE_INPUT, "a kernel reported bad input at an unknown site");
  const lim_raise_site& site = lim_raise_sites[host.site];
  const int values[4] = {host.a, host.b, host.c, host.d};
  return fail(LIM_ERROR_DEVICE_INPUT, std::string(site.kernel) + ": " + format_report(site.message, values) + " (reported by " + site.source + ")");
}
