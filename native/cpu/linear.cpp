#include "cpu/linear.h"

namespace ft::cpu::scalar {

void linearForward(const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    for (size_t o = 0; o < out; ++o) {
      const float* wo = weight + o * in;
      float acc = bias ? bias[o] : 0.0f;
      for (size_t i = 0; i < in; ++i) acc += xr[i] * wo[i];
      y[r * out + o] = acc;
    }
  }
}

void linearBackwardInput(const float* dy, const float* weight, float* dx, size_t rows, size_t in, size_t out) {
  for (size_t r = 0; r < rows; ++r) {
    float* dxr = dx + r * in;
    for (size_t o = 0; o < out; ++o) {
      const float g = dy[r * out + o];
      const float* wo = weight + o * in;
      for (size_t i = 0; i < in; ++i) dxr[i] += g * wo[i];
    }
  }
}

void linearBackwardWeight(const float* x, const float* dy, float* dWeight, size_t rows, size_t in, size_t out) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    for (size_t o = 0; o < out; ++o) {
      const float g = dy[r * out + o];
      float* dwo = dWeight + o * in;
      for (size_t i = 0; i < in; ++i) dwo[i] += g * xr[i];
    }
  }
}

void linearBackwardBias(const float* dy, float* dBias, size_t rows, size_t out) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < out; ++o) dBias[o] += dy[r * out + o];
}

}  // namespace ft::cpu::scalar
