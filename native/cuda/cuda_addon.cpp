// N-API entry of the CUDA module: toolchain probe, device information, the
// error mapping every binding goes through, and registration of the kernel
// and benchmark bindings.
#include <napi.h>

#include <cuda_runtime_api.h>

#include <new>
#include <stdexcept>
#include <string>

#include "addon/args.h"
#include "cuda/bindings.h"
#include "cuda/check.h"
#include "addon/spec_parse.h"
#include "cuda/memory.h"
#include "cuda/probe.h"

namespace ft::cudaaddon {

namespace {

// Set by the first sticky error: the context is unusable until the process exits.
bool gDeviceLost = false;
std::string gLostReason;

using addon::throwCoded;

Napi::Value callGuarded(const Napi::CallbackInfo& info) {
  auto fn = reinterpret_cast<Napi::Value (*)(const Napi::CallbackInfo&)>(info.Data());
  Napi::Env env = info.Env();
  checkDeviceNotLost(env);
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, std::current_exception());
  }
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ft::cuda::ProbeResult r = ft::cuda::probe();
  Napi::Object out = Napi::Object::New(env);
  out.Set("runtimeVersion", r.runtimeVersion);
  out.Set("deviceCount", r.deviceCount);
  out.Set("error", r.error == 0 ? env.Null() : Napi::String::New(env, r.errorString));
  return out;
}

Napi::Value AddOne(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    Napi::Error e = Napi::TypeError::New(env, "Expected Float32Array for x");
    e.Value().Set("code", "ERR_FINETUNE_ARG_TYPE");
    throw e;
  }
  Napi::Float32Array x = info[0].As<Napi::Float32Array>();
  int err = ft::cuda::addOneOnDevice(x.Data(), static_cast<int>(x.ElementLength()));
  if (err != 0) {
    ft::cuda::throwCudaError(static_cast<cudaError_t>(err), "addOneOnDevice", __FILE__, __LINE__);
  }
  return env.Undefined();
}

// The current device: name, compute capability, multiprocessors, memory, clocks.
Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int device = 0;
  FT_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp p{};
  FT_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  size_t freeBytes = 0, totalBytes = 0;
  FT_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  Napi::Object out = Napi::Object::New(env);
  out.Set("device", device);
  out.Set("name", std::string(p.name));
  out.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
  out.Set("multiprocessors", p.multiProcessorCount);
  out.Set("totalMemory", static_cast<double>(totalBytes));
  out.Set("freeMemory", static_cast<double>(freeBytes));
  out.Set("l2CacheBytes", p.l2CacheSize);
  out.Set("runtimeVersion", runtime);
  out.Set("driverVersion", driver);
  return out;
}

// allocateDevice({ bytes }): cudaMalloc then cudaFree, for tests of the
// out-of-memory path (a clean, non-sticky ERR_FINETUNE_CUDA; the next call works).
Napi::Value AllocateDevice(const Napi::CallbackInfo& info) {
  addon::Args a(info, "allocateDevice");
  const double bytes = a.number("bytes", 0.0, 9007199254740991.0);
  cuda::DeviceBuffer<unsigned char> b(static_cast<size_t>(bytes));
  return info.Env().Undefined();
}

// _injectDeviceFault(): test hook for the sticky-fault path (see probe.h).
Napi::Value InjectDeviceFault(const Napi::CallbackInfo& info) {
  const int err = ft::cuda::injectDeviceFault();
  if (err != 0) ft::cuda::throwCudaError(static_cast<cudaError_t>(err), "injectDeviceFault", __FILE__, __LINE__);
  return info.Env().Undefined();
}

// Whether an earlier sticky error marked the device lost (and why).
Napi::Value DeviceLost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return gDeviceLost ? Napi::String::New(env, gLostReason) : env.Null();
}

}  // namespace

void checkDeviceNotLost(Napi::Env env) {
  if (gDeviceLost) {
    throwCoded(env, "finetune: the CUDA device is lost after an earlier fault (" + gLostReason +
                        "); restart the process to use it again", "ERR_FINETUNE_CUDA_DEVICE_LOST");
  }
}

Napi::Error toJsError(Napi::Env env, const std::exception_ptr& error) {
  auto coded = [&](Napi::Error e, const char* code) {
    e.Value().Set("code", code);
    return e;
  };
  try {
    std::rethrow_exception(error);
  } catch (const cuda::CudaError& ex) {
    if (ex.sticky()) {
      gDeviceLost = true;
      gLostReason = ex.name();
    }
    Napi::Error e = coded(Napi::Error::New(env, std::string("finetune: ") + ex.what()), "ERR_FINETUNE_CUDA");
    e.Value().Set("cudaError", ex.name());
    e.Value().Set("sticky", ex.sticky());
    return e;
  } catch (const std::bad_alloc&) {
    return coded(Napi::Error::New(env, "finetune: out of host memory"), "ERR_FINETUNE_NO_MEMORY");
  } catch (const std::invalid_argument& ex) {
    return coded(Napi::RangeError::New(env, std::string("finetune: ") + ex.what()), "ERR_FINETUNE_ARG_RANGE");
  } catch (const std::exception& ex) {
    return coded(Napi::Error::New(env, std::string("finetune: internal error: ") + ex.what()), "ERR_FINETUNE_INTERNAL");
  } catch (...) {
    return coded(Napi::Error::New(env, "finetune: internal error"), "ERR_FINETUNE_INTERNAL");
  }
}

void addGuarded(Napi::Env env, Napi::Object target, const Binding& binding) {
  target.Set(binding.name,
             Napi::Function::New(env, callGuarded, binding.name, reinterpret_cast<void*>(binding.fn)));
}

cuda::Workspace& workspace() {
  // Deliberately leaked: freeing device memory from a static destructor at
  // process exit can run after the CUDA runtime has shut down.
  static cuda::Workspace* ws = new cuda::Workspace();
  return *ws;
}

}  // namespace ft::cudaaddon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using ft::cudaaddon::Binding;
  // probe() never throws: it reports a missing driver or device in its result.
  exports.Set("probe", Napi::Function::New(env, ft::cudaaddon::Probe, "probe"));
  exports.Set("deviceLost", Napi::Function::New(env, ft::cudaaddon::DeviceLost, "deviceLost"));
  const Binding guarded[] = {{"addOne", ft::cudaaddon::AddOne}, {"deviceInfo", ft::cudaaddon::DeviceInfo},
                            {"allocateDevice", ft::cudaaddon::AllocateDevice},
                            {"_injectDeviceFault", ft::cudaaddon::InjectDeviceFault}};
  for (const Binding& b : guarded) ft::cudaaddon::addGuarded(env, exports, b);
  ft::cudaaddon::registerKernelBindings(env, exports);
  ft::cudaaddon::registerBenchBindings(env, exports);
  ft::cudaaddon::registerProgramBindings(env, exports);
  return exports;
}

NODE_API_MODULE(finetune_cuda, Init)
