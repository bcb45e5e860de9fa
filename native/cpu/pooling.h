#pragma once
// Pooling over time for x [batch, steps, channels] (channels last).
//
// rowSteps (nullable) gives each row's own number of valid steps, so that a
// text's pooled features never depend on the padding its batch neighbours
// forced on it; null means every step of every row counts (PyTorch-compatible).
// Outputs go to y[b * yStride + yOffset + c]: pooling writes each filter's
// features straight into the concatenated feature buffer, so concatenation
// costs nothing.
#include <cstddef>
#include <cstdint>

namespace ft::cpu {

// y = max over valid steps; argmax [batch, channels] records the step chosen
// (the first maximum on ties, as torch.max(dim) and max_pool1d; NaN wins, as
// PyTorch propagates it).
void maxOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                        float* y, size_t yStride, size_t yOffset, int32_t* argmax);
// dx (written whole) = dy routed to the argmax step of each row and channel.
void maxOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax, size_t batch,
                         size_t steps, size_t channels, float* dx);

// y = mean over valid steps.
void meanOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                         float* y, size_t yStride, size_t yOffset);
// dx (written whole) = dy / valid steps on valid steps, 0 past them.
void meanOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, size_t batch, size_t steps,
                          size_t channels, const int32_t* rowSteps, float* dx);

}  // namespace ft::cpu
