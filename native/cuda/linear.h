#pragma once
// Fully connected layer on the device, PyTorch layout as cpu/linear.h:
// y = x W^T + b with x [rows, in], weight [out, in], bias [out], y [rows, out].
// Device pointers; work queued on `stream`.
#include <cuda_runtime_api.h>

#include <cstddef>

#include "cuda/memory.h"

namespace ft::cuda {

void linearForward(const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out, cudaStream_t stream);
// dx += dy W.
void linearBackwardInput(const float* dy, const float* weight, float* dx, size_t rows, size_t in, size_t out,
                         cudaStream_t stream);
// dWeight += dy^T x (split over rows into ws partials when rows are many).
void linearBackwardWeight(const float* x, const float* dy, float* dWeight, size_t rows, size_t in, size_t out,
                          Workspace& ws, cudaStream_t stream);
// dBias += column sums of dy.
void linearBackwardBias(const float* dy, float* dBias, size_t rows, size_t out, Workspace& ws, cudaStream_t stream);

}  // namespace ft::cuda
