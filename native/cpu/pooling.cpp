#include "cpu/pooling.h"

#include <cmath>
#include <cstring>

namespace ft::cpu {

namespace {
inline size_t validSteps(const int32_t* rowSteps, size_t b, size_t steps) {
  return rowSteps ? static_cast<size_t>(rowSteps[b]) : steps;
}
}  // namespace

void maxOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                        float* y, size_t yStride, size_t yOffset, int32_t* argmax) {
  for (size_t b = 0; b < batch; ++b) {
    const size_t T = validSteps(rowSteps, b, steps);
    const float* xb = x + b * steps * channels;
    float* yb = y + b * yStride + yOffset;
    int32_t* ab = argmax + b * channels;
    for (size_t c = 0; c < channels; ++c) {
      float best = xb[c];
      int32_t at = 0;
      for (size_t t = 1; t < T && !std::isnan(best); ++t) {
        const float v = xb[t * channels + c];
        if (v > best || std::isnan(v)) {
          best = v;
          at = static_cast<int32_t>(t);
        }
      }
      yb[c] = best;
      ab[c] = at;
    }
  }
}

void maxOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax, size_t batch,
                         size_t steps, size_t channels, float* dx) {
  std::memset(dx, 0, batch * steps * channels * sizeof(float));
  for (size_t b = 0; b < batch; ++b) {
    const float* dyb = dy + b * yStride + yOffset;
    const int32_t* ab = argmax + b * channels;
    float* dxb = dx + b * steps * channels;
    for (size_t c = 0; c < channels; ++c) dxb[static_cast<size_t>(ab[c]) * channels + c] = dyb[c];
  }
}

void meanOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                         float* y, size_t yStride, size_t yOffset) {
  for (size_t b = 0; b < batch; ++b) {
    const size_t T = validSteps(rowSteps, b, steps);
    const float* xb = x + b * steps * channels;
    float* yb = y + b * yStride + yOffset;
    for (size_t c = 0; c < channels; ++c) yb[c] = 0.0f;
    for (size_t t = 0; t < T; ++t)
      for (size_t c = 0; c < channels; ++c) yb[c] += xb[t * channels + c];
    const float inv = 1.0f / static_cast<float>(T);
    for (size_t c = 0; c < channels; ++c) yb[c] *= inv;
  }
}

void meanOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, size_t batch, size_t steps,
                          size_t channels, const int32_t* rowSteps, float* dx) {
  for (size_t b = 0; b < batch; ++b) {
    const size_t T = validSteps(rowSteps, b, steps);
    const float* dyb = dy + b * yStride + yOffset;
    float* dxb = dx + b * steps * channels;
    const float inv = 1.0f / static_cast<float>(T);
    for (size_t t = 0; t < steps; ++t)
      for (size_t c = 0; c < channels; ++c) dxb[t * channels + c] = t < T ? dyb[c] * inv : 0.0f;
  }
}

}  // namespace ft::cpu
