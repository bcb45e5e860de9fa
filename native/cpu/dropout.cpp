#include "cpu/dropout.h"

namespace ft::cpu {

void dropoutForward(const float* x, float* y, uint8_t* mask, size_t n, double p, RandomState& state) {
  // The scale is rounded once from double, as PyTorch divides by (1 - p).
  const float scale = p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const bool keep = static_cast<double>(uniformAt(state.seed, state.counter + i)) >= p;
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
  state.counter += n;
}

void dropoutBackward(const float* dy, const uint8_t* mask, float* dx, size_t n, double p) {
  const float scale = p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f;
  for (size_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

}  // namespace ft::cpu
