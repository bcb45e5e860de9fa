// Scalar reference implementation: the fast variants are checked against it.
#include "cpu/conv1d.h"

namespace ft::cpu::scalar {

namespace {
// Input step for output step t and tap k, or -1 when it falls in the zero padding.
inline long inputStep(const Conv1dShape& s, size_t t, size_t k) {
  long pos = static_cast<long>(t + k) - static_cast<long>(s.padLeft);
  return (pos < 0 || pos >= static_cast<long>(s.length)) ? -1 : pos;
}
}  // namespace

void conv1dForward(const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const size_t outLen = s.outLength();
  const size_t C = s.inChannels, M = s.outChannels, K = s.width;
  for (size_t b = 0; b < s.batch; ++b) {
    const float* xb = x + b * s.length * C;
    for (size_t t = 0; t < outLen; ++t) {
      float* yt = y + (b * outLen + t) * M;
      for (size_t m = 0; m < M; ++m) {
        float acc = bias ? bias[m] : 0.0f;
        const float* wm = weight + m * K * C;
        for (size_t k = 0; k < K; ++k) {
          long pos = inputStep(s, t, k);
          if (pos < 0) continue;
          const float* xt = xb + static_cast<size_t>(pos) * C;
          const float* wk = wm + k * C;
          for (size_t c = 0; c < C; ++c) acc += xt[c] * wk[c];
        }
        yt[m] = acc;
      }
    }
  }
}

void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* weight, float* dx) {
  const size_t outLen = s.outLength();
  const size_t C = s.inChannels, M = s.outChannels, K = s.width;
  for (size_t b = 0; b < s.batch; ++b) {
    float* dxb = dx + b * s.length * C;
    for (size_t t = 0; t < outLen; ++t) {
      const float* dyt = dy + (b * outLen + t) * M;
      for (size_t k = 0; k < K; ++k) {
        long pos = inputStep(s, t, k);
        if (pos < 0) continue;
        float* dxt = dxb + static_cast<size_t>(pos) * C;
        for (size_t m = 0; m < M; ++m) {
          const float g = dyt[m];
          const float* wk = weight + (m * K + k) * C;
          for (size_t c = 0; c < C; ++c) dxt[c] += g * wk[c];
        }
      }
    }
  }
}

void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dWeight) {
  const size_t outLen = s.outLength();
  const size_t C = s.inChannels, M = s.outChannels, K = s.width;
  for (size_t b = 0; b < s.batch; ++b) {
    const float* xb = x + b * s.length * C;
    for (size_t t = 0; t < outLen; ++t) {
      const float* dyt = dy + (b * outLen + t) * M;
      for (size_t m = 0; m < M; ++m) {
        const float g = dyt[m];
        for (size_t k = 0; k < K; ++k) {
          long pos = inputStep(s, t, k);
          if (pos < 0) continue;
          const float* xt = xb + static_cast<size_t>(pos) * C;
          float* dwk = dWeight + (m * K + k) * C;
          for (size_t c = 0; c < C; ++c) dwk[c] += g * xt[c];
        }
      }
    }
  }
}

void conv1dBackwardBias(const Conv1dShape& s, const float* dy, float* dBias) {
  const size_t rows = s.batch * s.outLength();
  for (size_t r = 0; r < rows; ++r) {
    const float* dyr = dy + r * s.outChannels;
    for (size_t m = 0; m < s.outChannels; ++m) dBias[m] += dyr[m];
  }
}

}  // namespace ft::cpu::scalar
