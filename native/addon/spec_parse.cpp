#include "addon/spec_parse.h"

#include <cmath>
#include <limits>

namespace ft::addon {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

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

}  // namespace

[[noreturn]] void throwCoded(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", code);
  throw e;
}

runtime::ProgramSpec parseSpec(Napi::Env env, const Napi::Value& value, const char* who) {
  Args a(env, value, who);
  // Args keeps the name's pointer: these outlive every Args made from them.
  const std::string tensorsWho = std::string(who) + " tensors[i]", paramsWho = std::string(who) + " params[i]",
                    opsWho = std::string(who) + " ops[i]";
  runtime::ProgramSpec spec;
  spec.maxBatch = a.size("maxBatch", 1, 1 << 20);
  spec.maxLength = a.size("maxLength", 1, 1 << 20);
  spec.groups = a.sizeOr("groups", 1, 1, 1024);
  spec.labelSmoothing = a.numberOr("labelSmoothing", 0.0, 0.0, 1.0);

  Napi::Array tensors = a.array("tensors");
  for (uint32_t i = 0; i < tensors.Length(); ++i) {
    Args t(env, tensors.Get(i), tensorsWho.c_str());
    runtime::TensorSpec ts{};
    ts.kind = static_cast<runtime::TensorKind>(t.integer("kind", 0, 2));
    ts.channels = t.sizeOr("channels", 0, 0, 1 << 24);
    spec.tensors.push_back(ts);
  }
  Napi::Array params = a.array("params");
  for (uint32_t i = 0; i < params.Length(); ++i) {
    Args p(env, params.Get(i), paramsWho.c_str());
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
    Args o(env, ops.Get(i), opsWho.c_str());
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

void copyBatch(Napi::Env env, const Napi::Value& value, bool needLabels, size_t maxBatch, size_t maxLength,
               BatchBaton& baton, const char* fn) {
  Args a(env, value, fn);
  baton.view = runtime::BatchView{};  // a reused baton must not keep the last call's pointers
  baton.view.batch = a.size("batch", 1, maxBatch);
  baton.view.length = a.size("length", 1, maxLength);
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

}  // namespace ft::addon
