#pragma once
// N-API surface of the CUDA module (finetune_cuda.node), split by family like
// native/addon/: cuda_addon.cpp (entry, probe, device info, error mapping),
// kernel_bindings.cpp (per-op kernels over host arrays), bench_bindings.cpp,
// program_bindings.cpp (CudaProgram).
#include <napi.h>

#include <exception>

#include "cuda/memory.h"

namespace ft::cudaaddon {

struct Binding {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

// Adds fn to target under name, wrapped so that every C++ exception becomes
// a JS Error with a code: ft::cuda::CudaError -> ERR_FINETUNE_CUDA (with
// `cudaError`, the runtime's error name, and `sticky`); after a sticky error
// the device is marked lost and every later call throws
// ERR_FINETUNE_CUDA_DEVICE_LOST without touching it.
void addGuarded(Napi::Env env, Napi::Object target, const Binding& binding);

// Throws ERR_FINETUNE_CUDA_DEVICE_LOST once a sticky error was seen.
void checkDeviceNotLost(Napi::Env env);
// The JS error for a C++ exception (the mapping addGuarded applies), for
// errors caught off the JS thread (AsyncWorker) and rethrown on it.
Napi::Error toJsError(Napi::Env env, const std::exception_ptr& error);

// The module's scratch memory (one stream, the N-API thread).
cuda::Workspace& workspace();

void registerKernelBindings(Napi::Env env, Napi::Object exports);
void registerBenchBindings(Napi::Env env, Napi::Object exports);
void registerProgramBindings(Napi::Env env, Napi::Object exports);

}  // namespace ft::cudaaddon
