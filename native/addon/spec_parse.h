#pragma once
// The JS objects of a compiled program, parsed once for every backend: the
// program spec (what src/model/program.ts builds), a trainStep config and a
// batch. Used by the CPU Program binding (program_binding.cpp) and the CUDA
// one (cuda/program_bindings.cpp), so both refuse the same inputs with the
// same messages.
#include <napi.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "addon/args.h"
#include "runtime/spec.h"

namespace ft::addon {

// `who` names the constructor in messages ("Program", "CudaProgram").
runtime::ProgramSpec parseSpec(Napi::Env env, const Napi::Value& value, const char* who);
runtime::StepConfig parseStepConfig(Napi::Env env, const Napi::Value& value, size_t groups);

// The batch is copied when the call is made: the worker thread must not read
// JS memory the caller may change, transfer or free while the step runs, and
// the copy is what validateBatch checked. (ids are batch x length int32: small
// next to one step's arithmetic.) A baton may be reused across calls.
struct BatchBaton {
  runtime::BatchView view{};
  std::vector<int32_t> ids, lengths, labels;
};

// Fills `baton` from a JS batch (copying the arrays), then runs the program's
// own validateBatch; its std::invalid_argument becomes a RangeError.
void copyBatch(Napi::Env env, const Napi::Value& value, bool needLabels, size_t maxBatch, size_t maxLength,
               BatchBaton& baton, const char* fn);

template <class Program>
void parseBatch(Napi::Env env, const Napi::Value& value, bool needLabels, BatchBaton& baton, const Program& program,
                const char* fn) {
  copyBatch(env, value, needLabels, program.spec().maxBatch, program.spec().maxLength, baton, fn);
  try {
    program.validateBatch(baton.view, needLabels);
  } catch (const std::invalid_argument& e) {
    throwRangeError(env, std::string(fn) + ": " + e.what());
  }
}

// An Error with a stable `code` property.
[[noreturn]] void throwCoded(Napi::Env env, const std::string& message, const char* code);

}  // namespace ft::addon
