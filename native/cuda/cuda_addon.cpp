// N-API surface of the CUDA module: only the toolchain probe for now.
#include <napi.h>

#include <string>

#include "probe.h"

namespace {

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
    throw Napi::TypeError::New(env, "Expected Float32Array for x");
  }
  Napi::Float32Array x = info[0].As<Napi::Float32Array>();
  int err = ft::cuda::addOneOnDevice(x.Data(), static_cast<int>(x.ElementLength()));
  if (err != 0) throw Napi::Error::New(env, "CUDA addOne failed with error " + std::to_string(err));
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe, "probe"));
  exports.Set("addOne", Napi::Function::New(env, AddOne, "addOne"));
  return exports;
}

}  // namespace

NODE_API_MODULE(finetune_cuda, Init)
