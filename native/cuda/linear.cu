// Linear layers through the same GEMM kernel and plans as conv1d
// (gemm_plans.cuh): plain fp32, fixed summation order.
#include "cuda/linear.h"

#include <cuda_runtime.h>

#include "cuda/device_exec.cuh"
#include "cuda/gemm_plans.cuh"
#include "cuda/reduce.h"

namespace ft::cuda {

void linearForward(const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out, cudaStream_t stream) {
  Workspace unused;
  DeviceExec ex{unused, stream};
  plans::linearForward(ex, x, weight, bias, y, rows, in, out);
}

void linearBackwardInput(const float* dy, const float* weight, float* dx, size_t rows, size_t in, size_t out,
                         cudaStream_t stream) {
  Workspace unused;
  DeviceExec ex{unused, stream};
  plans::linearBackwardInput(ex, dy, weight, dx, rows, in, out);
}

void linearBackwardWeight(const float* x, const float* dy, float* dWeight, size_t rows, size_t in, size_t out,
                          Workspace& ws, cudaStream_t stream) {
  DeviceExec ex{ws, stream};
  plans::linearBackwardWeight(ex, x, dy, dWeight, rows, in, out);
}

void linearBackwardBias(const float* dy, float* dBias, size_t rows, size_t out, Workspace& ws, cudaStream_t stream) {
  ws.reserve(columnSumsWorkspace(rows, out));
  columnSums(dy, rows, out, dBias, true, ws, stream);
}

}  // namespace ft::cuda
