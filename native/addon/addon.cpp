// Module entry point: registers every binding family.
#include <napi.h>

#include <new>
#include <stdexcept>
#include <string>

#include "addon/bindings.h"
#include "cpu/dispatch.h"

namespace ft::addon {

namespace {
Napi::Value callGuarded(const Napi::CallbackInfo& info) {
  auto fn = reinterpret_cast<Napi::Value (*)(const Napi::CallbackInfo&)>(info.Data());
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    Napi::Error e = Napi::Error::New(info.Env(), "finetune: out of memory");
    e.Value().Set("code", "ERR_FINETUNE_NO_MEMORY");
    throw e;
  } catch (const std::exception& ex) {
    Napi::Error e = Napi::Error::New(info.Env(), std::string("finetune: internal error: ") + ex.what());
    e.Value().Set("code", "ERR_FINETUNE_INTERNAL");
    throw e;
  }
}
}  // namespace

void addGuarded(Napi::Env env, Napi::Object target, const Binding& binding) {
  target.Set(binding.name,
             Napi::Function::New(env, callGuarded, binding.name, reinterpret_cast<void*>(binding.fn)));
}

}  // namespace ft::addon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ft::addon::registerKernelBindings(env, exports);
  ft::addon::registerProgramBindings(env, exports);
  ft::addon::registerConfigBindings(env, exports);
  Napi::Object features = Napi::Object::New(env);
  features.Set("napiVersion", NAPI_VERSION);
  // The kernel path chosen at load time (getKernelPath() tells the current one).
  features.Set("kernels", ft::cpu::kernelPathName(ft::cpu::currentKernelPath()));
  exports.Set("features", features);
  return exports;
}

NODE_API_MODULE(finetune, Init)
