#pragma once
// Fully connected layer, PyTorch layout: y = x W^T + b with x [rows, in],
// weight [out, in], bias [out], y [rows, out].
#include <cstddef>

namespace ft::cpu {

void linearForward(const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out);
// dx += dy W.
void linearBackwardInput(const float* dy, const float* weight, float* dx, size_t rows, size_t in, size_t out);
// dWeight += dy^T x.
void linearBackwardWeight(const float* x, const float* dy, float* dWeight, size_t rows, size_t in, size_t out);
// dBias += column sums of dy.
void linearBackwardBias(const float* dy, float* dBias, size_t rows, size_t out);

// Scalar references (linear.cpp); the functions above dispatch (cpu/dispatch.h).
namespace scalar {
void linearForward(const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out);
void linearBackwardInput(const float* dy, const float* weight, float* dx, size_t rows, size_t in, size_t out);
void linearBackwardWeight(const float* x, const float* dy, float* dWeight, size_t rows, size_t in, size_t out);
void linearBackwardBias(const float* dy, float* dBias, size_t rows, size_t out);
}  // namespace scalar

}  // namespace ft::cpu
