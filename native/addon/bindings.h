#pragma once
#include <napi.h>

namespace ft::addon {

struct Binding {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

// Adds fn to target under name, wrapped so that a C++ exception of any kind
// becomes a JS error instead of terminating the process.
void addGuarded(Napi::Env env, Napi::Object target, const Binding& binding);

void registerKernelBindings(Napi::Env env, Napi::Object exports);
void registerProgramBindings(Napi::Env env, Napi::Object exports);
// setKernelPath, getKernelPath, kernelPaths, setThreads, getThreads,
// measurePeak, measureBandwidth (config_binding.cpp).
void registerConfigBindings(Napi::Env env, Napi::Object exports);

}  // namespace ft::addon
