// DeviceBuffer: device memory owned by a JavaScript object. JavaScript never sees the pointer; data moves
// by explicit upload and download, and dispose() frees it (the finalizer does too, as a backstop). A view
// shares part of another buffer's memory.

#include <cuda_runtime_api.h>

#include <cstdio>
#include <string>

#include "addon.h"

namespace lim_addon {

namespace {

std::string gigabytes(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DeviceBuffer",
                       {InstanceMethod("upload", &DeviceBuffer::Upload), InstanceMethod("download", &DeviceBuffer::Download),
                        InstanceMethod("fill", &DeviceBuffer::Fill), InstanceMethod("dispose", &DeviceBuffer::Dispose),
                        InstanceMethod("view", &DeviceBuffer::View),
                        InstanceAccessor("bytes", &DeviceBuffer::Bytes, nullptr), InstanceAccessor("disposed", &DeviceBuffer::Disposed, nullptr)});
  }

  explicit DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {
    Napi::Env env = info.Env();
    if (info.Length() == 3 && info[0].IsExternal()) {  // a view made by View(): (parent, offset, parent object)
      const DeviceBuffer* parent = info[0].As<Napi::External<DeviceBuffer>>().Data();
      const size_t offset = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
      data_ = static_cast<char*>(parent->data_) + offset;
      bytes_ = parent->bytes_ - offset;
      owner_ = Napi::Persistent(info[2].As<Napi::Object>());  // the parent stays alive while the view does
      return;
    }
    if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() <= 0) {
      throw Napi::TypeError::New(env, "DeviceBuffer: the size in bytes must be a positive number");
    }
    bytes_ = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
    size_t free_bytes = 0, total_bytes = 0;
    check_cuda(env, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    if (bytes_ > free_bytes) {
      throw Napi::Error::New(env, "DeviceBuffer: needs " + gigabytes(bytes_) + ", " + gigabytes(free_bytes) + " free of " + gigabytes(total_bytes) +
                                      " on the GPU; use a smaller batch, context or model");
    }
    check_cuda(env, cudaMalloc(&data_, bytes_), "cudaMalloc");
    // Zeroed, as a fresh workspace must be (the attention functions' split counters start at 0).
    check_cuda(env, cudaMemset(data_, 0, bytes_), "cudaMemset");
  }

  ~DeviceBuffer() override { Free(); }

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

  static DeviceBuffer* Unwrap(const Napi::Value& v) {
    if (!v.IsObject()) return nullptr;
    Napi::Object o = v.As<Napi::Object>();
    if (!o.InstanceOf(constructor.Value())) return nullptr;
    return Napi::ObjectWrap<DeviceBuffer>::Unwrap(o);
  }

  static Napi::FunctionReference constructor;

 private:
  void Free() {
    if (data_ != nullptr && owner_.IsEmpty()) cudaFree(data_);
    data_ = nullptr;
  }

  void RequireLive(const Napi::Env& env, const char* what) const {
    if (data_ == nullptr) throw Napi::Error::New(env, std::string("DeviceBuffer.") + what + ": the buffer was disposed");
  }

  /** The bytes of a TypedArray or ArrayBuffer argument. */
  static std::pair<uint8_t*, size_t> HostBytes(const Napi::Env& env, const Napi::Value& v, const char* what) {
    if (v.IsTypedArray()) {
      Napi::TypedArray t = v.As<Napi::TypedArray>();
      uint8_t* base = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
      return {base, t.ByteLength()};
    }
    if (v.IsArrayBuffer()) {
      Napi::ArrayBuffer a = v.As<Napi::ArrayBuffer>();
      return {static_cast<uint8_t*>(a.Data()), a.ByteLength()};
    }
    throw Napi::TypeError::New(env, std::string("DeviceBuffer.") + what + ": expected a TypedArray or ArrayBuffer");
  }

  Napi::Value Upload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLive(env, "upload");
    auto [host, n] = HostBytes(env, info[0], "upload");
    if (n > bytes_) throw Napi::RangeError::New(env, "DeviceBuffer.upload: " + std::to_string(n) + " bytes do not fit in " + std::to_string(bytes_));
    check_cuda(env, cudaMemcpy(data_, host, n, cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
    return env.Undefined();
  }

  Napi::Value Download(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLive(env, "download");
    auto [host, n] = HostBytes(env, info[0], "download");
    if (n > bytes_) throw Napi::RangeError::New(env, "DeviceBuffer.download: asked for " + std::to_string(n) + " bytes of " + std::to_string(bytes_));
    check_cuda(env, cudaMemcpy(host, data_, n, cudaMemcpyDeviceToHost), "cudaMemcpy (download)");
    return env.Undefined();
  }

  Napi::Value Fill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLive(env, "fill");
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "DeviceBuffer.fill: expected a byte value");
    check_cuda(env, cudaMemset(data_, info[0].As<Napi::Number>().Int32Value() & 0xff, bytes_), "cudaMemset");
    return env.Undefined();
  }

  /**
   * A buffer that starts `offset` bytes into this one and shares its memory (freed with this one, never by
   * the view). For tests of pointers that are not aligned, and for sub-buffers.
   */
  Napi::Value View(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireLive(env, "view");
    const double offset = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1.0;
    if (!(offset >= 0.0 && offset < static_cast<double>(bytes_)) || offset != static_cast<double>(static_cast<size_t>(offset))) {
      throw Napi::RangeError::New(env, "DeviceBuffer.view: the offset must be a whole number of bytes in [0, " + std::to_string(bytes_) + ")");
    }
    return constructor.New({Napi::External<DeviceBuffer>::New(env, this), Napi::Number::New(env, offset), Value()});
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }

  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(bytes_)); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), data_ == nullptr); }

  void* data_ = nullptr;
  size_t bytes_ = 0;
  Napi::ObjectReference owner_;  // set for a view: the buffer whose memory it shares
};

Napi::FunctionReference DeviceBuffer::constructor;

}  // namespace

void* buffer_arg(const Napi::Object& o, const char* key, const char* fn, bool optional) {
  Napi::Env env = o.Env();
  Napi::Value v = o.Get(key);
  if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
  DeviceBuffer* b = DeviceBuffer::Unwrap(v);
  if (b == nullptr) throw Napi::TypeError::New(env, std::string(fn) + ": '" + key + "' must be a DeviceBuffer" + (optional ? " or null" : ""));
  if (b->data() == nullptr) throw Napi::Error::New(env, std::string(fn) + ": '" + key + "' was disposed");
  return b->data();
}

size_t buffer_bytes(const Napi::Object& o, const char* key, const char* fn) {
  Napi::Value v = o.Get(key);
  if (v.IsNull() || v.IsUndefined()) return 0;
  DeviceBuffer* b = DeviceBuffer::Unwrap(v);
  if (b == nullptr) throw Napi::TypeError::New(o.Env(), std::string(fn) + ": '" + key + "' must be a DeviceBuffer or null");
  return b->bytes();
}

void register_device_buffer(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DeviceBuffer::Define(env);
  DeviceBuffer::constructor = Napi::Persistent(ctor);
  DeviceBuffer::constructor.SuppressDestruct();
  exports.Set("DeviceBuffer", ctor);
}

}  // namespace lim_addon
