// Process-wide settings of the CPU kernels: which dispatch path runs
// (setKernelPath / getKernelPath / kernelPaths), how many threads the pool
// uses (setThreads / getThreads), and the machine's measured peaks for the
// kernel benchmark (measurePeak: FMA-bound loop; measureBandwidth: memcpy).
#include <napi.h>

#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/bindings.h"
#include "cpu/dispatch.h"
#include "runtime/thread_pool.h"

namespace ft::addon {

namespace {

bool pathFromName(const std::string& name, cpu::KernelPath& out) {
  for (int32_t i = 0; i < cpu::kKernelPathCount; ++i) {
    const auto p = static_cast<cpu::KernelPath>(i);
    if (name == cpu::kernelPathName(p)) {
      out = p;
      return true;
    }
  }
  return false;
}

std::string availableList() {
  std::string s;
  for (int32_t i = 0; i < cpu::kKernelPathCount; ++i) {
    const auto p = static_cast<cpu::KernelPath>(i);
    if (!cpu::kernelPathAvailable(p)) continue;
    if (!s.empty()) s += ", ";
    s += cpu::kernelPathName(p);
  }
  return s;
}

Napi::Value SetKernelPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throwTypeError(env, "setKernelPath: Expected a string (scalar, portable, avx2 or avx512) but received " +
                            (info.Length() < 1 ? std::string("nothing") : describe(info[0])));
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  cpu::KernelPath p;
  if (!pathFromName(name, p)) {
    throwRangeError(env, "setKernelPath: unknown kernel path \"" + name + "\"; expected scalar, portable, avx2 or avx512");
  }
  if (!cpu::setKernelPath(p)) {
    Napi::Error e = Napi::Error::New(env, "setKernelPath: this CPU or build cannot run the \"" + name +
                                              "\" kernels (available: " + availableList() + ")");
    e.Value().Set("code", "ERR_FINETUNE_KERNEL_PATH");
    throw e;
  }
  return Napi::String::New(env, cpu::kernelPathName(p));
}

Napi::Value GetKernelPath(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cpu::kernelPathName(cpu::currentKernelPath()));
}

Napi::Value KernelPaths(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t k = 0;
  for (int32_t i = 0; i < cpu::kKernelPathCount; ++i) {
    const auto p = static_cast<cpu::KernelPath>(i);
    if (cpu::kernelPathAvailable(p)) out.Set(k++, Napi::String::New(info.Env(), cpu::kernelPathName(p)));
  }
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throwTypeError(env, "setThreads: Expected a positive integer but received " +
                            (info.Length() < 1 ? std::string("nothing") : describe(info[0])));
  }
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 256) || static_cast<double>(static_cast<int64_t>(n)) != n) {
    throwRangeError(env, "setThreads: threads must be an integer in [1, 256], got " + describe(info[0]));
  }
  runtime::setThreadCount(static_cast<size_t>(n));
  return Napi::Number::New(env, static_cast<double>(runtime::threadCount()));
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(runtime::threadCount()));
}

// measurePeak({ seconds? }): FMA-bound loop of the current path on every pool
// thread at once. Returns { gflops, threads, path }.
Napi::Value MeasurePeak(const Napi::CallbackInfo& info) {
  const double seconds = info.Length() > 0 && info[0].IsObject()
                             ? Args(info, "measurePeak").numberOr("seconds", 0.2, 0.001, 60.0)
                             : 0.2;
  const size_t threads = runtime::threadCount();
  std::vector<double> flops(threads, 0.0);
  struct Ctx {
    double seconds;
    double* flops;
  } ctx{seconds, flops.data()};
  const double t0 = cpu::nowSeconds();
  runtime::parallelFor(
      threads,
      [](void* c, size_t t) {
        auto* x = static_cast<Ctx*>(c);
        const double start = cpu::nowSeconds();
        const double rate = cpu::kernelTable().peakFlops(x->seconds);
        x->flops[t] = rate * (cpu::nowSeconds() - start);
      },
      &ctx);
  const double wall = cpu::nowSeconds() - t0;
  double total = 0.0;
  for (double f : flops) total += f;
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("gflops", total / wall * 1e-9);
  out.Set("threads", static_cast<double>(threads));
  out.Set("path", cpu::kernelPathName(cpu::currentKernelPath()));
  Napi::Array per = Napi::Array::New(info.Env());
  for (size_t t = 0; t < threads; ++t) per.Set(static_cast<uint32_t>(t), flops[t] / seconds * 1e-9);
  out.Set("perThread", per);
  return out;
}

// measureBandwidth({ megabytes?, repeats? }): dst += src over two large
// buffers (the current path's, threaded as its Adam pass is). Returns { gbps }
// counting the bytes read (both) and written (dst): 12 per element.
Napi::Value MeasureBandwidth(const Napi::CallbackInfo& info) {
  size_t megabytes = 256, repeats = 5;
  if (info.Length() > 0 && info[0].IsObject()) {
    Args a(info, "measureBandwidth");
    megabytes = a.sizeOr("megabytes", 256, 1, 4096);
    repeats = a.sizeOr("repeats", 5, 1, 1000);
  }
  const size_t floats = (megabytes << 20) / sizeof(float);
  std::vector<float> src(floats, 1.0f), dst(floats, 0.0f);
  const cpu::KernelTable& k = cpu::kernelTable();
  k.streamAdd(dst.data(), src.data(), floats);  // touch the pages first
  double best = 1e300;
  for (size_t r = 0; r < repeats; ++r) {
    const double t0 = cpu::nowSeconds();
    k.streamAdd(dst.data(), src.data(), floats);
    best = std::min(best, cpu::nowSeconds() - t0);
  }
  const double bytes = static_cast<double>(floats) * sizeof(float);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("gbps", 3.0 * static_cast<double>(bytes) / best * 1e-9);
  out.Set("threads", static_cast<double>(runtime::threadCount()));
  return out;
}

}  // namespace

void registerConfigBindings(Napi::Env env, Napi::Object exports) {
  // FINETUNE_KERNELS=scalar|portable|avx2|avx512 forces a path at load time.
  if (const char* forced = std::getenv("FINETUNE_KERNELS")) {
    cpu::KernelPath p;
    if (pathFromName(forced, p)) cpu::setKernelPath(p);
  }
  const Binding bindings[] = {
      {"setKernelPath", SetKernelPath}, {"getKernelPath", GetKernelPath}, {"kernelPaths", KernelPaths},
      {"setThreads", SetThreads},       {"getThreads", GetThreads},       {"measurePeak", MeasurePeak},
      {"measureBandwidth", MeasureBandwidth},
  };
  for (const Binding& b : bindings) addGuarded(env, exports, b);
}

}  // namespace ft::addon
