// Thin per-op bindings over native/cpu kernels, for tests and kernel
// benchmarks: validate every argument, then call the kernel synchronously.
// Training runs through compiled programs instead; no arithmetic lives here.
#include <napi.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/kernel_args.h"
#include "addon/bindings.h"
#include "cpu/activation.h"
#include "cpu/conv1d.h"
#include "cpu/dropout.h"
#include "cpu/embedding.h"
#include "cpu/linear.h"
#include "cpu/loss.h"
#include "cpu/optimizer.h"
#include "cpu/pooling.h"

namespace ft::addon {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void checkIdsInRange(Args& a, const char* name, const int32_t* ids, size_t n, size_t limit, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= limit) {
      a.rangeError(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) + " is outside " +
                   what + " [0, " + std::to_string(limit) + ")");
    }
  }
}

// ---- embedding -------------------------------------------------------------

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingForward");
  size_t n = 0;
  const int32_t* ids = a.intsAnyLength("ids", n);
  const size_t vocab = a.size("vocab", 1);
  const size_t dim = a.size("dim", 1);
  const float* weight = a.floats("weight", a.product("weight", {vocab, dim}));
  float* out = a.floats("out", a.product("out", {n, dim}));
  checkIdsInRange(a, "ids", ids, n, vocab, "the vocabulary");
  cpu::embeddingForward(ids, n, weight, dim, out);
  return info.Env().Undefined();
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Args a(info, "embeddingBackward");
  size_t n = 0;
  const int32_t* ids = a.intsAnyLength("ids", n);
  const size_t vocab = a.size("vocab", 1);
  const size_t dim = a.size("dim", 1);
  const int64_t paddingIdx = a.integerOr("paddingIdx", -1, -1, static_cast<int64_t>(vocab) - 1);
  const float* gradOut = a.floats("gradOut", a.product("gradOut", {n, dim}));
  float* gradWeight = a.floats("gradWeight", a.product("gradWeight", {vocab, dim}));
  checkIdsInRange(a, "ids", ids, n, vocab, "the vocabulary");
  cpu::embeddingBackward(ids, n, gradOut, dim, paddingIdx, gradWeight);
  return info.Env().Undefined();
}

// ---- conv1d ----------------------------------------------------------------

Napi::Value Conv1dForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dForward");
  cpu::Conv1dShape s = parseConvShape(a);
  const float* x = a.floats("x", convXSize(s));
  const float* weight = a.floats("weight", convWSize(s));
  const float* bias = a.floatsOrNull("bias", s.outChannels);
  float* y = a.floats("y", convYSize(s));
  cpu::conv1dForward(s, x, weight, bias, y);
  return info.Env().Undefined();
}

Napi::Value Conv1dBackwardInput(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dBackwardInput");
  cpu::Conv1dShape s = parseConvShape(a);
  const float* dy = a.floats("dy", convYSize(s));
  const float* weight = a.floats("weight", convWSize(s));
  float* dx = a.floats("dx", convXSize(s));
  cpu::conv1dBackwardInput(s, dy, weight, dx);
  return info.Env().Undefined();
}

Napi::Value Conv1dBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dBackwardWeight");
  cpu::Conv1dShape s = parseConvShape(a);
  const float* x = a.floats("x", convXSize(s));
  const float* dy = a.floats("dy", convYSize(s));
  float* dWeight = a.floats("dWeight", convWSize(s));
  cpu::conv1dBackwardWeight(s, x, dy, dWeight);
  return info.Env().Undefined();
}

Napi::Value Conv1dBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dBackwardBias");
  cpu::Conv1dShape s = parseConvShape(a);
  const float* dy = a.floats("dy", convYSize(s));
  float* dBias = a.floats("dBias", s.outChannels);
  cpu::conv1dBackwardBias(s, dy, dBias);
  return info.Env().Undefined();
}

// ---- activations -----------------------------------------------------------

cpu::Activation activationKind(Args& a) {
  return static_cast<cpu::Activation>(a.integer("kind", 0, cpu::kActivationCount - 1));
}

Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  Args a(info, "activationForward");
  const cpu::Activation kind = activationKind(a);
  const float slope = static_cast<float>(a.numberOr("slope", 0.01, -kInf, kInf));
  size_t n = 0;
  const float* x = a.floatsAnyLength("x", n);
  float* y = a.floats("y", n);
  cpu::activationForward(kind, slope, x, y, n);
  return info.Env().Undefined();
}

Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackward");
  const cpu::Activation kind = activationKind(a);
  const float slope = static_cast<float>(a.numberOr("slope", 0.01, -kInf, kInf));
  size_t n = 0;
  const float* dy = a.floatsAnyLength("dy", n);
  float* dx = a.floats("dx", n);
  const bool needsInput = cpu::activationBackwardNeedsInput(kind);
  const float* x = needsInput ? a.floats("x", n) : a.floatsOrNull("x", n);
  const float* y = needsInput ? a.floatsOrNull("y", n) : a.floats("y", n);
  cpu::activationBackward(kind, slope, x, y, dy, dx, n);
  return info.Env().Undefined();
}

// ---- pooling ---------------------------------------------------------------

struct PoolShape {
  size_t batch, steps, channels, yStride, yOffset;
};

PoolShape poolShape(Args& a) {
  PoolShape s{};
  s.batch = a.size("batch", 0);
  s.steps = a.size("steps", 1, static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  s.channels = a.size("channels", 1);
  s.yStride = a.sizeOr("yStride", s.channels, 1);
  s.yOffset = a.sizeOr("yOffset", 0, 0);
  if (s.yOffset + s.channels > s.yStride) {
    a.rangeError("yOffset + channels (" + std::to_string(s.yOffset + s.channels) + ") exceeds yStride " +
                 std::to_string(s.yStride));
  }
  a.product("x", {s.batch, s.steps, s.channels});
  a.product("y", {s.batch, s.yStride});
  return s;
}

const int32_t* rowStepsArg(Args& a, const PoolShape& s) {
  const int32_t* rowSteps = a.intsOrNull("rowSteps", s.batch);
  if (rowSteps) {
    for (size_t b = 0; b < s.batch; ++b) {
      if (rowSteps[b] < 1 || static_cast<size_t>(rowSteps[b]) > s.steps) {
        a.rangeError("rowSteps[" + std::to_string(b) + "] = " + std::to_string(rowSteps[b]) + " is outside [1, " +
                     std::to_string(s.steps) + "]");
      }
    }
  }
  return rowSteps;
}

Napi::Value MaxOverTimeForward(const Napi::CallbackInfo& info) {
  Args a(info, "maxOverTimeForward");
  PoolShape s = poolShape(a);
  const float* x = a.floats("x", s.batch * s.steps * s.channels);
  const int32_t* rowSteps = rowStepsArg(a, s);
  float* y = a.floats("y", s.batch * s.yStride);
  int32_t* argmax = a.ints("argmax", s.batch * s.channels);
  cpu::maxOverTimeForward(x, s.batch, s.steps, s.channels, rowSteps, y, s.yStride, s.yOffset, argmax);
  return info.Env().Undefined();
}

Napi::Value MaxOverTimeBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maxOverTimeBackward");
  PoolShape s = poolShape(a);
  const float* dy = a.floats("dy", s.batch * s.yStride);
  const int32_t* argmax = a.ints("argmax", s.batch * s.channels);
  checkIdsInRange(a, "argmax", argmax, s.batch * s.channels, s.steps, "the steps");
  float* dx = a.floats("dx", s.batch * s.steps * s.channels);
  cpu::maxOverTimeBackward(dy, s.yStride, s.yOffset, argmax, s.batch, s.steps, s.channels, dx);
  return info.Env().Undefined();
}

Napi::Value MeanOverTimeForward(const Napi::CallbackInfo& info) {
  Args a(info, "meanOverTimeForward");
  PoolShape s = poolShape(a);
  const float* x = a.floats("x", s.batch * s.steps * s.channels);
  const int32_t* rowSteps = rowStepsArg(a, s);
  float* y = a.floats("y", s.batch * s.yStride);
  cpu::meanOverTimeForward(x, s.batch, s.steps, s.channels, rowSteps, y, s.yStride, s.yOffset);
  return info.Env().Undefined();
}

Napi::Value MeanOverTimeBackward(const Napi::CallbackInfo& info) {
  Args a(info, "meanOverTimeBackward");
  PoolShape s = poolShape(a);
  const float* dy = a.floats("dy", s.batch * s.yStride);
  const int32_t* rowSteps = rowStepsArg(a, s);
  float* dx = a.floats("dx", s.batch * s.steps * s.channels);
  cpu::meanOverTimeBackward(dy, s.yStride, s.yOffset, s.batch, s.steps, s.channels, rowSteps, dx);
  return info.Env().Undefined();
}

// ---- dropout ---------------------------------------------------------------

constexpr double kMaxSafeInteger = 9007199254740991.0;

Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutForward");
  size_t n = 0;
  const float* x = a.floatsAnyLength("x", n);
  float* y = a.floats("y", n);
  uint8_t* mask = a.bytes("mask", n);
  const double p = a.number("p", 0.0, 1.0);
  cpu::RandomState state{static_cast<uint64_t>(a.integer("seed", 0, static_cast<int64_t>(kMaxSafeInteger))),
                         static_cast<uint64_t>(a.integer("counter", 0, static_cast<int64_t>(kMaxSafeInteger)))};
  if (static_cast<double>(state.counter) + static_cast<double>(n) > kMaxSafeInteger) {
    a.rangeError("counter + x.length exceeds Number.MAX_SAFE_INTEGER");
  }
  cpu::dropoutForward(x, y, mask, n, p, state);
  return Napi::Number::New(info.Env(), static_cast<double>(state.counter));
}

Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutBackward");
  size_t n = 0;
  const float* dy = a.floatsAnyLength("dy", n);
  const uint8_t* mask = a.bytes("mask", n);
  float* dx = a.floats("dx", n);
  const double p = a.number("p", 0.0, 1.0);
  cpu::dropoutBackward(dy, mask, dx, n, p);
  return info.Env().Undefined();
}

// ---- linear ----------------------------------------------------------------

struct LinearShape {
  size_t rows, in, out;
};

LinearShape linearShape(Args& a) {
  LinearShape s{a.size("rows", 0), a.size("inFeatures", 1), a.size("outFeatures", 1)};
  a.product("x", {s.rows, s.in});
  a.product("y", {s.rows, s.out});
  a.product("weight", {s.out, s.in});
  return s;
}

Napi::Value LinearForward(const Napi::CallbackInfo& info) {
  Args a(info, "linearForward");
  LinearShape s = linearShape(a);
  const float* x = a.floats("x", s.rows * s.in);
  const float* weight = a.floats("weight", s.out * s.in);
  const float* bias = a.floatsOrNull("bias", s.out);
  float* y = a.floats("y", s.rows * s.out);
  cpu::linearForward(x, weight, bias, y, s.rows, s.in, s.out);
  return info.Env().Undefined();
}

Napi::Value LinearBackwardInput(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardInput");
  LinearShape s = linearShape(a);
  const float* dy = a.floats("dy", s.rows * s.out);
  const float* weight = a.floats("weight", s.out * s.in);
  float* dx = a.floats("dx", s.rows * s.in);
  cpu::linearBackwardInput(dy, weight, dx, s.rows, s.in, s.out);
  return info.Env().Undefined();
}

Napi::Value LinearBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardWeight");
  LinearShape s = linearShape(a);
  const float* x = a.floats("x", s.rows * s.in);
  const float* dy = a.floats("dy", s.rows * s.out);
  float* dWeight = a.floats("dWeight", s.out * s.in);
  cpu::linearBackwardWeight(x, dy, dWeight, s.rows, s.in, s.out);
  return info.Env().Undefined();
}

Napi::Value LinearBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardBias");
  LinearShape s = linearShape(a);
  const float* dy = a.floats("dy", s.rows * s.out);
  float* dBias = a.floats("dBias", s.out);
  cpu::linearBackwardBias(dy, dBias, s.rows, s.out);
  return info.Env().Undefined();
}

// ---- loss ------------------------------------------------------------------

Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropy");
  const size_t rows = a.size("rows", 0);
  const size_t classes = a.size("classes", 1);
  const size_t n = a.product("logits", {rows, classes});
  const float* logits = a.floats("logits", n);
  const int32_t* labels = a.ints("labels", rows);
  checkIdsInRange(a, "labels", labels, rows, classes, "the classes");
  const float* classWeights = a.floatsOrNull("classWeights", classes);
  if (classWeights) {
    for (size_t c = 0; c < classes; ++c) {
      if (!(classWeights[c] >= 0.0f) || !std::isfinite(classWeights[c])) {
        a.rangeError("classWeights[" + std::to_string(c) + "] must be a finite non-negative number");
      }
    }
  }
  const float labelSmoothing = static_cast<float>(a.numberOr("labelSmoothing", 0.0, 0.0, 1.0));
  float* gradLogits = a.floatsOrNull("gradLogits", n);
  cpu::CrossEntropyResult r =
      cpu::softmaxCrossEntropy(logits, labels, rows, classes, classWeights, labelSmoothing, gradLogits);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("loss", r.loss);
  out.Set("correct", static_cast<double>(r.correct));
  return out;
}

// ---- optimizers ------------------------------------------------------------

Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adamUpdate");
  size_t n = 0;
  float* param = a.floatsAnyLength("param", n);
  const float* grad = a.floats("grad", n);
  float* m = a.floats("m", n);
  float* v = a.floats("v", n);
  const cpu::AdamConfig cfg = parseAdamConfig(a);
  const int64_t step = a.integer("step", 1, static_cast<int64_t>(kMaxSafeInteger));
  cpu::adamUpdate(cfg, step, param, grad, m, v, n);
  return info.Env().Undefined();
}

Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "sgdUpdate");
  size_t n = 0;
  float* param = a.floatsAnyLength("param", n);
  const float* grad = a.floats("grad", n);
  const cpu::SgdConfig cfg = parseSgdConfig(a);
  float* momentumBuffer = cfg.momentum != 0.0 ? a.floats("momentumBuffer", n) : nullptr;
  const bool firstStep = a.flag("firstStep", false);
  cpu::sgdUpdate(cfg, firstStep, param, grad, momentumBuffer, n);
  return info.Env().Undefined();
}

Napi::Value AdadeltaUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adadeltaUpdate");
  size_t n = 0;
  float* param = a.floatsAnyLength("param", n);
  const float* grad = a.floats("grad", n);
  float* squareAvg = a.floats("squareAvg", n);
  float* accDelta = a.floats("accDelta", n);
  const cpu::AdadeltaConfig cfg = parseAdadeltaConfig(a);
  cpu::adadeltaUpdate(cfg, param, grad, squareAvg, accDelta, n);
  return info.Env().Undefined();
}

Napi::Value MaxNormRows(const Napi::CallbackInfo& info) {
  Args a(info, "maxNormRows");
  const size_t rows = a.size("rows");
  const size_t cols = a.size("cols");
  float* weight = a.floats("weight", rows * cols);
  cpu::maxNormRows(weight, rows, cols, a.number("maxNorm", 0.0, kInf));
  return info.Env().Undefined();
}

Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  Args a(info, "clipGradNorm");
  Napi::Array list = a.array("grads");
  const double maxNorm = a.number("maxNorm", 0.0, kInf);
  std::vector<float*> grads(list.Length());
  std::vector<size_t> sizes(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      a.typeError(("grads[" + std::to_string(i) + "]").c_str(), "Float32Array", v);
    }
    Napi::Float32Array g = v.As<Napi::Float32Array>();
    grads[i] = g.Data();
    sizes[i] = g.ElementLength();
  }
  const double norm = cpu::clipGradNorm(grads.data(), sizes.data(), grads.size(), maxNorm);
  return Napi::Number::New(info.Env(), norm);
}

}  // namespace

void registerKernelBindings(Napi::Env env, Napi::Object exports) {
  const Binding bindings[] = {
      {"embeddingForward", EmbeddingForward},
      {"embeddingBackward", EmbeddingBackward},
      {"conv1dForward", Conv1dForward},
      {"conv1dBackwardInput", Conv1dBackwardInput},
      {"conv1dBackwardWeight", Conv1dBackwardWeight},
      {"conv1dBackwardBias", Conv1dBackwardBias},
      {"activationForward", ActivationForward},
      {"activationBackward", ActivationBackward},
      {"maxOverTimeForward", MaxOverTimeForward},
      {"maxOverTimeBackward", MaxOverTimeBackward},
      {"meanOverTimeForward", MeanOverTimeForward},
      {"meanOverTimeBackward", MeanOverTimeBackward},
      {"dropoutForward", DropoutForward},
      {"dropoutBackward", DropoutBackward},
      {"linearForward", LinearForward},
      {"linearBackwardInput", LinearBackwardInput},
      {"linearBackwardWeight", LinearBackwardWeight},
      {"linearBackwardBias", LinearBackwardBias},
      {"softmaxCrossEntropy", SoftmaxCrossEntropy},
      {"adamUpdate", AdamUpdate},
      {"sgdUpdate", SgdUpdate},
      {"adadeltaUpdate", AdadeltaUpdate},
      {"maxNormRows", MaxNormRows},
      {"clipGradNorm", ClipGradNorm},
  };
  Napi::Object kernels = Napi::Object::New(env);
  for (const Binding& b : bindings) addGuarded(env, kernels, b);
  exports.Set("kernels", kernels);
}

}  // namespace ft::addon
