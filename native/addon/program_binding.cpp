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
#include "runtime/program.h"

namespace ft::addon {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

[[noreturn]] void throwCoded(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", code);
  throw e;
}

std::vector<int32_t> intList(Args& a, const char* name, int64_t maxValue) {
  Napi::Array list = a.array(name);
  std::vector<int32_t> out(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) a.typeError(name, "an array of integers", v);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= -1 && d <= static_cast<double>(maxValue)) || std::trunc(d) != d) {
      a.rangeError(std::string(name) + "[" + std::to_string(i) + "] = " + describe(v) + " is out of range");
    }
    out[i] = static_cast<int32_t>(d);
  }
  return out;
}

runtime::ProgramSpec parseSpec(Napi::Env env, const Napi::Value& value) {
  Args a(env, value, "Program");
  runtime::ProgramSpec spec;
  spec.maxBatch = a.size("maxBatch", 1, 1 << 20);
  spec.maxLength = a.size("maxLength", 1, 1 << 20);
  spec.groups = a.sizeOr("groups", 1, 1, 1024);
  spec.labelSmoothing = a.numberOr("labelSmoothing", 0.0, 0.0, 1.0);

  Napi::Array tensors = a.array("tensors");
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    Args t(env, tensors.Get(i), "Program tensors[i]");
    runtime::TensorSpec ts{};
    ts.kind = static_cast<runtime::TensorKind>(t.integer("kind", 0, 2));
    ts.channels = t.sizeOr("channels", 0, 0, 1 << 24);
    spec.tensors.push_back(ts);
  }
  Napi::Array params = a.array("params");
  for (uint32_t i = 0; i < params.Length(); ++i) {
    Args p(env, params.Get(i), "Program params[i]");
    runtime::ParamSpec ps;
    Napi::Value name = p.get("name");
    if (!name.IsString()) p.typeError("name", "a string", name);
    ps.name = name.As<Napi::String>().Utf8Value();
    ps.size = p.size("size", 1, kMaxElements >> 4);
    ps.group = static_cast<int32_t>(p.integerOr("group", 0, 0, static_cast<int64_t>(spec.groups) - 1));
    ps.frozen = p.flag("frozen", false);
    spec.params.push_back(ps);
  }
  Napi::Array ops = a.array("ops");
  const int64_t nt = static_cast<int64_t>(spec.tensors.size());
  for (uint32_t i = 0; i < ops.Length(); ++i) {
    Args o(env, ops.Get(i), "Program ops[i]");
    runtime::OpSpec op;
    op.type = static_cast<runtime::OpType>(o.integer("type", 0, 7));
    op.inputs = intList(o, "inputs", nt - 1);
    op.output = static_cast<int32_t>(o.integer("output", 0, nt - 1));
    op.params = intList(o, "params", static_cast<int64_t>(spec.params.size()) - 1);
    op.width = o.sizeOr("width", 0, 0, 1 << 16);
    op.padLeft = o.sizeOr("padLeft", 0, 0, 1 << 16);
    op.padRight = o.sizeOr("padRight", 0, 0, 1 << 16);
    op.paddingIdx = o.integerOr("paddingIdx", -1, -1, int64_t{1} << 40);
    op.activation = static_cast<cpu::Activation>(o.integerOr("activation", 0, 0, cpu::kActivationCount - 1));
    op.slope = static_cast<float>(o.numberOr("slope", 0.01, -kInf, kInf));
    op.dropout = o.numberOr("dropout", 0.0, 0.0, 1.0);
    spec.ops.push_back(std::move(op));
  }
  Napi::Value cw = a.get("classWeights");
  if (!cw.IsUndefined() && !cw.IsNull()) {
    size_t n = 0;
    float* w = a.floatsAnyLength("classWeights", n);
    spec.classWeights.assign(w, w + n);
  }
  return spec;
}

// The batch is copied when the call is made: the worker thread must not read
// JS memory the caller may change, transfer or free while the step runs, and
// the copy is what validateBatch checked. (ids are batch x length int32: small
// next to one step's arithmetic.)
struct BatchBaton {
  runtime::BatchView view{};
  std::vector<int32_t> ids, lengths, labels;
};

void parseBatch(Napi::Env env, const Napi::Value& value, bool needLabels, BatchBaton& baton, const runtime::Program& program,
                const char* fn) {
  Args a(env, value, fn);
  baton.view = runtime::BatchView{};  // a reused baton must not keep the last call's pointers
  baton.view.batch = a.size("batch", 1, program.spec().maxBatch);
  baton.view.length = a.size("length", 1, program.spec().maxLength);
  const size_t n = baton.view.batch * baton.view.length;
  const int32_t* ids = a.ints("ids", n);
  const int32_t* lengths = a.intsOrNull("lengths", baton.view.batch);
  const int32_t* labels = needLabels ? a.ints("labels", baton.view.batch) : a.intsOrNull("labels", baton.view.batch);
  baton.ids.assign(ids, ids + n);
  baton.view.ids = baton.ids.data();
  if (lengths) {
    baton.lengths.assign(lengths, lengths + baton.view.batch);
    baton.view.lengths = baton.lengths.data();
  }
  if (labels) {
    baton.labels.assign(labels, labels + baton.view.batch);
    baton.view.labels = baton.labels.data();
  }
  try {
    program.validateBatch(baton.view, needLabels);
  } catch (const std::invalid_argument& e) {
    throwRangeError(env, std::string(fn) + ": " + e.what());
  }
}

runtime::StepConfig parseStepConfig(Napi::Env env, const Napi::Value& value, size_t groups) {
  Args a(env, value, "trainStep config");
  runtime::StepConfig cfg;
  cfg.optimizer = static_cast<runtime::OptimizerKind>(a.integerOr("optimizer", 0, 0, 3));
  cfg.beta1 = a.numberOr("beta1", 0.9, 0.0, 1.0 - 1e-12);
  cfg.beta2 = a.numberOr("beta2", 0.999, 0.0, 1.0 - 1e-12);
  cfg.eps = a.numberOr("eps", cfg.optimizer == runtime::OptimizerKind::Adadelta ? 1e-6 : 1e-8, 0.0, kInf);
  cfg.rho = a.numberOr("rho", 0.9, 0.0, 1.0);
  cfg.momentum = a.numberOr("momentum", 0.0, 0.0, kInf);
  cfg.dampening = a.numberOr("dampening", 0.0, 0.0, 1.0);
  cfg.nesterov = a.flag("nesterov", false);
  cfg.maxGradNorm = a.numberOr("maxGradNorm", 0.0, 0.0, kInf);
  cfg.maxNorm = a.numberOr("maxNorm", 0.0, 0.0, kInf);
  cfg.sparseEmbedding = a.flag("sparseEmbedding", false);
  Napi::Array list = a.array("groups");
  if (list.Length() != groups) a.rangeError("Expected " + std::to_string(groups) + " entries in groups but received " + std::to_string(list.Length()));
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Args g(env, list.Get(i), "trainStep config groups[i]");
    cfg.groups.push_back({g.number("lr", 0.0, kInf), g.numberOr("weightDecay", 0.0, 0.0, kInf)});
  }
  return cfg;
}

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
    runtime::ProgramSpec spec = parseSpec(env, info[0]);
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
