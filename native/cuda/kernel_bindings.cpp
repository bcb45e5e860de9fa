// Per-op bindings of the CUDA kernels, for tests against the CPU kernels and
// for kernel benchmarks. Each takes the same options object as the CPU
// binding of the same name (native/addon/kernel_bindings.cpp) and validates
// it the same way (addon/args.h), then copies the host arrays to the device,
// runs the kernel, and copies the outputs back: slow on purpose-built, simple
// paths. Training on the device goes through CudaProgram instead.
#include <napi.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/kernel_args.h"
#include "cuda/activation.h"
#include "cuda/bindings.h"
#include "cuda/conv1d.h"
#include "cuda/dropout.h"
#include "cuda/embedding.h"
#include "cuda/linear.h"
#include "cuda/loss.h"
#include "cuda/memory.h"
#include "cuda/optimizer.h"
#include "cuda/pooling.h"

namespace ft::cudaaddon {

namespace {

using addon::Args;
using addon::convWSize;
using addon::convXSize;
using addon::convYSize;
using addon::parseAdadeltaConfig;
using addon::parseAdamConfig;
using addon::parseConvShape;
using addon::parseSgdConfig;
using cuda::DeviceBuffer;
using cuda::toDevice;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxSafeInteger = 9007199254740991.0;
constexpr cudaStream_t kStream = nullptr;  // the legacy default stream: every copy below is ordered after the kernels

void checkIdsInRange(Args& a, const char* name, const int32_t* ids, size_t n, size_t limit, const char* what) {
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= limit) {
      a.rangeError(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) + " is outside " +
                   what + " [0, " + std::to_string(limit) + ")");
    }
  }
}

// A device copy of a nullable host array: empty (get() == nullptr) for null.
template <class T>
DeviceBuffer<T> toDeviceOrNull(const T* host, size_t n) {
  return host ? toDevice(host, n) : DeviceBuffer<T>();
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
  auto dIds = toDevice(ids, n);
  auto dW = toDevice(weight, vocab * dim);
  DeviceBuffer<float> dOut(n * dim);
  cuda::embeddingForward(dIds.get(), n, dW.get(), dim, dOut.get(), kStream);
  dOut.download(out, n * dim);
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
  cuda::EmbeddingGroups groups;
  groups.build(ids, n, vocab, paddingIdx);
  auto dRun = toDevice(groups.runId.data(), groups.runs());
  auto dStart = toDevice(groups.runStart.data(), groups.runStart.size());
  auto dOrder = toDevice(groups.order.data(), groups.order.size());
  auto dG = toDevice(gradOut, n * dim);
  auto dGW = toDevice(gradWeight, vocab * dim);
  cuda::embeddingBackwardGrouped(dRun.get(), dStart.get(), groups.runs(), dOrder.get(), nullptr, dG.get(), dim,
                                 dGW.get(), kStream);
  dGW.download(gradWeight);
  return info.Env().Undefined();
}

// ---- conv1d ----------------------------------------------------------------

Napi::Value Conv1dForward(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dForward");
  cuda::Conv1dShape s = parseConvShape(a);
  const float* x = a.floats("x", convXSize(s));
  const float* weight = a.floats("weight", convWSize(s));
  const float* bias = a.floatsOrNull("bias", s.outChannels);
  float* y = a.floats("y", convYSize(s));
  auto dX = toDevice(x, convXSize(s));
  auto dW = toDevice(weight, convWSize(s));
  auto dB = toDeviceOrNull(bias, s.outChannels);
  DeviceBuffer<float> dY(convYSize(s));
  cuda::conv1dForward(s, dX.get(), dW.get(), dB.get(), dY.get(), kStream);
  dY.download(y, convYSize(s));
  return info.Env().Undefined();
}

Napi::Value Conv1dBackwardInput(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dBackwardInput");
  cuda::Conv1dShape s = parseConvShape(a);
  const float* dy = a.floats("dy", convYSize(s));
  const float* weight = a.floats("weight", convWSize(s));
  float* dx = a.floats("dx", convXSize(s));
  auto dDy = toDevice(dy, convYSize(s));
  auto dW = toDevice(weight, convWSize(s));
  auto dDx = toDevice(dx, convXSize(s));
  cuda::conv1dBackwardInput(s, dDy.get(), dW.get(), dDx.get(), workspace(), kStream);
  dDx.download(dx, convXSize(s));
  return info.Env().Undefined();
}

Napi::Value Conv1dBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dBackwardWeight");
  cuda::Conv1dShape s = parseConvShape(a);
  const float* x = a.floats("x", convXSize(s));
  const float* dy = a.floats("dy", convYSize(s));
  float* dWeight = a.floats("dWeight", convWSize(s));
  auto dX = toDevice(x, convXSize(s));
  auto dDy = toDevice(dy, convYSize(s));
  auto dDw = toDevice(dWeight, convWSize(s));
  cuda::conv1dBackwardWeight(s, dX.get(), dDy.get(), dDw.get(), workspace(), kStream);
  dDw.download(dWeight, convWSize(s));
  return info.Env().Undefined();
}

Napi::Value Conv1dBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "conv1dBackwardBias");
  cuda::Conv1dShape s = parseConvShape(a);
  const float* dy = a.floats("dy", convYSize(s));
  float* dBias = a.floats("dBias", s.outChannels);
  auto dDy = toDevice(dy, convYSize(s));
  auto dDb = toDevice(dBias, s.outChannels);
  cuda::conv1dBackwardBias(s, dDy.get(), dDb.get(), workspace(), kStream);
  dDb.download(dBias, s.outChannels);
  return info.Env().Undefined();
}

// ---- activations -----------------------------------------------------------

cuda::Activation activationKind(Args& a) {
  return static_cast<cuda::Activation>(a.integer("kind", 0, cpu::kActivationCount - 1));
}

// cpu::activationBackwardNeedsInput, which lives in the CPU module's sources.
bool needsInput(cuda::Activation kind) {
  return !(kind == cuda::Activation::Tanh || kind == cuda::Activation::Sigmoid ||
           kind == cuda::Activation::Identity);
}

Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  Args a(info, "activationForward");
  const cuda::Activation kind = activationKind(a);
  const float slope = static_cast<float>(a.numberOr("slope", 0.01, -kInf, kInf));
  size_t n = 0;
  const float* x = a.floatsAnyLength("x", n);
  float* y = a.floats("y", n);
  auto dX = toDevice(x, n);
  DeviceBuffer<float> dY(n);
  cuda::activationForward(kind, slope, dX.get(), dY.get(), n, kStream);
  dY.download(y, n);
  return info.Env().Undefined();
}

Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackward");
  const cuda::Activation kind = activationKind(a);
  const float slope = static_cast<float>(a.numberOr("slope", 0.01, -kInf, kInf));
  size_t n = 0;
  const float* dy = a.floatsAnyLength("dy", n);
  float* dx = a.floats("dx", n);
  const bool input = needsInput(kind);
  const float* x = input ? a.floats("x", n) : a.floatsOrNull("x", n);
  const float* y = input ? a.floatsOrNull("y", n) : a.floats("y", n);
  auto dX = toDeviceOrNull(x, n);
  auto dYv = toDeviceOrNull(y, n);
  auto dDy = toDevice(dy, n);
  DeviceBuffer<float> dDx(n);
  cuda::activationBackward(kind, slope, dX.get(), dYv.get(), dDy.get(), dDx.get(), n, kStream);
  dDx.download(dx, n);
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
  const size_t xn = s.batch * s.steps * s.channels, yn = s.batch * s.yStride, an = s.batch * s.channels;
  const float* x = a.floats("x", xn);
  const int32_t* rowSteps = rowStepsArg(a, s);
  float* y = a.floats("y", yn);
  int32_t* argmax = a.ints("argmax", an);
  auto dX = toDevice(x, xn);
  auto dR = toDeviceOrNull(rowSteps, s.batch);
  auto dY = toDevice(y, yn);  // columns outside [yOffset, yOffset + channels) keep their values
  DeviceBuffer<int32_t> dA(an);
  cuda::maxOverTimeForward(dX.get(), s.batch, s.steps, s.channels, dR.get(), dY.get(), s.yStride, s.yOffset, dA.get(),
                           kStream);
  dY.download(y, yn);
  dA.download(argmax, an);
  return info.Env().Undefined();
}

Napi::Value MaxOverTimeBackward(const Napi::CallbackInfo& info) {
  Args a(info, "maxOverTimeBackward");
  PoolShape s = poolShape(a);
  const size_t xn = s.batch * s.steps * s.channels, yn = s.batch * s.yStride, an = s.batch * s.channels;
  const float* dy = a.floats("dy", yn);
  const int32_t* argmax = a.ints("argmax", an);
  checkIdsInRange(a, "argmax", argmax, an, s.steps, "the steps");
  float* dx = a.floats("dx", xn);
  auto dDy = toDevice(dy, yn);
  auto dA = toDevice(argmax, an);
  DeviceBuffer<float> dDx(xn);
  cuda::maxOverTimeBackward(dDy.get(), s.yStride, s.yOffset, dA.get(), s.batch, s.steps, s.channels, dDx.get(),
                            kStream);
  dDx.download(dx, xn);
  return info.Env().Undefined();
}

Napi::Value MeanOverTimeForward(const Napi::CallbackInfo& info) {
  Args a(info, "meanOverTimeForward");
  PoolShape s = poolShape(a);
  const size_t xn = s.batch * s.steps * s.channels, yn = s.batch * s.yStride;
  const float* x = a.floats("x", xn);
  const int32_t* rowSteps = rowStepsArg(a, s);
  float* y = a.floats("y", yn);
  auto dX = toDevice(x, xn);
  auto dR = toDeviceOrNull(rowSteps, s.batch);
  auto dY = toDevice(y, yn);
  cuda::meanOverTimeForward(dX.get(), s.batch, s.steps, s.channels, dR.get(), dY.get(), s.yStride, s.yOffset, kStream);
  dY.download(y, yn);
  return info.Env().Undefined();
}

Napi::Value MeanOverTimeBackward(const Napi::CallbackInfo& info) {
  Args a(info, "meanOverTimeBackward");
  PoolShape s = poolShape(a);
  const size_t xn = s.batch * s.steps * s.channels, yn = s.batch * s.yStride;
  const float* dy = a.floats("dy", yn);
  const int32_t* rowSteps = rowStepsArg(a, s);
  float* dx = a.floats("dx", xn);
  auto dDy = toDevice(dy, yn);
  auto dR = toDeviceOrNull(rowSteps, s.batch);
  DeviceBuffer<float> dDx(xn);
  cuda::meanOverTimeBackward(dDy.get(), s.yStride, s.yOffset, s.batch, s.steps, s.channels, dR.get(), dDx.get(),
                             kStream);
  dDx.download(dx, xn);
  return info.Env().Undefined();
}

// ---- dropout ---------------------------------------------------------------

Napi::Value DropoutForward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutForward");
  size_t n = 0;
  const float* x = a.floatsAnyLength("x", n);
  float* y = a.floats("y", n);
  uint8_t* mask = a.bytes("mask", n);
  const double p = a.number("p", 0.0, 1.0);
  const uint64_t seed = static_cast<uint64_t>(a.integer("seed", 0, static_cast<int64_t>(kMaxSafeInteger)));
  const uint64_t counter = static_cast<uint64_t>(a.integer("counter", 0, static_cast<int64_t>(kMaxSafeInteger)));
  if (static_cast<double>(counter) + static_cast<double>(n) > kMaxSafeInteger) {
    a.rangeError("counter + x.length exceeds Number.MAX_SAFE_INTEGER");
  }
  auto dX = toDevice(x, n);
  DeviceBuffer<float> dY(n);
  DeviceBuffer<uint8_t> dM(n);
  cuda::dropoutForward(dX.get(), dY.get(), dM.get(), n, p, seed, counter, kStream);
  dY.download(y, n);
  dM.download(mask, n);
  return Napi::Number::New(info.Env(), static_cast<double>(counter + n));
}

Napi::Value DropoutBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dropoutBackward");
  size_t n = 0;
  const float* dy = a.floatsAnyLength("dy", n);
  const uint8_t* mask = a.bytes("mask", n);
  float* dx = a.floats("dx", n);
  const double p = a.number("p", 0.0, 1.0);
  auto dDy = toDevice(dy, n);
  auto dM = toDevice(mask, n);
  DeviceBuffer<float> dDx(n);
  cuda::dropoutBackward(dDy.get(), dM.get(), dDx.get(), n, p, kStream);
  dDx.download(dx, n);
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
  auto dX = toDevice(x, s.rows * s.in);
  auto dW = toDevice(weight, s.out * s.in);
  auto dB = toDeviceOrNull(bias, s.out);
  DeviceBuffer<float> dY(s.rows * s.out);
  cuda::linearForward(dX.get(), dW.get(), dB.get(), dY.get(), s.rows, s.in, s.out, kStream);
  dY.download(y, s.rows * s.out);
  return info.Env().Undefined();
}

Napi::Value LinearBackwardInput(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardInput");
  LinearShape s = linearShape(a);
  const float* dy = a.floats("dy", s.rows * s.out);
  const float* weight = a.floats("weight", s.out * s.in);
  float* dx = a.floats("dx", s.rows * s.in);
  auto dDy = toDevice(dy, s.rows * s.out);
  auto dW = toDevice(weight, s.out * s.in);
  auto dDx = toDevice(dx, s.rows * s.in);
  cuda::linearBackwardInput(dDy.get(), dW.get(), dDx.get(), s.rows, s.in, s.out, kStream);
  dDx.download(dx, s.rows * s.in);
  return info.Env().Undefined();
}

Napi::Value LinearBackwardWeight(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardWeight");
  LinearShape s = linearShape(a);
  const float* x = a.floats("x", s.rows * s.in);
  const float* dy = a.floats("dy", s.rows * s.out);
  float* dWeight = a.floats("dWeight", s.out * s.in);
  auto dX = toDevice(x, s.rows * s.in);
  auto dDy = toDevice(dy, s.rows * s.out);
  auto dDw = toDevice(dWeight, s.out * s.in);
  cuda::linearBackwardWeight(dX.get(), dDy.get(), dDw.get(), s.rows, s.in, s.out, workspace(), kStream);
  dDw.download(dWeight, s.out * s.in);
  return info.Env().Undefined();
}

Napi::Value LinearBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "linearBackwardBias");
  LinearShape s = linearShape(a);
  const float* dy = a.floats("dy", s.rows * s.out);
  float* dBias = a.floats("dBias", s.out);
  auto dDy = toDevice(dy, s.rows * s.out);
  auto dDb = toDevice(dBias, s.out);
  cuda::linearBackwardBias(dDy.get(), dDb.get(), s.rows, s.out, workspace(), kStream);
  dDb.download(dBias, s.out);
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
  auto dL = toDevice(logits, n);
  auto dY = toDevice(labels, rows);
  auto dCw = toDeviceOrNull(classWeights, classes);
  DeviceBuffer<float> dG(gradLogits ? n : 0);
  DeviceBuffer<cuda::CrossEntropyTotals> dT(1);
  cuda::softmaxCrossEntropy(dL.get(), dY.get(), rows, classes, dCw.get(), labelSmoothing, dG.get(), dT.get(),
                            workspace(), kStream);
  cuda::CrossEntropyTotals t{};
  dT.download(&t, 1);
  if (gradLogits) dG.download(gradLogits, n);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("loss", t.loss);
  out.Set("correct", static_cast<double>(t.correct));
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
  auto dP = toDevice(param, n);
  auto dG = toDevice(grad, n);
  auto dM = toDevice(m, n);
  auto dV = toDevice(v, n);
  cuda::adamUpdate(cfg, step, dP.get(), dG.get(), dM.get(), dV.get(), n, kStream);
  dP.download(param, n);
  dM.download(m, n);
  dV.download(v, n);
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
  auto dP = toDevice(param, n);
  auto dG = toDevice(grad, n);
  auto dB = toDeviceOrNull(momentumBuffer, n);
  cuda::sgdUpdate(cfg, firstStep, dP.get(), dG.get(), dB.get(), n, kStream);
  dP.download(param, n);
  if (momentumBuffer) dB.download(momentumBuffer, n);
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
  auto dP = toDevice(param, n);
  auto dG = toDevice(grad, n);
  auto dS = toDevice(squareAvg, n);
  auto dA = toDevice(accDelta, n);
  cuda::adadeltaUpdate(cfg, dP.get(), dG.get(), dS.get(), dA.get(), n, kStream);
  dP.download(param, n);
  dS.download(squareAvg, n);
  dA.download(accDelta, n);
  return info.Env().Undefined();
}

Napi::Value MaxNormRows(const Napi::CallbackInfo& info) {
  Args a(info, "maxNormRows");
  const size_t rows = a.size("rows");
  const size_t cols = a.size("cols");
  float* weight = a.floats("weight", a.product("weight", {rows, cols}));
  const double maxNorm = a.number("maxNorm", 0.0, kInf);
  auto dW = toDevice(weight, rows * cols);
  cuda::maxNormRows(dW.get(), rows, cols, maxNorm, kStream);
  dW.download(weight, rows * cols);
  return info.Env().Undefined();
}

Napi::Value SumOfSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sumOfSquares");
  size_t n = 0;
  const float* x = a.floatsAnyLength("x", n);
  auto dX = toDevice(x, n);
  DeviceBuffer<double> dT(1);
  cuda::sumOfSquares(dX.get(), n, dT.get(), workspace(), kStream);
  double total = 0.0;
  dT.download(&total, 1);
  return Napi::Number::New(info.Env(), total);
}

Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  Args a(info, "clipGradNorm");
  Napi::Array list = a.array("grads");
  const double maxNorm = a.number("maxNorm", 0.0, kInf);
  std::vector<float*> host(list.Length());
  std::vector<size_t> sizes(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      a.typeError(("grads[" + std::to_string(i) + "]").c_str(), "Float32Array", v);
    }
    Napi::Float32Array g = v.As<Napi::Float32Array>();
    host[i] = g.Data();
    sizes[i] = g.ElementLength();
  }
  std::vector<DeviceBuffer<float>> device;
  std::vector<float*> pointers;
  device.reserve(host.size());
  for (size_t i = 0; i < host.size(); ++i) {
    device.push_back(toDevice(host[i], sizes[i]));
    pointers.push_back(device.back().get());
  }
  DeviceBuffer<double> dNorm(1);
  cuda::clipGradNorm(pointers.data(), sizes.data(), pointers.size(), maxNorm, dNorm.get(), workspace(), kStream);
  double norm = 0.0;
  dNorm.download(&norm, 1);
  for (size_t i = 0; i < host.size(); ++i) device[i].download(host[i], sizes[i]);
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
      {"sumOfSquares", SumOfSquares},
      {"clipGradNorm", ClipGradNorm},
  };
  Napi::Object kernels = Napi::Object::New(env);
  for (const Binding& b : bindings) addGuarded(env, kernels, b);
  exports.Set("kernels", kernels);
}

}  // namespace ft::cudaaddon
