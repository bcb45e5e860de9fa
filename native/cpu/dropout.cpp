#include "cpu/dropout.h"

namespace ft::cpu {

void dropoutForward(const float* x, float* y, uint8_t* mask, size_t n, float p, RandomState& state) {
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const bool keep = uniformAt(state.seed, state.counter + i) >= p;
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
  state.counter += n;
}

void dropoutBackward(const float* dy, const uint8_t* mask, float* dx, size_t n, float p) {
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  for (size_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

}  // namespace ft::cpu
