#pragma once
// How conv1d and linear map onto the GEMM of gemm.cuh: the loaders, shapes,
// segments and split-K of each product, written once as templates over an
// executor. conv1d.cu and linear.cu run them with DeviceExec (kernel
// launches); test/cuda/host/emulate.cu runs the very same plans with a host
// executor that evaluates each product by definition, which checks all the
// index arithmetic below on machines without a GPU.
//
// An executor provides:
//   void reserve(size_t bytes);  float* take(size_t count);      scratch
//   void gemm(int M, int N, int K, int segments, int segsPerZ, int zCount, LA, LB, Epi);
//   void flipConvWeight(const float* w, size_t M, size_t K, size_t C, float* wf);
//   void reducePartials(const float* partials, int zCount, size_t count, float* out, bool accumulate);
#include <cstddef>
#include <limits>
#include <string>

#include "cpu/conv1d.h"
#include "cuda/check.h"
#include "cuda/gemm.cuh"

namespace ft::cuda::plans {

using cpu::Conv1dShape;

inline int checkedInt(size_t v, const char* what) {
  if (v > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throwInvalid(std::string(what) + " exceeds the CUDA kernels' int range");
  }
  return static_cast<int>(v);
}

inline size_t alignedBytes(size_t count) { return (count * sizeof(float) + 255) / 256 * 256; }

// Window (t, j) of one batch row of a channels-last sequence: element j of the
// contiguous run that starts at step t - shift, i.e. float (t - shift) * ld + j
// of the row; 0 outside the row's [0, valid) floats, which is exactly the zero
// padding (a window element falls outside the row iff its step does).
// kTransposed: (row, k) = (j, t) — the weight gradient reduces over steps.
template <bool kTransposed>
struct WindowLoader {
  static constexpr bool kAlongK = !kTransposed;  // consecutive j are adjacent in memory
  const float* base;
  long long segStride;  // floats per batch row
  long long ld;         // floats per step
  long long shift;      // steps the window starts before t
  long long valid;      // floats of a batch row that are data
  __host__ __device__ float operator()(int seg, int row, int k) const {
    const int t = kTransposed ? k : row;
    const int j = kTransposed ? row : k;
    const long long idx = (static_cast<long long>(t) - shift) * ld + j;
    return (idx >= 0 && idx < valid) ? base[seg * segStride + idx] : 0.0f;
  }
};

// Where flipConvWeight puts w[m, k, c]: row (width-1-k) * M + m, column c of
// the transposed convolution's [width * M, C] weight.
__host__ __device__ inline size_t flippedIndex(size_t m, size_t k, size_t c, size_t M, size_t K, size_t C) {
  return ((K - 1 - k) * M + m) * C + c;
}

constexpr int kMaxZ = 65535;  // grid.z limit: batches beyond it go in chunks

template <class Exec>
void conv1dForward(Exec& ex, const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  const size_t outLen = s.outLength();
  if (s.batch == 0 || outLen == 0) return;
  // y_b[t, m] = sum over kc < width*in of window_b(t, kc) * weight[m, kc] (+ bias[m])
  const int M = checkedInt(outLen, "conv1d outLength");
  const int N = checkedInt(s.outChannels, "conv1d outChannels");
  const int K = checkedInt(s.width * s.inChannels, "conv1d width * inChannels");
  const long long xRow = static_cast<long long>(s.length * s.inChannels);
  const long long yRow = static_cast<long long>(outLen * s.outChannels);
  for (size_t b0 = 0; b0 < s.batch; b0 += kMaxZ) {
    const int nb = static_cast<int>(s.batch - b0 < static_cast<size_t>(kMaxZ) ? s.batch - b0 : kMaxZ);
    WindowLoader<false> a{x + b0 * xRow, xRow, static_cast<long long>(s.inChannels),
                          static_cast<long long>(s.padLeft), xRow};
    gemm::RowMajor b{weight, K, 0};
    gemm::StoreEpilogue e{y + b0 * yRow, N, yRow, bias, false};
    ex.gemm(M, N, K, nb, 1, nb, a, b, e);
  }
}

template <class Exec>
void conv1dBackwardInput(Exec& ex, const Conv1dShape& s, const float* dy, const float* weight, float* dx) {
  const size_t outLen = s.outLength();
  if (s.batch == 0 || s.length == 0) return;
  const size_t wCount = s.outChannels * s.width * s.inChannels;
  ex.reserve(alignedBytes(wCount));
  float* wf = ex.take(wCount);
  ex.flipConvWeight(weight, s.outChannels, s.width, s.inChannels, wf);
  // dx_b[p, c] += sum over r = (k', m) of dy_b[p - shift + k', m] * wf[r, c], shift = width-1-padLeft:
  // the transposed convolution is a convolution of dy with the flipped weight.
  const int M = checkedInt(s.length, "conv1d length");
  const int N = checkedInt(s.inChannels, "conv1d inChannels");
  const int K = checkedInt(s.width * s.outChannels, "conv1d width * outChannels");
  const long long dyRow = static_cast<long long>(outLen * s.outChannels);
  const long long dxRow = static_cast<long long>(s.length * s.inChannels);
  const long long shift = static_cast<long long>(s.width) - 1 - static_cast<long long>(s.padLeft);
  for (size_t b0 = 0; b0 < s.batch; b0 += kMaxZ) {
    const int nb = static_cast<int>(s.batch - b0 < static_cast<size_t>(kMaxZ) ? s.batch - b0 : kMaxZ);
    WindowLoader<false> a{dy + b0 * dyRow, dyRow, static_cast<long long>(s.outChannels), shift, dyRow};
    gemm::ColMajor b{wf, N, 0};  // (c, r) = wf[r * in + c]
    gemm::StoreEpilogue e{dx + b0 * dxRow, N, dxRow, nullptr, true};
    ex.gemm(M, N, K, nb, 1, nb, a, b, e);
  }
}

// Cuts each batch row's steps into chunks of `chunk`: segment s is chunk
// s % chunks of row s / chunks, so a long row (a whole packed batch is one)
// still splits into enough segments to fill the GPU.
template <class Inner>
struct StepChunks {
  static constexpr bool kAlongK = Inner::kAlongK;
  Inner inner;  // reads (row b, its row index, step t)
  int chunks;   // per batch row
  int chunk;    // steps per chunk
  int steps;    // steps per batch row
  __host__ __device__ float operator()(int seg, int row, int k) const {
    const int b = seg / chunks;
    const int t = (seg - b * chunks) * chunk + k;
    return t < steps ? inner(b, row, t) : 0.0f;
  }
};

template <class Exec>
void conv1dBackwardWeight(Exec& ex, const Conv1dShape& s, const float* x, const float* dy, float* dWeight) {
  const size_t outLen = s.outLength();
  if (s.batch == 0 || outLen == 0) return;
  // dW[m, kc] += sum over batch rows b and steps t of dy_b[t, m] * window_b(t, kc); each row's
  // steps in chunks of at most kChunk (segments), segments split over z and summed in order.
  constexpr int kChunk = 256;
  const int M = checkedInt(s.outChannels, "conv1d outChannels");
  const int N = checkedInt(s.width * s.inChannels, "conv1d width * inChannels");
  const int steps = checkedInt(outLen, "conv1d outLength");
  const int chunk = steps < kChunk ? steps : kChunk;
  const int chunks = (steps + chunk - 1) / chunk;
  const int segments = checkedInt(s.batch * static_cast<size_t>(chunks), "conv1d batch * step chunks");
  const int split = gemm::splitCount(M, N, chunk, segments);
  const int perZ = (segments + split - 1) / split;
  const int zCount = (segments + perZ - 1) / perZ;
  const long long dyRow = static_cast<long long>(outLen * s.outChannels);
  const long long xRow = static_cast<long long>(s.length * s.inChannels);
  // (m, t) of row b = dy[b * dyRow + t * out + m]; (kc, t) of row b = window_b(t, kc).
  StepChunks<gemm::ColMajor> a{gemm::ColMajor{dy, M, dyRow}, chunks, chunk, steps};
  StepChunks<WindowLoader<true>> b{
      WindowLoader<true>{x, xRow, static_cast<long long>(s.inChannels), static_cast<long long>(s.padLeft), xRow},
      chunks, chunk, steps};
  if (zCount == 1) {
    ex.gemm(M, N, chunk, segments, perZ, 1, a, b, gemm::StoreEpilogue{dWeight, N, 0, nullptr, true});
    return;
  }
  const size_t count = static_cast<size_t>(M) * N;
  ex.reserve(alignedBytes(count * zCount));
  float* partial = ex.take(count * zCount);
  ex.gemm(M, N, chunk, segments, perZ, zCount, a, b,
          gemm::StoreEpilogue{partial, N, static_cast<long long>(count), nullptr, false});
  ex.reducePartials(partial, zCount, count, dWeight, true);
}

template <class Exec>
void linearForward(Exec& ex, const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out) {
  if (rows == 0) return;
  const int M = checkedInt(rows, "linear rows"), N = checkedInt(out, "linear outFeatures");
  const int K = checkedInt(in, "linear inFeatures");
  // y[r, o] = sum_i x[r, i] * W[o, i] + b[o]: both operands k-contiguous.
  ex.gemm(M, N, K, 1, 1, 1, gemm::RowMajor{x, K, 0}, gemm::RowMajor{weight, K, 0},
          gemm::StoreEpilogue{y, N, 0, bias, false});
}

template <class Exec>
void linearBackwardInput(Exec& ex, const float* dy, const float* weight, float* dx, size_t rows, size_t in,
                         size_t out) {
  if (rows == 0) return;
  const int M = checkedInt(rows, "linear rows"), N = checkedInt(in, "linear inFeatures");
  const int K = checkedInt(out, "linear outFeatures");
  // dx[r, i] += sum_o dy[r, o] * W[o, i]
  ex.gemm(M, N, K, 1, 1, 1, gemm::RowMajor{dy, K, 0}, gemm::ColMajor{weight, N, 0},
          gemm::StoreEpilogue{dx, N, 0, nullptr, true});
}

template <class Exec>
void linearBackwardWeight(Exec& ex, const float* x, const float* dy, float* dWeight, size_t rows, size_t in,
                          size_t out) {
  if (rows == 0) return;
  const int M = checkedInt(out, "linear outFeatures"), N = checkedInt(in, "linear inFeatures");
  const int K = checkedInt(rows, "linear rows");
  // dW[o, i] += sum_r dy[r, o] * x[r, i], the rows cut into segments of kPerSeg for split-K.
  const int kPerSeg = 256;
  const int segments = (K + kPerSeg - 1) / kPerSeg;
  const int split = gemm::splitCount(M, N, kPerSeg, segments);
  const int perZ = (segments + split - 1) / split;
  const int zCount = (segments + perZ - 1) / perZ;
  gemm::ColMajorSplitK a{dy, M, kPerSeg, K};
  gemm::ColMajorSplitK b{x, N, kPerSeg, K};
  if (zCount == 1) {
    ex.gemm(M, N, kPerSeg, segments, perZ, 1, a, b, gemm::StoreEpilogue{dWeight, N, 0, nullptr, true});
    return;
  }
  const size_t count = static_cast<size_t>(M) * N;
  ex.reserve(alignedBytes(count * zCount));
  float* partial = ex.take(count * zCount);
  ex.gemm(M, N, kPerSeg, segments, perZ, zCount, a, b,
          gemm::StoreEpilogue{partial, N, static_cast<long long>(count), nullptr, false});
  ex.reducePartials(partial, zCount, count, dWeight, true);
}

}  // namespace ft::cuda::plans
