#include "cpu/activation.h"

#include <cmath>

namespace ft::cpu {

namespace {
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluTanhCubic = 0.044715f;
}  // namespace

void activationForward(Activation kind, float slope, const float* x, float* y, size_t n) {
  switch (kind) {
    case Activation::Identity:
      if (y != x) for (size_t i = 0; i < n; ++i) y[i] = x[i];
      break;
    case Activation::Relu:
      // NaN stays NaN, as torch.relu.
      for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
      break;
    case Activation::Tanh:
      for (size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
      break;
    case Activation::Sigmoid:
      for (size_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
      break;
    case Activation::Gelu:
      // erfc(-x/sqrt2) == 1 + erf(x/sqrt2) without the cancellation for x << 0.
      for (size_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * std::erfc(-x[i] * kInvSqrt2);
      break;
    case Activation::GeluTanh:
      // 0.5 (1 + tanh u) == sigmoid(2u), which keeps its precision for x << 0.
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float u = kSqrt2OverPi * (v + kGeluTanhCubic * v * v * v);
        y[i] = v / (1.0f + std::exp(-2.0f * u));
      }
      break;
    case Activation::LeakyRelu:
      for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
      break;
  }
}

void activationBackward(Activation kind, float slope, const float* x, const float* y, const float* dy, float* dx,
                        size_t n) {
  switch (kind) {
    case Activation::Identity:
      if (dx != dy) for (size_t i = 0; i < n; ++i) dx[i] = dy[i];
      break;
    case Activation::Relu:
      for (size_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
      break;
    case Activation::Tanh:
      for (size_t i = 0; i < n; ++i) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
      break;
    case Activation::Sigmoid:
      for (size_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
    case Activation::Gelu:
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float cdf = 0.5f * std::erfc(-v * kInvSqrt2);
        const float pdf = kInvSqrt2Pi * std::exp(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
      }
      break;
    case Activation::GeluTanh:
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        // With s = sigmoid(2u): 0.5 (1 + tanh u) = s and 1 - tanh^2 u = 4 s (1 - s).
        const float u = kSqrt2OverPi * (v + kGeluTanhCubic * v * v * v);
        const float s = 1.0f / (1.0f + std::exp(-2.0f * u));
        const float dInner = kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * v * v);
        dx[i] = dy[i] * (s + 2.0f * v * s * (1.0f - s) * dInner);
      }
      break;
    case Activation::LeakyRelu:
      for (size_t i = 0; i < n; ++i) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * slope;
      break;
  }
}

bool activationBackwardNeedsInput(Activation kind) {
  return !(kind == Activation::Tanh || kind == Activation::Sigmoid || kind == Activation::Identity);
}

}  // namespace ft::cpu
