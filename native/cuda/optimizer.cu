// The __f*_rn intrinsics are IEEE single operations that nvcc never fuses
// into an fma; with them each update is the CPU's float arithmetic exactly
// (cpu/optimizer.cpp, built with -ffp-contract=off for the same reason).
#include "cuda/optimizer.h"

#include <cuda_runtime.h>

#include <cmath>

#include "cuda/check.h"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {

struct AdamScalars {
  float beta1, beta2, oneMinusBeta1, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps, wd, decay;
  bool coupled, decoupled;
};

__global__ void adamKernel(AdamScalars s, float* param, const float* grad, float* m, float* v, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float p = param[i];
    float g = grad[i];
    if (s.coupled) g = __fadd_rn(g, __fmul_rn(s.wd, p));
    if (s.decoupled) p = __fmul_rn(p, s.decay);
    const float mi = __fadd_rn(__fmul_rn(m[i], s.beta1), __fmul_rn(s.oneMinusBeta1, g));
    const float vi = __fadd_rn(__fmul_rn(v[i], s.beta2), __fmul_rn(__fmul_rn(s.oneMinusBeta2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.biasCorrection2Sqrt), s.eps);
    m[i] = mi;
    v[i] = vi;
    param[i] = __fadd_rn(p, __fmul_rn(s.negStepSize, __fdiv_rn(mi, denom)));
  }
}

struct SgdScalars {
  float lr, wd, momentum, oneMinusDampening;
  bool decay, useMomentum, nesterov, firstStep;
};

__global__ void sgdKernel(SgdScalars s, float* param, const float* grad, float* buf, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float p = param[i];
    float d = grad[i];
    if (s.decay) d = __fadd_rn(d, __fmul_rn(s.wd, p));
    if (s.useMomentum) {
      const float b = s.firstStep ? d : __fadd_rn(__fmul_rn(buf[i], s.momentum), __fmul_rn(s.oneMinusDampening, d));
      buf[i] = b;
      d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.momentum, b)) : b;
    }
    param[i] = __fsub_rn(p, __fmul_rn(s.lr, d));
  }
}

struct AdadeltaScalars {
  float rho, oneMinusRho, eps, wd, negLr;
  bool decay;
};

__global__ void adadeltaKernel(AdadeltaScalars s, float* param, const float* grad, float* squareAvg, float* accDelta,
                               size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float p = param[i];
    float g = grad[i];
    if (s.decay) g = __fadd_rn(g, __fmul_rn(s.wd, p));
    const float sq = __fadd_rn(__fmul_rn(squareAvg[i], s.rho), __fmul_rn(__fmul_rn(s.oneMinusRho, g), g));
    const float acc = accDelta[i];
    const float delta = __fmul_rn(__fdiv_rn(__fsqrt_rn(__fadd_rn(acc, s.eps)), __fsqrt_rn(__fadd_rn(sq, s.eps))), g);
    squareAvg[i] = sq;
    accDelta[i] = __fadd_rn(__fmul_rn(acc, s.rho), __fmul_rn(__fmul_rn(s.oneMinusRho, delta), delta));
    param[i] = __fadd_rn(p, __fmul_rn(s.negLr, delta));
  }
}

struct SparseAdamScalars {
  float oneMinusBeta1, oneMinusBeta2, negStepSize, eps;
};

// One block per listed row; cpu::sparseAdamRows' float operations in order.
__global__ void sparseAdamKernel(SparseAdamScalars s, float* param, const float* grad, float* m, float* v, size_t dim,
                                 const int32_t* rows, size_t count) {
  for (size_t k = blockIdx.x; k < count; k += gridDim.x) {
    const size_t off = static_cast<size_t>(rows[k]) * dim;
    for (size_t i = off + threadIdx.x; i < off + dim; i += blockDim.x) {
      const float g = grad[i];
      const float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(g, m[i]), s.oneMinusBeta1));
      const float vi = __fadd_rn(v[i], __fmul_rn(__fsub_rn(__fmul_rn(g, g), v[i]), s.oneMinusBeta2));
      m[i] = mi;
      v[i] = vi;
      param[i] = __fadd_rn(param[i], __fmul_rn(s.negStepSize, __fdiv_rn(mi, __fadd_rn(__fsqrt_rn(vi), s.eps))));
    }
  }
}

__global__ void scaleKernel(float* x, size_t n, float f) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = __fmul_rn(x[i], f);
}

// One block per row: a fixed tree of double partial sums, then the rescale.
__global__ void maxNormRowsKernel(float* weight, size_t rows, size_t cols, double maxNorm) {
  __shared__ double part[256];
  for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float* row = weight + r * cols;
    double s = 0.0;
    for (size_t i = threadIdx.x; i < cols; i += 256) s += static_cast<double>(row[i]) * row[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned w = 128; w > 0; w >>= 1) {
      if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
      __syncthreads();
    }
    const double norm = sqrt(part[0]);
    __syncthreads();  // part is reused by the next row
    if (norm > maxNorm) {
      const float f = static_cast<float>(maxNorm / norm);
      for (size_t i = threadIdx.x; i < cols; i += 256) row[i] = __fmul_rn(row[i], f);
    }
  }
}

// Scales x by maxNorm / (norm + 1e-6) when that is below 1, norm = sqrt(*total).
__global__ void clipScaleKernel(float* x, size_t n, const double* total, double maxNorm) {
  const double norm = sqrt(*total);
  const double coef = maxNorm / (norm + 1e-6);
  if (!(coef < 1.0)) return;
  const float f = static_cast<float>(coef);
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = __fmul_rn(x[i], f);
}

__global__ void sqrtKernel(const double* total, double* norm) { *norm = sqrt(*total); }

}  // namespace

void adamUpdate(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t n,
                cudaStream_t stream) {
  if (n == 0) return;
  // The CPU's scalars (cpu/optimizer.cpp scalar::adamUpdate), computed the same way.
  const double t = static_cast<double>(step);
  const double biasCorrection1 = 1.0 - std::pow(cfg.beta1, t);
  AdamScalars s{};
  s.beta1 = static_cast<float>(cfg.beta1);
  s.beta2 = static_cast<float>(cfg.beta2);
  s.oneMinusBeta1 = static_cast<float>(1.0 - cfg.beta1);
  s.oneMinusBeta2 = static_cast<float>(1.0 - cfg.beta2);
  s.biasCorrection2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(cfg.beta2, t)));
  s.negStepSize = static_cast<float>(-(cfg.lr / biasCorrection1));
  s.eps = static_cast<float>(cfg.eps);
  s.wd = static_cast<float>(cfg.weightDecay);
  s.decay = static_cast<float>(1.0 - cfg.lr * cfg.weightDecay);
  s.coupled = !cfg.decoupled && cfg.weightDecay != 0.0;
  s.decoupled = cfg.decoupled && cfg.weightDecay != 0.0;
  adamKernel<<<elementwiseBlocks(n), 256, 0, stream>>>(s, param, grad, m, v, n);
  FT_CUDA_CHECK_LAUNCH("adamKernel");
}

void sgdUpdate(const SgdConfig& cfg, bool firstStep, float* param, const float* grad, float* momentumBuffer, size_t n,
               cudaStream_t stream) {
  if (n == 0) return;
  SgdScalars s{};
  s.lr = static_cast<float>(cfg.lr);
  s.wd = static_cast<float>(cfg.weightDecay);
  s.momentum = static_cast<float>(cfg.momentum);
  s.oneMinusDampening = static_cast<float>(1.0 - cfg.dampening);
  s.decay = cfg.weightDecay != 0.0;
  s.useMomentum = cfg.momentum != 0.0;
  s.nesterov = cfg.nesterov;
  s.firstStep = firstStep;
  if (s.useMomentum && !momentumBuffer) throwInvalid("sgdUpdate: momentum needs a momentum buffer");
  sgdKernel<<<elementwiseBlocks(n), 256, 0, stream>>>(s, param, grad, momentumBuffer, n);
  FT_CUDA_CHECK_LAUNCH("sgdKernel");
}

void adadeltaUpdate(const AdadeltaConfig& cfg, float* param, const float* grad, float* squareAvg, float* accDelta,
                    size_t n, cudaStream_t stream) {
  if (n == 0) return;
  AdadeltaScalars s{};
  s.rho = static_cast<float>(cfg.rho);
  s.oneMinusRho = static_cast<float>(1.0 - cfg.rho);
  s.eps = static_cast<float>(cfg.eps);
  s.wd = static_cast<float>(cfg.weightDecay);
  s.negLr = static_cast<float>(-cfg.lr);
  s.decay = cfg.weightDecay != 0.0;
  adadeltaKernel<<<elementwiseBlocks(n), 256, 0, stream>>>(s, param, grad, squareAvg, accDelta, n);
  FT_CUDA_CHECK_LAUNCH("adadeltaKernel");
}

void sparseAdamRows(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t dim,
                    const int32_t* rows, size_t count, cudaStream_t stream) {
  if (count == 0 || dim == 0) return;
  const double t = static_cast<double>(step);
  SparseAdamScalars s{};
  s.oneMinusBeta1 = static_cast<float>(1.0 - cfg.beta1);
  s.oneMinusBeta2 = static_cast<float>(1.0 - cfg.beta2);
  s.negStepSize =
      static_cast<float>(-(cfg.lr * std::sqrt(1.0 - std::pow(cfg.beta2, t)) / (1.0 - std::pow(cfg.beta1, t))));
  s.eps = static_cast<float>(cfg.eps);
  const unsigned blocks = static_cast<unsigned>(count < 65535 * 16 ? count : 65535 * 16);
  sparseAdamKernel<<<blocks, dim >= 256 ? 256 : 128, 0, stream>>>(s, param, grad, m, v, dim, rows, count);
  FT_CUDA_CHECK_LAUNCH("sparseAdamKernel");
}

void scale(float* x, size_t n, float factor, cudaStream_t stream) {
  if (n == 0) return;
  scaleKernel<<<elementwiseBlocks(n), 256, 0, stream>>>(x, n, factor);
  FT_CUDA_CHECK_LAUNCH("scaleKernel");
}

void maxNormRows(float* weight, size_t rows, size_t cols, double maxNorm, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? rows : 65535);
  maxNormRowsKernel<<<blocks, 256, 0, stream>>>(weight, rows, cols, maxNorm);
  FT_CUDA_CHECK_LAUNCH("maxNormRowsKernel");
}

void sumOfSquares(const float* x, size_t n, double* total, Workspace& ws, cudaStream_t stream) {
  const int blocks = sumOfSquaresBlocks(n);
  ws.reserve(Workspace::aligned(blocks * sizeof(double)));
  double* partials = ws.take<double>(blocks);
  sumOfSquaresPartials(x, n, partials, stream);
  sumPartials(partials, static_cast<size_t>(blocks), total, stream);
}

void clipGradNorm(float* const* grads, const size_t* sizes, size_t count, double maxNorm, double* norm, Workspace& ws,
                  cudaStream_t stream) {
  size_t partialCount = 0;
  for (size_t k = 0; k < count; ++k) partialCount += static_cast<size_t>(sumOfSquaresBlocks(sizes[k]));
  ws.reserve(Workspace::aligned((partialCount + 1) * sizeof(double)));
  double* total = ws.take<double>(1);
  double* partials = ws.take<double>(partialCount > 0 ? partialCount : 1);
  if (partialCount == 0) {
    FT_CUDA_CHECK(cudaMemsetAsync(norm, 0, sizeof(double), stream));
    return;
  }
  // Buffers' partials laid out one after another: the final sum's layout is fixed by the sizes.
  size_t at = 0;
  for (size_t k = 0; k < count; ++k) {
    sumOfSquaresPartials(grads[k], sizes[k], partials + at, stream);
    at += static_cast<size_t>(sumOfSquaresBlocks(sizes[k]));
  }
  sumPartials(partials, partialCount, total, stream);
  sqrtKernel<<<1, 1, 0, stream>>>(total, norm);
  FT_CUDA_CHECK_LAUNCH("sqrtKernel");
  for (size_t k = 0; k < count; ++k) {
    if (sizes[k] == 0) continue;
    clipScaleKernel<<<elementwiseBlocks(sizes[k]), 256, 0, stream>>>(grads[k], sizes[k], total, maxNorm);
    FT_CUDA_CHECK_LAUNCH("clipScaleKernel");
  }
}

}  // namespace ft::cuda
