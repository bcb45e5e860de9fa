// N-API face of runtime::Program: a Program class whose trainStep, predict
// and evaluate run on a worker thread (AsyncWorker + Promise), so the event
// loop stays free during training. Parameters are Float32Array views over
// native memory that stays alive while any view does.
#include <napi.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/bindings.h"
#include "addon/spec_parse.h"
#include "runtime/program.h"

namespace ft::addon {

namespace {


class ProgramWrap;

enum class Job { Train, Predict, Evaluate };

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, ProgramWrap* owner, Job job, std::unique_ptr<BatchBaton> batch, runtime::StepConfig cfg,
             Napi::Float32Array logits);
  ~StepWorker() override;
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  ProgramWrap* owner_;
  Napi::ObjectReference ownerRef_;
  Job job_;
  std::unique_ptr<BatchBaton> batch_;
  runtime::StepConfig cfg_;
  Napi::Reference<Napi::Float32Array> logitsRef_;
  float* logits_ = nullptr;
  runtime::StepResult result_;
  Napi::Promise::Deferred deferred_;
};

class ProgramWrap : public Napi::ObjectWrap<ProgramWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Program",
                       {InstanceMethod("trainStep", &ProgramWrap::TrainStep), InstanceMethod("predict", &ProgramWrap::Predict),
                        InstanceMethod("evaluate", &ProgramWrap::Evaluate), InstanceMethod("params", &ProgramWrap::Params),
                        InstanceMethod("getState", &ProgramWrap::GetState), InstanceMethod("setState", &ProgramWrap::SetState),
                        InstanceMethod("dispose", &ProgramWrap::Dispose), InstanceMethod("info", &ProgramWrap::Info),
                        InstanceMethod("setFrozen", &ProgramWrap::SetFrozen)});
  }

  explicit ProgramWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throwTypeError(env, "Program: Expected a program spec");
    runtime::ProgramSpec spec = parseSpec(env, info[0], "Program");
    try {
      program_ = std::make_unique<runtime::Program>(std::move(spec));
    } catch (const std::invalid_argument& e) {
      throwRangeError(env, std::string("Program: ") + e.what());
    } catch (const std::bad_alloc&) {
      throwCoded(env, "Program: not enough memory for the program's buffers", "ERR_FINETUNE_NO_MEMORY");
    }
    externalBytes_ = static_cast<int64_t>(program_->bytesAllocated());
    Napi::MemoryManagement::AdjustExternalMemory(env, externalBytes_);
  }

  ~ProgramWrap() override = default;

  // The finished call's batch copy comes back for the next call: its vectors
  // keep their capacity, so steady training allocates no batch storage.
  void finishJob(std::unique_ptr<BatchBaton> batch) {
    busy_ = false;
    spare_ = std::move(batch);
  }
  runtime::Program& program() { return *program_; }

 private:
  friend class StepWorker;

  runtime::Program& live(Napi::Env env, const char* fn) {
    if (!program_) throwCoded(env, std::string(fn) + ": this program was disposed", "ERR_FINETUNE_DISPOSED");
    return *program_;
  }

  void claim(Napi::Env env, const char* fn) {
    if (busy_) {
      throwCoded(env, std::string(fn) + ": the program is busy with another call; await it first", "ERR_FINETUNE_BUSY");
    }
  }

  Napi::Value queue(const Napi::CallbackInfo& info, Job job, const char* fn) {
    Napi::Env env = info.Env();
    runtime::Program& p = live(env, fn);
    claim(env, fn);
    std::unique_ptr<BatchBaton> batch = spare_ ? std::move(spare_) : std::make_unique<BatchBaton>();
    parseBatch(env, info.Length() > 0 ? info[0] : env.Undefined(), job == Job::Train || job == Job::Evaluate, *batch, p, fn);
    runtime::StepConfig cfg;
    if (job == Job::Train) {
      cfg = parseStepConfig(env, info.Length() > 1 ? info[1] : env.Undefined(), p.spec().groups);
      try {
        p.validateStepConfig(cfg);
      } catch (const std::invalid_argument& e) {
        throwRangeError(env, std::string(fn) + ": " + e.what());
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

  Napi::Value Params(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    runtime::Program& p = live(env, "params");
    auto storage = p.storage();
    Napi::Array out = Napi::Array::New(env, p.spec().params.size());
    for (size_t i = 0; i < p.spec().params.size(); ++i) {
      const runtime::ParamSpec& ps = p.spec().params[i];
      // Each view keeps the storage alive through its finalizer's hint.
      auto* hold = new std::shared_ptr<runtime::ParamStorage>(storage);
      Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
          env, storage->values.data() + p.paramOffset(i), ps.size * sizeof(float),
          [](Napi::Env, void*, std::shared_ptr<runtime::ParamStorage>* h) { delete h; }, hold);
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("name", ps.name);
      entry.Set("group", ps.group);
      entry.Set("frozen", ps.frozen);
      entry.Set("values", Napi::Float32Array::New(env, ps.size, buffer, 0));
      out.Set(static_cast<uint32_t>(i), entry);
    }
    return out;
  }

  // Copies of the optimizer and generator state, for checkpoints.
  Napi::Value GetState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    runtime::Program& p = live(env, "getState");
    claim(env, "getState");
    auto copy = [&](const std::vector<float>& v) {
      Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
      std::copy(v.begin(), v.end(), a.Data());
      return a;
    };
    Napi::Object s = Napi::Object::New(env);
    s.Set("m", copy(p.moment1()));
    s.Set("v", copy(p.moment2()));
    Napi::Float64Array steps = Napi::Float64Array::New(env, p.paramSteps().size());
    for (size_t i = 0; i < p.paramSteps().size(); ++i) steps[i] = static_cast<double>(p.paramSteps()[i]);
    s.Set("paramSteps", steps);
    s.Set("steps", static_cast<double>(p.steps()));
    s.Set("seed", static_cast<double>(p.random().seed));
    s.Set("counter", static_cast<double>(p.random().counter));
    return s;
  }

  Napi::Value SetState(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    runtime::Program& p = live(env, "setState");
    claim(env, "setState");
    Args a(info, "setState");
    const size_t total = p.moment1().size();
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
    const int64_t total_steps = a.integer("steps", 0, int64_t{1} << 52);
    const int64_t seed = a.integer("seed", 0, int64_t{1} << 53);
    const int64_t counter = a.integer("counter", 0, int64_t{1} << 53);
    std::copy(m, m + total, p.moment1().begin());
    std::copy(v, v + total, p.moment2().begin());
    for (size_t i = 0; i < steps.ElementLength(); ++i) p.paramSteps()[i] = static_cast<int64_t>(steps[i]);
    p.setSteps(total_steps);
    p.random().seed = static_cast<uint64_t>(seed);
    p.random().counter = static_cast<uint64_t>(counter);
    return env.Undefined();
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    runtime::Program& p = live(env, "info");
    Napi::Object o = Napi::Object::New(env);
    o.Set("classes", static_cast<double>(p.classes()));
    o.Set("vocab", static_cast<double>(p.vocab()));
    o.Set("minLength", static_cast<double>(p.minLength()));
    o.Set("maxBatch", static_cast<double>(p.spec().maxBatch));
    o.Set("maxLength", static_cast<double>(p.spec().maxLength));
    o.Set("bytes", static_cast<double>(p.bytesAllocated()));
    return o;
  }

  Napi::Value SetFrozen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    runtime::Program& p = live(env, "setFrozen");
    claim(env, "setFrozen");
    Args a(info, "setFrozen");
    const size_t index = a.size("param", 0, p.spec().params.size() - 1);
    p.setFrozen(index, a.flag("frozen", true));
    return env.Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!program_) return env.Undefined();  // a second dispose is a no-op
    claim(env, "dispose");
    program_.reset();
    Napi::MemoryManagement::AdjustExternalMemory(env, -externalBytes_);
    externalBytes_ = 0;
    return env.Undefined();
  }

  std::unique_ptr<runtime::Program> program_;
  std::atomic<bool> busy_{false};
  int64_t externalBytes_ = 0;
  std::unique_ptr<BatchBaton> spare_;
};

StepWorker::StepWorker(Napi::Env env, ProgramWrap* owner, Job job, std::unique_ptr<BatchBaton> batch,
                       runtime::StepConfig cfg, Napi::Float32Array logits)
    : Napi::AsyncWorker(env, "finetune:step"),
      owner_(owner),
      ownerRef_(Napi::Persistent(owner->Value())),
      job_(job),
      batch_(std::move(batch)),
      cfg_(std::move(cfg)),
      logitsRef_(Napi::Persistent(logits)),
      logits_(logits.ElementLength() > 0 ? logits.Data() : nullptr),
      deferred_(Napi::Promise::Deferred::New(env)) {}

StepWorker::~StepWorker() = default;

void StepWorker::Execute() {
  try {
    runtime::Program& p = owner_->program();
    switch (job_) {
      case Job::Train: result_ = p.trainStep(batch_->view, cfg_); break;
      case Job::Predict: p.predict(batch_->view, logits_); break;
      case Job::Evaluate: result_ = p.evaluate(batch_->view, logits_); break;
    }
  } catch (const std::exception& e) {
    SetError(e.what());
  }
}

void StepWorker::OnOK() {
  Napi::Env env = Env();
  owner_->finishJob(std::move(batch_));
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
  owner_->finishJob(std::move(batch_));
  Napi::Error err = Napi::Error::New(Env(), std::string("finetune: ") + e.Message());
  err.Value().Set("code", "ERR_FINETUNE_INTERNAL");
  deferred_.Reject(err.Value());
}

}  // namespace

void registerProgramBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("Program", ProgramWrap::Define(env));
}

}  // namespace ft::addon
