#pragma once
// Pooling over time on the device, cpu/pooling.h semantics: x [batch, steps,
// channels]; rowSteps (device, nullable) each row's valid steps; outputs at
// y[b * yStride + yOffset + c].
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ft::cuda {

// First maximum on ties; NaN wins (as PyTorch). argmax [batch, channels].
void maxOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                        float* y, size_t yStride, size_t yOffset, int32_t* argmax, cudaStream_t stream);
// dx (written whole) = dy routed to each row and channel's argmax step.
void maxOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax, size_t batch,
                         size_t steps, size_t channels, float* dx, cudaStream_t stream);
void meanOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                         float* y, size_t yStride, size_t yOffset, cudaStream_t stream);
// dx (written whole) = dy / valid steps on valid steps, 0 past them.
void meanOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, size_t batch, size_t steps,
                          size_t channels, const int32_t* rowSteps, float* dx, cudaStream_t stream);

// Packed rows (CudaProgram): row b's steps start at step rowStart[b] of x and
// it has rowSteps[b] valid steps (both device arrays, non-null). Backward
// writes dx only on each row's valid steps (the steps between rows keep what
// they hold: the program zeroes them).
void maxOverTimeForwardPacked(const float* x, const int32_t* rowStart, const int32_t* rowSteps, size_t batch,
                              size_t channels, float* y, size_t yStride, size_t yOffset, int32_t* argmax,
                              cudaStream_t stream);
void maxOverTimeBackwardPacked(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax,
                               const int32_t* rowStart, const int32_t* rowSteps, size_t batch, size_t channels,
                               float* dx, cudaStream_t stream);
void meanOverTimeForwardPacked(const float* x, const int32_t* rowStart, const int32_t* rowSteps, size_t batch,
                               size_t channels, float* y, size_t yStride, size_t yOffset, cudaStream_t stream);
void meanOverTimeBackwardPacked(const float* dy, size_t yStride, size_t yOffset, const int32_t* rowStart,
                                const int32_t* rowSteps, size_t batch, size_t channels, float* dx,
                                cudaStream_t stream);

}  // namespace ft::cuda
