// Conv1d as matrix products over overlapping windows (gemm_plans.cuh says
// how): with channels last, the receptive window of output step t is the
// contiguous run of width * in floats at x + (t - padLeft) * in, a matrix row
// with leading dimension `in`, read in place — no padded or im2col copy.
#include "cuda/conv1d.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/device_exec.cuh"
#include "cuda/gemm_plans.cuh"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {
__global__ void flipWeightKernel(const float* w, size_t M, size_t K, size_t C, float* wf) {
  const size_t total = M * K * C;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t c = idx % C;
    const size_t k = (idx / C) % K;
    const size_t m = idx / (C * K);
    wf[plans::flippedIndex(m, k, c, M, K, C)] = w[idx];
  }
}
}  // namespace

void flipConvWeight(const float* w, size_t M, size_t K, size_t C, float* wf, cudaStream_t stream) {
  const size_t total = M * K * C;
  if (total == 0) return;
  flipWeightKernel<<<elementwiseBlocks(total), 256, 0, stream>>>(w, M, K, C, wf);
  FT_CUDA_CHECK_LAUNCH("flipWeightKernel");
}

void conv1dForward(const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y,
                   cudaStream_t stream) {
  Workspace unused;
  DeviceExec ex{unused, stream};
  plans::conv1dForward(ex, s, x, weight, bias, y);
}

void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* weight, float* dx, Workspace& ws,
                         cudaStream_t stream) {
  DeviceExec ex{ws, stream};
  plans::conv1dBackwardInput(ex, s, dy, weight, dx);
}

void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dWeight, Workspace& ws,
                          cudaStream_t stream) {
  DeviceExec ex{ws, stream};
  plans::conv1dBackwardWeight(ex, s, x, dy, dWeight);
}

void conv1dBackwardBias(const Conv1dShape& s, const float* dy, float* dBias, Workspace& ws, cudaStream_t stream) {
  const size_t rows = s.batch * s.outLength();
  ws.reserve(columnSumsWorkspace(rows, s.outChannels));
  columnSums(dy, rows, s.outChannels, dBias, true, ws, stream);
}

}  // namespace ft::cuda
