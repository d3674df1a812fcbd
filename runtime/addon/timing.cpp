// timeCalls(fn, options): GPU time of what a JavaScript callback launches. The callback's launches are
// captured into a CUDA graph, so N-API and host launch costs are not timed, and the graph is replayed
// between CUDA events. Before each timed replay a buffer larger than the L2 cache is overwritten, so every
// replay reads its inputs from device memory as a decode step would.

#include <cuda_runtime_api.h>

#include <vector>

#include "addon.h"

namespace lim_addon {

namespace {

cudaStream_t g_capture_stream = nullptr;

/** Everything one timing owns, released on every path out (JavaScript exceptions included). */
struct Timing {
  cudaStream_t stream = nullptr;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  void* flush = nullptr;
  std::vector<cudaEvent_t> events;

  ~Timing() {
    g_capture_stream = nullptr;
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    if (flush != nullptr) cudaFree(flush);
    if (exec != nullptr) cudaGraphExecDestroy(exec);
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

Napi::Value TimeCalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "timeCalls";
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "timeCalls: expected (callback, { repeats, warmup, flushBytes })");
  }
  const Napi::Object o = info[1].As<Napi::Object>();
  const int repeats = int_arg(o, "repeats", fn);
  const int warmup = int_arg(o, "warmup", fn);
  const int64_t flush_bytes = int64_arg(o, "flushBytes", fn);
  if (repeats < 1 || warmup < 0 || flush_bytes < 0) throw Napi::RangeError::New(env, "timeCalls: repeats must be positive, warmup and flushBytes not negative");

  Timing t;
  check_cuda(env, cudaStreamCreateWithFlags(&t.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  // Relaxed: the C ABI may query attributes or allocate its status word on first use while capturing.
  check_cuda(env, cudaStreamBeginCapture(t.stream, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  g_capture_stream = t.stream;
  try {
    info[0].As<Napi::Function>().Call({});
  } catch (...) {
    g_capture_stream = nullptr;
    cudaStreamEndCapture(t.stream, &t.graph);
    throw;
  }
  g_capture_stream = nullptr;
  check_cuda(env, cudaStreamEndCapture(t.stream, &t.graph), "cudaStreamEndCapture (a call in the callback broke the capture)");
  check_cuda(env, cudaGraphInstantiate(&t.exec, t.graph, 0), "cudaGraphInstantiate");
  if (flush_bytes > 0) check_cuda(env, cudaMalloc(&t.flush, static_cast<size_t>(flush_bytes)), "cudaMalloc (L2 flush buffer)");

  for (int i = 0; i < warmup; ++i) check_cuda(env, cudaGraphLaunch(t.exec, t.stream), "cudaGraphLaunch");
  t.events.resize(2 * static_cast<size_t>(repeats), nullptr);
  for (cudaEvent_t& e : t.events) check_cuda(env, cudaEventCreate(&e), "cudaEventCreate");
  for (int i = 0; i < repeats; ++i) {
    if (t.flush != nullptr) check_cuda(env, cudaMemsetAsync(t.flush, i & 0xff, static_cast<size_t>(flush_bytes), t.stream), "cudaMemsetAsync (L2 flush)");
    check_cuda(env, cudaEventRecord(t.events[2 * i], t.stream), "cudaEventRecord");
    check_cuda(env, cudaGraphLaunch(t.exec, t.stream), "cudaGraphLaunch");
    check_cuda(env, cudaEventRecord(t.events[2 * i + 1], t.stream), "cudaEventRecord");
  }
  check_cuda(env, cudaStreamSynchronize(t.stream), "cudaStreamSynchronize (a timed kernel failed)");
  Napi::Array us = Napi::Array::New(env, repeats);
  for (int i = 0; i < repeats; ++i) {
    float ms = 0;
    check_cuda(env, cudaEventElapsedTime(&ms, t.events[2 * i], t.events[2 * i + 1]), "cudaEventElapsedTime");
    us.Set(i, Napi::Number::New(env, 1000.0 * ms));
  }
  return us;
}

}  // namespace

cudaStream_t launch_stream() { return g_capture_stream; }

void register_timing(Napi::Env env, Napi::Object exports) { exports.Set("timeCalls", Napi::Function::New(env, TimeCalls)); }

}  // namespace lim_addon
