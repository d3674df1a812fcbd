// The decode runtime as a JavaScript class: native::DecodeRuntime owns the device memory; JavaScript
// holds only this handle, and dispose() (or the garbage collector, as a backstop) frees it.

#include <memory>
#include <string>

#include "../native/decode_runtime.h"
#include "addon.h"

namespace lim_addon {

namespace {

using lim_runtime::DecodeRuntime;
using lim_runtime::Policy;

lim_runtime::Config config_arg(const Napi::Object& o) {
  const char* fn = "DecodeRuntime";
  lim_runtime::Config c;
  c.layers = int_arg(o, "layers", fn);
  c.q_heads = int_arg(o, "qHeads", fn);
  c.kv_heads = int_arg(o, "kvHeads", fn);
  c.head_dim = int_arg(o, "headDim", fn);
  c.dtype = static_cast<lim_dtype>(enum_arg(o, "dtype", fn, {"bf16", "fp16"}, {LIM_DTYPE_BF16, LIM_DTYPE_FP16}));
  Napi::Value layers = require(o, "selectionLayers", fn);
  if (!layers.IsArray()) throw Napi::TypeError::New(o.Env(), "DecodeRuntime: 'selectionLayers' must be an array of layer numbers");
  Napi::Array list = layers.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) c.selection_layers.push_back(list.Get(i).As<Napi::Number>().Int32Value());
  c.batch = int_arg(o, "batch", fn);
  c.context = int_arg(o, "context", fn);
  c.capacity = int_arg(o, "capacity", fn);
  c.budget = int_arg(o, "budget", fn);
  c.recency_ratio = static_cast<float>(number_arg(o, "recencyRatio", fn));
  c.sinks = int_arg(o, "sinks", fn);
  c.seed = static_cast<uint32_t>(number_arg(o, "seed", fn));
  c.synthetic = require(o, "synthetic", fn).ToBoolean();
  c.page_size = static_cast<int>(optional_int64(o, "pageSize", fn, 0));
  // kvDtype: an FP8 format; left out, the caches are in dtype
  if (o.Has("kvDtype")) c.fp8_format = static_cast<lim_dtype>(enum_arg(o, "kvDtype", fn, {"e4m3", "e5m2"}, {LIM_DTYPE_E4M3, LIM_DTYPE_E5M2}));
  return c;
}

Policy policy_arg(const Napi::CallbackInfo& info, const char* fn) {
  const std::string p = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (p == "full") return Policy::Full;
  if (p == "lessismore") return Policy::LessIsMore;
  if (p == "tidaldecode") return Policy::TidalDecode;
  throw Napi::TypeError::New(info.Env(), std::string(fn) + ": the policy must be \"full\", \"lessismore\" or \"tidaldecode\"");
}

Napi::Uint16Array to_js(Napi::Env env, const std::vector<uint16_t>& v) {
  Napi::Uint16Array out = Napi::Uint16Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

class RuntimeWrap : public Napi::ObjectWrap<RuntimeWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DecodeRuntime",
                       {InstanceMethod("step", &RuntimeWrap::Step), InstanceMethod("attend", &RuntimeWrap::Attend),
                        InstanceMethod("recall", &RuntimeWrap::Recall), InstanceMethod("fullOutput", &RuntimeWrap::FullOutput),
                        InstanceMethod("read", &RuntimeWrap::Read), InstanceMethod("seqlens", &RuntimeWrap::Seqlens),
                        InstanceMethod("uploadLayer", &RuntimeWrap::UploadLayer), InstanceMethod("reset", &RuntimeWrap::Reset),
                        InstanceMethod("dispose", &RuntimeWrap::Dispose), StaticMethod("deviceBytes", &RuntimeWrap::DeviceBytes)});
  }

  explicit RuntimeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RuntimeWrap>(info) {
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "DecodeRuntime: expected a configuration object");
    std::string error;
    runtime_ = DecodeRuntime::create(config_arg(info[0].As<Napi::Object>()), &error);
    if (!runtime_) throw Napi::Error::New(info.Env(), "DecodeRuntime: " + error);
  }

 private:
  DecodeRuntime& live(const Napi::Env& env, const char* what) {
    if (!runtime_) throw Napi::Error::New(env, std::string("DecodeRuntime.") + what + ": the runtime was disposed");
    return *runtime_;
  }

  void check(const Napi::Env& env, const char* what, int status, const std::string& error) {
    if (status != LIM_OK) throw Napi::Error::New(env, std::string("DecodeRuntime.") + what + ": " + error);
  }

  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    lim_runtime::StepResult result{};
    std::string error;
    check(env, "step", live(env, "step").step(policy_arg(info, "DecodeRuntime.step"), &result, &error), error);
    Napi::Object o = Napi::Object::New(env);
    o.Set("attentionMs", result.attention_ms);
    return o;
  }

  Napi::Value Attend(const Napi::CallbackInfo& info) {
    std::string error;
    check(info.Env(), "attend", live(info.Env(), "attend").attend(policy_arg(info, "DecodeRuntime.attend"), &error), error);
    return info.Env().Undefined();
  }

  Napi::Value Recall(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<std::vector<float>> layers;
    std::string error;
    check(env, "recall", live(env, "recall").recall(policy_arg(info, "DecodeRuntime.recall"), &layers, &error), error);
    Napi::Array out = Napi::Array::New(env, layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      Napi::Float32Array a = Napi::Float32Array::New(env, layers[i].size());
      std::copy(layers[i].begin(), layers[i].end(), a.Data());
      out.Set(static_cast<uint32_t>(i), a);
    }
    return out;
  }

  Napi::Value FullOutput(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<uint16_t> v;
    std::string error;
    check(env, "fullOutput", live(env, "fullOutput").full_output(info[0].As<Napi::Number>().Int32Value(), &v, &error), error);
    return to_js(env, v);
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string which = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    DecodeRuntime::Buffer b;
    if (which == "query") b = DecodeRuntime::Buffer::Query;
    else if (which == "output") b = DecodeRuntime::Buffer::Output;
    else if (which == "newKey") b = DecodeRuntime::Buffer::NewKey;
    else if (which == "keyCache") b = DecodeRuntime::Buffer::KeyCache;
    else if (which == "valueCache") b = DecodeRuntime::Buffer::ValueCache;
    else throw Napi::TypeError::New(env, "DecodeRuntime.read: the buffer must be query, output, newKey, keyCache or valueCache");
    if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "DecodeRuntime.read: expected (buffer, layer)");
    std::vector<uint16_t> v;
    std::string error;
    check(env, "read", live(env, "read").read_layer(b, info[1].As<Napi::Number>().Int32Value(), &v, &error), error);
    return to_js(env, v);
  }

  Napi::Value Seqlens(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<int32_t> v;
    std::string error;
    check(env, "seqlens", live(env, "seqlens").seqlens(&v, &error), error);
    Napi::Int32Array out = Napi::Int32Array::New(env, v.size());
    std::copy(v.begin(), v.end(), out.Data());
    return out;
  }

  Napi::Value UploadLayer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DecodeRuntime& rt = live(env, "uploadLayer");
    const lim_runtime::Config& c = rt.config();
    if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsTypedArray()) {
      throw Napi::TypeError::New(env, "DecodeRuntime.uploadLayer: expected (layer, k, v, q) with 16-bit typed arrays");
    }
    const std::size_t kv_bytes = static_cast<std::size_t>(c.batch) * c.kv_heads * c.context * c.head_dim * 2;
    const std::size_t q_bytes = static_cast<std::size_t>(c.batch) * c.q_heads * c.head_dim * 2;
    Napi::TypedArray k = info[1].As<Napi::TypedArray>(), v = info[2].As<Napi::TypedArray>(), q = info[3].As<Napi::TypedArray>();
    if (k.ByteLength() != kv_bytes || v.ByteLength() != kv_bytes || q.ByteLength() != q_bytes) {
      throw Napi::RangeError::New(env, "DecodeRuntime.uploadLayer: k and v must hold [batch, kvHeads, context, headDim] = " + std::to_string(kv_bytes) +
                                           " bytes and q [batch, qHeads, headDim] = " + std::to_string(q_bytes) + " bytes");
    }
    auto bytes = [](Napi::TypedArray a) { return static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(); };
    std::string error;
    check(env, "uploadLayer", rt.upload_layer(info[0].As<Napi::Number>().Int32Value(), bytes(k), bytes(v), bytes(q), &error), error);
    return env.Undefined();
  }

  Napi::Value Reset(const Napi::CallbackInfo& info) {
    std::string error;
    check(info.Env(), "reset", live(info.Env(), "reset").reset(&error), error);
    return info.Env().Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    runtime_.reset();
    return info.Env().Undefined();
  }

  static Napi::Value DeviceBytes(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "DecodeRuntime.deviceBytes: expected a configuration object");
    return Napi::Number::New(info.Env(), static_cast<double>(DecodeRuntime::device_bytes(config_arg(info[0].As<Napi::Object>()))));
  }

  std::unique_ptr<DecodeRuntime> runtime_;
};

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  static Napi::FunctionReference constructor;
  Napi::Function ctor = RuntimeWrap::Define(env);
  constructor = Napi::Persistent(ctor);
  constructor.SuppressDestruct();
  exports.Set("DecodeRuntime", ctor);
}

}  // namespace lim_addon
