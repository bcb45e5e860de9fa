#pragma once
// Elementwise activations, PyTorch semantics.
#include <cstddef>
#include <cstdint>

namespace ft::cpu {

enum class Activation : int32_t {
  Identity = 0,
  Relu = 1,
  Tanh = 2,
  Sigmoid = 3,
  Gelu = 4,       // exact: 0.5 x (1 + erf(x / sqrt 2)), PyTorch's default
  GeluTanh = 5,   // PyTorch's approximate='tanh'
  LeakyRelu = 6,  // x > 0 ? x : slope * x
};
constexpr int32_t kActivationCount = 7;

// y = f(x); y may alias x. slope is used by LeakyRelu only.
void activationForward(Activation kind, float slope, const float* x, float* y, size_t n);

// dx = dy * f'(x); dx may alias dy. Reads x for Relu, LeakyRelu, Gelu and
// GeluTanh; reads y (the forward output) for Tanh and Sigmoid, whose
// derivatives are cheapest from the output. The unused pointer may be null.
void activationBackward(Activation kind, float slope, const float* x, const float* y, const float* dy, float* dx,
                        size_t n);

// Which of x / y activationBackward needs, so programs keep only that buffer.
bool activationBackwardNeedsInput(Activation kind);

}  // namespace ft::cpu
