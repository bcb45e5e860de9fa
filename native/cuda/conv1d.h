#pragma once
// 1-D convolution on the device: same shapes, layouts and semantics as
// cpu/conv1d.h (channels-last x [batch, length, in], weight [out, width, in],
// y [batch, outLength, out], zero padding left/right, cross-correlation).
// All pointers are device pointers; work is queued on `stream`.
#include <cuda_runtime_api.h>

#include "cpu/conv1d.h"
#include "cuda/memory.h"

namespace ft::cuda {

using cpu::Conv1dShape;

// y = conv(x, weight) + bias (bias may be null). y is written.
void conv1dForward(const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y,
                   cudaStream_t stream);
// dx += conv^T(dy, weight). Uses ws for a flipped copy of the weight.
void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* weight, float* dx, Workspace& ws,
                         cudaStream_t stream);
// dWeight += sum over batch and steps of dy (x) window. Uses ws for split-K partials.
void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dWeight, Workspace& ws,
                          cudaStream_t stream);
// dBias += sum over batch and steps of dy.
void conv1dBackwardBias(const Conv1dShape& s, const float* dy, float* dBias, Workspace& ws, cudaStream_t stream);

}  // namespace ft::cuda
