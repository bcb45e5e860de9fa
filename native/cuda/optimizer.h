#pragma once
// Parameter updates on the device with torch.optim's formulas, as
// cpu/optimizer.h: the scalars are computed on the host in double exactly as
// the CPU does, and each elementwise float operation is the CPU's, in its
// order, without fused multiply-adds — so a device step equals the CPU step
// bit for bit. Device pointers; work queued on `stream`.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cpu/optimizer.h"
#include "cuda/memory.h"

namespace ft::cuda {

using cpu::AdamConfig;
using cpu::SgdConfig;

using cpu::AdadeltaConfig;

// One fused Adam/AdamW step over n elements; `step` is 1-based.
void adamUpdate(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t n,
                cudaStream_t stream);
// One SGD step (momentum, dampening, nesterov, L2 decay); firstStep initialises the buffer to the gradient.
void sgdUpdate(const SgdConfig& cfg, bool firstStep, float* param, const float* grad, float* momentumBuffer, size_t n,
               cudaStream_t stream);
// One Adadelta step: squareAvg is the running mean of g^2, accDelta that of the updates' squares.
void adadeltaUpdate(const AdadeltaConfig& cfg, float* param, const float* grad, float* squareAvg, float* accDelta,
                    size_t n, cudaStream_t stream);

// torch.optim.SparseAdam on the listed rows (device array of `count` row
// indices, distinct) of a [rows, dim] parameter, as cpu::sparseAdamRows.
void sparseAdamRows(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t dim,
                    const int32_t* rows, size_t count, cudaStream_t stream);

// x *= factor (IEEE single multiply), as the CPU's gradient clipping.
void scale(float* x, size_t n, float factor, cudaStream_t stream);

// Max-norm constraint: each row of weight [rows, cols] whose L2 norm (summed
// in double) exceeds maxNorm is rescaled to maxNorm.
void maxNormRows(float* weight, size_t rows, size_t cols, double maxNorm, cudaStream_t stream);

// *total = sum of x[i]^2 in double (device pointer; deterministic).
void sumOfSquares(const float* x, size_t n, double* total, Workspace& ws, cudaStream_t stream);

// torch.nn.utils.clip_grad_norm_ over `count` device buffers (grads and sizes
// are host arrays): *norm (device) = global L2 norm before clipping; if it
// exceeds maxNorm every buffer is scaled by maxNorm / (norm + 1e-6). The
// decision is taken on the device: nothing waits for the host.
void clipGradNorm(float* const* grads, const size_t* sizes, size_t count, double maxNorm, double* norm, Workspace& ws,
                  cudaStream_t stream);

}  // namespace ft::cuda
