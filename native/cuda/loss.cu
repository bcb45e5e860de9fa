// Three small kernels: the normalisers (sum of w[y_i], sum of w), one warp
// per row for the row's loss, arg-max and gradient (all in double, as the
// CPU), then one block adding the rows' losses in a fixed tree.
#include "cuda/loss.h"

#include <cuda_runtime.h>

#include "cuda/check.h"

namespace ft::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // 8 warps of 32

__device__ double blockSum256(double v, double* part) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (unsigned w = 128; w > 0; w >>= 1) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  const double s = part[0];
  __syncthreads();
  return s;
}

// norms[0] = sum_i w[y_i] (rows when unweighted), norms[1] = sum_c w[c], norms[2] = 1 / norms[0] (0 if 0).
__global__ void normKernel(const int32_t* labels, size_t rows, size_t classes, const float* classWeights,
                           double* norms) {
  __shared__ double part[256];
  double ws = 0.0, wt = 0.0;
  for (size_t r = threadIdx.x; r < rows; r += 256) ws += classWeights ? classWeights[labels[r]] : 1.0;
  for (size_t c = threadIdx.x; c < classes; c += 256) wt += classWeights ? classWeights[c] : 1.0;
  ws = blockSum256(ws, part);
  wt = blockSum256(wt, part);
  if (threadIdx.x == 0) {
    norms[0] = ws;
    norms[1] = wt;
    norms[2] = ws > 0.0 ? 1.0 / ws : 0.0;
  }
}

__global__ void rowKernel(const float* logits, const int32_t* labels, size_t rows, size_t classes,
                          const float* classWeights, double eps, const double* norms, float* gradLogits,
                          double* rowLoss, int32_t* rowCorrect) {
  const unsigned lane = threadIdx.x & 31;
  const size_t r = blockIdx.x * static_cast<size_t>(kRowsPerBlock) + (threadIdx.x >> 5);
  if (r >= rows) return;  // whole warps leave together: no shuffle below misses a lane
  const float* z = logits + r * classes;
  const size_t y = static_cast<size_t>(labels[r]);

  // First arg-max, as the CPU's `z[c] > zmax` scan from z[0]: NaN entries
  // never win, except z[0] itself, which then stays the maximum.
  double vmax = -INFINITY;
  long long best = -1;
  for (size_t c = lane; c < classes; c += 32) {
    const double v = z[c];
    if (best < 0 ? !isnan(v) : v > vmax) {
      vmax = v;
      best = static_cast<long long>(c);
    }
  }
  for (int off = 16; off > 0; off >>= 1) {
    const double ov = __shfl_down_sync(0xffffffffu, vmax, off);
    const long long ob = __shfl_down_sync(0xffffffffu, best, off);
    if (ob >= 0 && (best < 0 || ov > vmax || (ov == vmax && ob < best))) {
      vmax = ov;
      best = ob;
    }
  }
  vmax = __shfl_sync(0xffffffffu, vmax, 0);
  best = __shfl_sync(0xffffffffu, best, 0);
  const double z0 = z[0];
  double zmax = vmax;
  if (isnan(z0) || best < 0) {
    zmax = z0;
    best = 0;
  }

  double sumExp = 0.0, smooth = 0.0;
  for (size_t c = lane; c < classes; c += 32) sumExp += exp(static_cast<double>(z[c]) - zmax);
  for (int off = 16; off > 0; off >>= 1) sumExp += __shfl_xor_sync(0xffffffffu, sumExp, off);
  const double logSumExp = zmax + log(sumExp);
  if (eps != 0.0) {
    for (size_t c = lane; c < classes; c += 32)
      smooth += (classWeights ? classWeights[c] : 1.0) * (logSumExp - static_cast<double>(z[c]));
    for (int off = 16; off > 0; off >>= 1) smooth += __shfl_xor_sync(0xffffffffu, smooth, off);
  }
  const double wy = classWeights ? classWeights[y] : 1.0;
  const double nll = wy * (logSumExp - z[y]);
  const double scaleSmooth = eps / static_cast<double>(classes);
  if (lane == 0) {
    rowLoss[r] = (1.0 - eps) * nll + scaleSmooth * smooth;
    rowCorrect[r] = static_cast<size_t>(best) == y ? 1 : 0;
  }
  if (gradLogits) {
    const double invNorm = norms[2], classWeightTotal = norms[1];
    float* g = gradLogits + r * classes;
    for (size_t c = lane; c < classes; c += 32) {
      const double p = exp(static_cast<double>(z[c]) - logSumExp);
      const double wc = classWeights ? classWeights[c] : 1.0;
      double d = (1.0 - eps) * wy * (p - (c == y ? 1.0 : 0.0));
      if (eps != 0.0) d += scaleSmooth * (p * classWeightTotal - wc);
      g[c] = static_cast<float>(d * invNorm);
    }
  }
}

__global__ void totalKernel(const double* rowLoss, const int32_t* rowCorrect, size_t rows, const double* norms,
                            CrossEntropyTotals* totals) {
  __shared__ double part[256];
  double s = 0.0, k = 0.0;
  for (size_t r = threadIdx.x; r < rows; r += 256) {
    s += rowLoss[r];
    k += rowCorrect[r];
  }
  s = blockSum256(s, part);
  k = blockSum256(k, part);
  if (threadIdx.x == 0) {
    totals->loss = s * norms[2];
    totals->correct = static_cast<unsigned long long>(k);
  }
}

}  // namespace

void softmaxCrossEntropy(const float* logits, const int32_t* labels, size_t rows, size_t classes,
                         const float* classWeights, float labelSmoothing, float* gradLogits, CrossEntropyTotals* totals,
                         Workspace& ws, cudaStream_t stream) {
  if (rows == 0) {
    FT_CUDA_CHECK(cudaMemsetAsync(totals, 0, sizeof(CrossEntropyTotals), stream));
    return;
  }
  ws.reserve(Workspace::aligned(3 * sizeof(double)) + Workspace::aligned(rows * sizeof(double)) +
             Workspace::aligned(rows * sizeof(int32_t)));
  double* norms = ws.take<double>(3);
  double* rowLoss = ws.take<double>(rows);
  int32_t* rowCorrect = ws.take<int32_t>(rows);
  normKernel<<<1, 256, 0, stream>>>(labels, rows, classes, classWeights, norms);
  FT_CUDA_CHECK_LAUNCH("normKernel");
  const size_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 0x7fffffffu) throwInvalid("softmaxCrossEntropy: too many rows");
  rowKernel<<<static_cast<unsigned>(blocks), 32 * kRowsPerBlock, 0, stream>>>(
      logits, labels, rows, classes, classWeights, static_cast<double>(labelSmoothing), norms, gradLogits, rowLoss,
      rowCorrect);
  FT_CUDA_CHECK_LAUNCH("rowKernel");
  totalKernel<<<1, 256, 0, stream>>>(rowLoss, rowCorrect, rows, norms, totals);
  FT_CUDA_CHECK_LAUNCH("totalKernel");
}

}  // namespace ft::cuda
