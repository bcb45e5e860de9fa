// N-API face of CudaProgram: a CudaProgram class taking the same spec, batch
// and step config objects as the CPU addon's Program (native/addon/
// program_binding.cpp), with trainStep / predict / evaluate on a worker
// thread (AsyncWorker + Promise). Parameters live on the device, so params()
// returns copies and setParams() uploads; getState / setState copy the
// optimizer and generator state like the CPU Program's.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/spec_parse.h"
#include "cuda/bindings.h"
#include "cuda/program.h"

namespace ft::cudaaddon {

namespace {

using addon::Args;
using addon::BatchBaton;
using addon::parseBatch;
using addon::parseStepConfig;
using addon::throwCoded;


class ProgramWrap;

enum class Job { Train, Predict, Evaluate };

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, ProgramWrap* owner, Job job, std::unique_ptr<BatchBaton> batch, cuda::StepConfig cfg,
             Napi::Float32Array logits);
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  ProgramWrap* owner_;
  Napi::ObjectReference ownerRef_;
  Job job_;
  std::unique_ptr<BatchBaton> batch_;
  cuda::StepConfig cfg_;
  Napi::Reference<Napi::Float32Array> logitsRef_;
  float* logits_ = nullptr;
  cuda::StepResult result_;
  std::exception_ptr error_;
  Napi::Promise::Deferred deferred_;
};

class ProgramWrap : public Napi::ObjectWrap<ProgramWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaProgram",
                       {InstanceMethod("trainStep", &ProgramWrap::TrainStep),
                        InstanceMethod("predict", &ProgramWrap::Predict),
                        InstanceMethod("evaluate", &ProgramWrap::Evaluate),
                        InstanceMethod("params", &ProgramWrap::Params),
                        InstanceMethod("setParams", &ProgramWrap::SetParams),
                        InstanceMethod("getState", &ProgramWrap::GetState),
                        InstanceMethod("setState", &ProgramWrap::SetState),
                        InstanceMethod("setFrozen", &ProgramWrap::SetFrozen),
                        InstanceMethod("info", &ProgramWrap::Info),
                        InstanceMethod("dispose", &ProgramWrap::Dispose)});
  }

  explicit ProgramWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) addon::throwTypeError(env, "CudaProgram: Expected a program spec");
    checkDeviceNotLost(env);
    cuda::ProgramSpec spec = addon::parseSpec(env, info[0], "CudaProgram");
    try {
      program_ = std::make_unique<cuda::CudaProgram>(std::move(spec));
    } catch (const std::invalid_argument& e) {
      addon::throwRangeError(env, std::string("CudaProgram: ") + e.what());
    } catch (...) {
      throw toJsError(env, std::current_exception());
    }
  }

  void finishJob() { busy_ = false; }
  cuda::CudaProgram& program() { return *program_; }

 private:
  cuda::CudaProgram& live(Napi::Env env, const char* fn) {
    if (!program_) throwCoded(env, std::string(fn) + ": this program was disposed", "ERR_FINETUNE_DISPOSED");
    checkDeviceNotLost(env);
    return *program_;
  }

  void claim(Napi::Env env, const char* fn) {
    if (busy_) throwCoded(env, std::string(fn) + ": the program is busy with another call; await it first", "ERR_FINETUNE_BUSY");
  }

  // Runs fn, mapping C++ exceptions (CUDA errors in copies) to JS errors.
  template <class F>
  Napi::Value guarded(Napi::Env env, F&& fn) {
    try {
      return fn();
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      throw toJsError(env, std::current_exception());
    }
  }

  Napi::Value queue(const Napi::CallbackInfo& info, Job job, const char* fn) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, fn);
    claim(env, fn);
    auto batch = std::make_unique<BatchBaton>();
    parseBatch(env, info.Length() > 0 ? info[0] : env.Undefined(), job != Job::Predict, *batch, p, fn);
    cuda::StepConfig cfg;
    if (job == Job::Train) {
      cfg = parseStepConfig(env, info.Length() > 1 ? info[1] : env.Undefined(), p.spec().groups);
      try {
        p.validateStepConfig(cfg);
      } catch (const std::invalid_argument& e) {
        addon::throwRangeError(env, std::string(fn) + ": " + e.what());
      }
    }
    const size_t logitsSize = batch->view.batch * p.classes();
    Napi::Float32Array logits = Napi::Float32Array::New(env, job == Job::Train ? 0 : logitsSize);
    auto* worker = new StepWorker(env, this, job, std::move(batch), std::move(cfg), logits);
    busy_ = true;
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  }

  Napi::Value TrainStep(const Napi::CallbackInfo& info) { return queue(info, Job::Train, "trainStep"); }
  Napi::Value Predict(const Napi::CallbackInfo& info) { return queue(info, Job::Predict, "predict"); }
  Napi::Value Evaluate(const Napi::CallbackInfo& info) { return queue(info, Job::Evaluate, "evaluate"); }

  // [{ name, group, frozen, values }]: values are host copies of the device parameters.
  Napi::Value Params(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, "params");
    claim(env, "params");
    return guarded(env, [&]() -> Napi::Value {
      Napi::Array out = Napi::Array::New(env, p.spec().params.size());
      for (size_t i = 0; i < p.spec().params.size(); ++i) {
        const cuda::ParamSpec& ps = p.spec().params[i];
        Napi::Float32Array values = Napi::Float32Array::New(env, ps.size);
        p.getParam(i, values.Data());
        Napi::Object entry = Napi::Object::New(env);
        entry.Set("name", ps.name);
        entry.Set("group", ps.group);
        entry.Set("frozen", ps.frozen);
        entry.Set("values", values);
        out.Set(static_cast<uint32_t>(i), entry);
      }
      return out;
    });
  }

  // setParams({ name: Float32Array, ... }): uploads the named parameters (others keep their values).
  Napi::Value SetParams(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, "setParams");
    claim(env, "setParams");
    Args a(info, "setParams");
    std::vector<std::pair<size_t, const float*>> uploads;
    for (size_t i = 0; i < p.spec().params.size(); ++i) {
      const cuda::ParamSpec& ps = p.spec().params[i];
      Napi::Value v = a.get(ps.name.c_str());
      if (v.IsUndefined()) continue;
      uploads.emplace_back(i, a.floats(ps.name.c_str(), ps.size));
    }
    return guarded(env, [&]() -> Napi::Value {
      for (const auto& u : uploads) p.setParam(u.first, u.second);
      return env.Undefined();
    });
  }

  Napi::Value GetState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, "getState");
    claim(env, "getState");
    return guarded(env, [&]() -> Napi::Value {
      Napi::Float32Array m = Napi::Float32Array::New(env, p.totalParams());
      Napi::Float32Array v = Napi::Float32Array::New(env, p.totalParams());
      p.getMoments(m.Data(), v.Data());
      Napi::Object s = Napi::Object::New(env);
      s.Set("m", m);
      s.Set("v", v);
      Napi::Float64Array steps = Napi::Float64Array::New(env, p.paramSteps().size());
      for (size_t i = 0; i < p.paramSteps().size(); ++i) steps[i] = static_cast<double>(p.paramSteps()[i]);
      s.Set("paramSteps", steps);
      s.Set("steps", static_cast<double>(p.steps()));
      s.Set("seed", static_cast<double>(p.seed()));
      s.Set("counter", static_cast<double>(p.counter()));
      return s;
    });
  }

  Napi::Value SetState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, "setState");
    claim(env, "setState");
    Args a(info, "setState");
    const size_t total = p.totalParams();
    const float* m = a.floats("m", total);
    const float* v = a.floats("v", total);
    Napi::Value stepsValue = a.get("paramSteps");
    if (!stepsValue.IsTypedArray() || stepsValue.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      a.typeError("paramSteps", "Float64Array", stepsValue);
    }
    Napi::Float64Array steps = stepsValue.As<Napi::Float64Array>();
    if (steps.ElementLength() != p.paramSteps().size()) a.rangeError("paramSteps has the wrong length");
    for (size_t i = 0; i < steps.ElementLength(); ++i) {
      const double d = steps[i];
      if (!(d >= 0.0 && d <= 9007199254740991.0) || std::trunc(d) != d) {
        a.rangeError("paramSteps[" + std::to_string(i) + "] must be a non-negative integer");
      }
    }
    const int64_t totalSteps = a.integer("steps", 0, int64_t{1} << 52);
    const int64_t seed = a.integer("seed", 0, int64_t{1} << 53);
    const int64_t counter = a.integer("counter", 0, int64_t{1} << 53);
    return guarded(env, [&]() -> Napi::Value {
      p.setMoments(m, v);
      for (size_t i = 0; i < steps.ElementLength(); ++i) p.paramSteps()[i] = static_cast<int64_t>(steps[i]);
      p.setSteps(totalSteps);
      p.seed() = static_cast<uint64_t>(seed);
      p.counter() = static_cast<uint64_t>(counter);
      return env.Undefined();
    });
  }

  Napi::Value SetFrozen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, "setFrozen");
    claim(env, "setFrozen");
    Args a(info, "setFrozen");
    const size_t index = a.size("param", 0, p.spec().params.size() - 1);
    p.setFrozen(index, a.flag("frozen", true));
    return env.Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    cuda::CudaProgram& p = live(env, "info");
    Napi::Object o = Napi::Object::New(env);
    o.Set("classes", static_cast<double>(p.classes()));
    o.Set("vocab", static_cast<double>(p.vocab()));
    o.Set("minLength", static_cast<double>(p.minLength()));
    o.Set("maxBatch", static_cast<double>(p.spec().maxBatch));
    o.Set("maxLength", static_cast<double>(p.spec().maxLength));
    o.Set("deviceBytes", static_cast<double>(p.deviceBytes()));
    return o;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!program_) return env.Undefined();
    claim(env, "dispose");
    program_.reset();
    return env.Undefined();
  }

  std::unique_ptr<cuda::CudaProgram> program_;
  std::atomic<bool> busy_{false};
};

StepWorker::StepWorker(Napi::Env env, ProgramWrap* owner, Job job, std::unique_ptr<BatchBaton> batch,
                       cuda::StepConfig cfg, Napi::Float32Array logits)
    : Napi::AsyncWorker(env, "finetune:cudaStep"),
      owner_(owner),
      ownerRef_(Napi::Persistent(owner->Value())),
      job_(job),
      batch_(std::move(batch)),
      cfg_(std::move(cfg)),
      logitsRef_(Napi::Persistent(logits)),
      logits_(logits.ElementLength() > 0 ? logits.Data() : nullptr),
      deferred_(Napi::Promise::Deferred::New(env)) {}

void StepWorker::Execute() {
  try {
    cuda::CudaProgram& p = owner_->program();
    switch (job_) {
      case Job::Train: result_ = p.trainStep(batch_->view, cfg_); break;
      case Job::Predict: p.predict(batch_->view, logits_); break;
      case Job::Evaluate: result_ = p.evaluate(batch_->view, logits_); break;
    }
  } catch (...) {
    error_ = std::current_exception();
    SetError("CUDA step failed");
  }
}

void StepWorker::OnOK() {
  Napi::Env env = Env();
  owner_->finishJob();
  if (job_ == Job::Predict) {
    deferred_.Resolve(logitsRef_.Value());
    return;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("loss", result_.loss);
  r.Set("correct", static_cast<double>(result_.correct));
  if (job_ == Job::Train) {
    r.Set("gradNorm", result_.gradNorm);
    r.Set("skipped", result_.skipped);
  } else {
    r.Set("logits", logitsRef_.Value());
  }
  deferred_.Resolve(r);
}

void StepWorker::OnError(const Napi::Error& e) {
  owner_->finishJob();
  if (error_) {
    deferred_.Reject(toJsError(Env(), error_).Value());
    return;
  }
  Napi::Error err = Napi::Error::New(Env(), std::string("finetune: ") + e.Message());
  err.Value().Set("code", "ERR_FINETUNE_INTERNAL");
  deferred_.Reject(err.Value());
}

}  // namespace

void registerProgramBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("CudaProgram", ProgramWrap::Define(env));
}

}  // namespace ft::cudaaddon
