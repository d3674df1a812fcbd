// The kernel entry points as JavaScript functions taking one options object: each unpacks its arguments
// and calls the C ABI; a failed call throws an Error with lim_last_error()'s message. Everything runs on
// the default stream.

#include <cuda_runtime_api.h>

#include <string>

#include "addon.h"

namespace lim_addon {

namespace {

Napi::Object options(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected an options object");
  return info[0].As<Napi::Object>();
}

/** The arguments every attention function shares: q, the caches, seqlens, the output, lse, sizes, dtype, scale. */
struct AttentionArgs {
  void *q, *k, *v, *out, *workspace;
  int64_t q_sb, q_sh, k_sb, k_sh, k_sn, v_sb, v_sh, v_sn, out_sb, out_sh;
  const int32_t* seqlens;
  float* lse;
  int32_t batch, hq, hkv, d, capacity, max_seqlen;
  lim_dtype dtype;
  float scale;
  size_t workspace_bytes;
};

AttentionArgs attention_args(const Napi::Object& o, const char* fn) {
  AttentionArgs a;
  a.q = buffer_arg(o, "q", fn);
  a.q_sb = int64_arg(o, "qStrideB", fn);
  a.q_sh = int64_arg(o, "qStrideH", fn);
  a.k = buffer_arg(o, "kCache", fn);
  a.k_sb = int64_arg(o, "kStrideB", fn);
  a.k_sh = int64_arg(o, "kStrideH", fn);
  a.k_sn = int64_arg(o, "kStrideN", fn);
  a.v = buffer_arg(o, "vCache", fn);
  a.v_sb = int64_arg(o, "vStrideB", fn);
  a.v_sh = int64_arg(o, "vStrideH", fn);
  a.v_sn = int64_arg(o, "vStrideN", fn);
  a.seqlens = static_cast<const int32_t*>(buffer_arg(o, "seqlens", fn));
  a.out = buffer_arg(o, "out", fn);
  a.out_sb = int64_arg(o, "outStrideB", fn);
  a.out_sh = int64_arg(o, "outStrideH", fn);
  a.lse = static_cast<float*>(buffer_arg(o, "lse", fn, true));
  a.batch = int_arg(o, "batch", fn);
  a.hq = int_arg(o, "numQHeads", fn);
  a.hkv = int_arg(o, "numKvHeads", fn);
  a.d = int_arg(o, "headDim", fn);
  a.capacity = int_arg(o, "cacheCapacity", fn);
  a.max_seqlen = int_arg(o, "maxSeqlen", fn);
  a.dtype = dtype_arg(o, "dtype", fn);
  a.scale = static_cast<float>(number_arg(o, "softmaxScale", fn));
  a.workspace = buffer_arg(o, "workspace", fn, true);
  a.workspace_bytes = buffer_bytes(o, "workspace", fn);
  return a;
}

Napi::Value DecodeAttention(const Napi::CallbackInfo& info) {
  const char* fn = "decodeAttention";
  Napi::Object o = options(info, fn);
  const AttentionArgs a = attention_args(o, fn);
  check(info.Env(), lim_decode_attention(a.q, a.q_sb, a.q_sh, a.k, a.k_sb, a.k_sh, a.k_sn, a.v, a.v_sb, a.v_sh, a.v_sn, a.seqlens, a.out, a.out_sb,
                                         a.out_sh, a.lse, static_cast<float*>(buffer_arg(o, "logits", fn, true)),
                                         optional_int64(o, "logitsStrideB", fn, 0), optional_int64(o, "logitsStrideH", fn, 0), a.batch, a.hq, a.hkv,
                                         a.d, a.capacity, a.max_seqlen, a.dtype, a.scale, a.workspace, a.workspace_bytes, launch_stream()));
  return info.Env().Undefined();
}

Napi::Value SparseAttention(const Napi::CallbackInfo& info) {
  const char* fn = "sparseAttention";
  Napi::Object o = options(info, fn);
  const AttentionArgs a = attention_args(o, fn);
  check(info.Env(), lim_sparse_attention(a.q, a.q_sb, a.q_sh, a.k, a.k_sb, a.k_sh, a.k_sn, a.v, a.v_sb, a.v_sh, a.v_sn, a.seqlens,
                                         static_cast<const int32_t*>(buffer_arg(o, "indices", fn)), int64_arg(o, "indicesStrideB", fn),
                                         static_cast<const int32_t*>(buffer_arg(o, "counts", fn)), a.out, a.out_sb, a.out_sh, a.lse, a.batch, a.hq,
                                         a.hkv, a.d, a.capacity, a.max_seqlen, int_arg(o, "maxCount", fn), a.dtype, a.scale, a.workspace,
                                         a.workspace_bytes, launch_stream()));
  return info.Env().Undefined();
}

Napi::Value SparseAttentionPerHead(const Napi::CallbackInfo& info) {
  const char* fn = "sparseAttentionPerHead";
  Napi::Object o = options(info, fn);
  const AttentionArgs a = attention_args(o, fn);
  check(info.Env(), lim_sparse_attention_per_head(
                        a.q, a.q_sb, a.q_sh, a.k, a.k_sb, a.k_sh, a.k_sn, a.v, a.v_sb, a.v_sh, a.v_sn, a.seqlens,
                        static_cast<const int32_t*>(buffer_arg(o, "indices", fn)), int64_arg(o, "indicesStrideB", fn), int64_arg(o, "indicesStrideH", fn),
                        static_cast<const int32_t*>(buffer_arg(o, "counts", fn)), a.out, a.out_sb, a.out_sh, a.lse, a.batch, a.hq, a.hkv, a.d,
                        a.capacity, a.max_seqlen, int_arg(o, "maxCount", fn), a.dtype, a.scale, a.workspace, a.workspace_bytes, launch_stream()));
  return info.Env().Undefined();
}

Napi::Value SparseAttentionWorkspaceSize(const Napi::CallbackInfo& info) {
  const char* fn = "sparseAttentionWorkspaceSize";
  Napi::Object o = options(info, fn);
  size_t bytes = 0;
  check(info.Env(), lim_sparse_attention_workspace_size(int_arg(o, "batch", fn), int_arg(o, "numQHeads", fn), int_arg(o, "numKvHeads", fn),
                                                        int_arg(o, "headDim", fn), int_arg(o, "maxCount", fn), dtype_arg(o, "dtype", fn),
                                                        o.Get("perHead").ToBoolean() ? 1 : 0, &bytes));
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

Napi::Value GatherKv(const Napi::CallbackInfo& info) {
  const char* fn = "gatherKv";
  Napi::Object o = options(info, fn);
  check(info.Env(), lim_gather_kv(buffer_arg(o, "kCache", fn), int64_arg(o, "kStrideB", fn), int64_arg(o, "kStrideH", fn), int64_arg(o, "kStrideN", fn),
                                  buffer_arg(o, "vCache", fn), int64_arg(o, "vStrideB", fn), int64_arg(o, "vStrideH", fn), int64_arg(o, "vStrideN", fn),
                                  static_cast<const int32_t*>(buffer_arg(o, "seqlens", fn)), static_cast<const int32_t*>(buffer_arg(o, "indices", fn)),
                                  int64_arg(o, "indicesStrideB", fn), static_cast<const int32_t*>(buffer_arg(o, "counts", fn)), buffer_arg(o, "outK", fn),
                                  buffer_arg(o, "outV", fn), int64_arg(o, "outStrideB", fn), int64_arg(o, "outStrideH", fn), int64_arg(o, "outStrideN", fn),
                                  int_arg(o, "batch", fn), int_arg(o, "numKvHeads", fn), int_arg(o, "headDim", fn), int_arg(o, "cacheCapacity", fn),
                                  int_arg(o, "maxSeqlen", fn), int_arg(o, "maxCount", fn), dtype_arg(o, "dtype", fn), launch_stream()));
  return info.Env().Undefined();
}

Napi::Value DecodeAttentionWorkspaceSize(const Napi::CallbackInfo& info) {
  const char* fn = "decodeAttentionWorkspaceSize";
  Napi::Object o = options(info, fn);
  size_t bytes = 0;
  check(info.Env(), lim_decode_attention_workspace_size(int_arg(o, "batch", fn), int_arg(o, "numQHeads", fn), int_arg(o, "numKvHeads", fn),
                                                        int_arg(o, "headDim", fn), int_arg(o, "maxSeqlen", fn), dtype_arg(o, "dtype", fn), &bytes));
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

Napi::Value SelectLessIsMore(const Napi::CallbackInfo& info) {
  const char* fn = "selectLessIsMore";
  Napi::Object o = options(info, fn);
  check(info.Env(), lim_select_lessismore(
                        static_cast<const float*>(buffer_arg(o, "logits", fn)), int64_arg(o, "logitsStrideB", fn), int64_arg(o, "logitsStrideH", fn),
                        static_cast<const int32_t*>(buffer_arg(o, "seqlens", fn)), static_cast<int32_t*>(buffer_arg(o, "indices", fn)),
                        int64_arg(o, "indicesStrideB", fn), static_cast<int32_t*>(buffer_arg(o, "counts", fn)), int_arg(o, "batch", fn),
                        int_arg(o, "numQHeads", fn), int_arg(o, "maxSeqlen", fn), int_arg(o, "budget", fn),
                        static_cast<float>(number_arg(o, "recencyRatio", fn)), int_arg(o, "sinks", fn), buffer_arg(o, "workspace", fn, true),
                        buffer_bytes(o, "workspace", fn), launch_stream()));
  return info.Env().Undefined();
}

Napi::Value SelectLessIsMoreWorkspaceSize(const Napi::CallbackInfo& info) {
  const char* fn = "selectLessIsMoreWorkspaceSize";
  Napi::Object o = options(info, fn);
  size_t bytes = 0;
  check(info.Env(), lim_select_lessismore_workspace_size(int_arg(o, "batch", fn), int_arg(o, "numQHeads", fn), int_arg(o, "maxSeqlen", fn),
                                                         int_arg(o, "budget", fn), static_cast<float>(number_arg(o, "recencyRatio", fn)),
                                                         int_arg(o, "sinks", fn), &bytes));
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

Napi::Value SelectPerHead(const Napi::CallbackInfo& info) {
  const char* fn = "selectPerHead";
  Napi::Object o = options(info, fn);
  check(info.Env(), lim_select_per_head(static_cast<const float*>(buffer_arg(o, "logits", fn)), int64_arg(o, "logitsStrideB", fn),
                                        int64_arg(o, "logitsStrideH", fn), static_cast<const int32_t*>(buffer_arg(o, "seqlens", fn)),
                                        static_cast<int32_t*>(buffer_arg(o, "indices", fn)), int64_arg(o, "indicesStrideB", fn),
                                        int64_arg(o, "indicesStrideH", fn), static_cast<int32_t*>(buffer_arg(o, "counts", fn, true)),
                                        int_arg(o, "batch", fn), int_arg(o, "numQHeads", fn), int_arg(o, "maxSeqlen", fn), int_arg(o, "budget", fn),
                                        launch_stream()));
  return info.Env().Undefined();
}

Napi::Value Topk(const Napi::CallbackInfo& info) {
  const char* fn = "topk";
  Napi::Object o = options(info, fn);
  Napi::Value order = require(o, "order", fn);
  const std::string order_text = order.IsString() ? order.As<Napi::String>().Utf8Value() : "";
  if (order_text != "rank" && order_text != "position") throw Napi::TypeError::New(info.Env(), "topk: 'order' must be \"rank\" or \"position\"");
  check(info.Env(), lim_topk(static_cast<const float*>(buffer_arg(o, "values", fn)), int64_arg(o, "valuesStride", fn),
                             static_cast<const int32_t*>(buffer_arg(o, "lengths", fn, true)), static_cast<int32_t*>(buffer_arg(o, "indices", fn)),
                             int64_arg(o, "indicesStride", fn), static_cast<float*>(buffer_arg(o, "outValues", fn, true)), int_arg(o, "rows", fn),
                             int_arg(o, "length", fn), int_arg(o, "k", fn), order_text == "rank" ? LIM_ORDER_RANK : LIM_ORDER_POSITION, launch_stream()));
  return info.Env().Undefined();
}

Napi::Value AttentionRecall(const Napi::CallbackInfo& info) {
  const char* fn = "attentionRecall";
  Napi::Object o = options(info, fn);
  check(info.Env(), lim_attention_recall(
                        static_cast<const float*>(buffer_arg(o, "logits", fn)), int64_arg(o, "logitsStrideB", fn), int64_arg(o, "logitsStrideH", fn),
                        int_arg(o, "logitsCapacity", fn), static_cast<const float*>(buffer_arg(o, "lse", fn)),
                        static_cast<const int32_t*>(buffer_arg(o, "indices", fn)), int64_arg(o, "indicesStrideB", fn), int64_arg(o, "indicesStrideS", fn),
                        static_cast<const int32_t*>(buffer_arg(o, "counts", fn)), static_cast<float*>(buffer_arg(o, "recall", fn)),
                        int_arg(o, "batch", fn), int_arg(o, "numQHeads", fn), int_arg(o, "sets", fn), int_arg(o, "maxCount", fn), launch_stream()));
  return info.Env().Undefined();
}

Napi::Value UseVariant(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !(info[1].IsString() || info[1].IsNull())) {
    throw Napi::TypeError::New(env, "useVariant: expected (kernel, variant name or null)");
  }
  const std::string kernel = info[0].As<Napi::String>().Utf8Value();
  const std::string variant = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  check(env, lim_use_variant(kernel.c_str(), info[1].IsString() ? variant.c_str() : nullptr));
  return env.Undefined();
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
  exports.Set("decodeAttention", Napi::Function::New(env, DecodeAttention));
  exports.Set("decodeAttentionWorkspaceSize", Napi::Function::New(env, DecodeAttentionWorkspaceSize));
  exports.Set("sparseAttention", Napi::Function::New(env, SparseAttention));
  exports.Set("sparseAttentionPerHead", Napi::Function::New(env, SparseAttentionPerHead));
  exports.Set("sparseAttentionWorkspaceSize", Napi::Function::New(env, SparseAttentionWorkspaceSize));
  exports.Set("gatherKv", Napi::Function::New(env, GatherKv));
  exports.Set("selectLessIsMore", Napi::Function::New(env, SelectLessIsMore));
  exports.Set("selectLessIsMoreWorkspaceSize", Napi::Function::New(env, SelectLessIsMoreWorkspaceSize));
  exports.Set("selectPerHead", Napi::Function::New(env, SelectPerHead));
  exports.Set("topk", Napi::Function::New(env, Topk));
  exports.Set("attentionRecall", Napi::Function::New(env, AttentionRecall));
  exports.Set("useVariant", Napi::Function::New(env, UseVariant));
  exports.Set("checkDeviceStatus", Napi::Function::New(env, CheckDeviceStatus));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo));
}

}  // namespace lim_addon
