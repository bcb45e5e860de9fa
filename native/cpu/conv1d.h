#pragma once
// 1-D convolution (cross-correlation, as PyTorch), stride 1, zero padding.
//
// Layout is channels-last: x [batch, length, inChannels], y [batch, outLength,
// outChannels], weight [outChannels, width, inChannels]. With channels last, the
// receptive window of output step t is one contiguous run of width*inChannels
// floats (x + t*inChannels), so the forward pass is a matrix product of
// overlapping rows with the weight, and embedding rows feed it without a
// transpose. PyTorch's [out, in, width] weights are transposed on import.
#include <cstddef>

namespace ft::cpu {

// Largest padding on either side (Kim 2014 pads width-1 of the widest filter).
constexpr size_t kMaxConvPadding = 1024;

struct Conv1dShape {
  size_t batch;
  size_t length;       // input time steps
  size_t inChannels;
  size_t outChannels;
  size_t width;        // kernel width
  size_t padLeft;      // zeros before the first step ("same": (width-1)/2; may exceed width-1)
  size_t padRight;     // zeros after the last step ("same": width-1-padLeft)
  // Output steps; the caller guarantees length + padLeft + padRight >= width.
  size_t outLength() const { return length + padLeft + padRight - width + 1; }
};

// y = conv(x, weight) + bias (bias may be null). y is written.
void conv1dForward(const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y);
// dx += conv^T(dy, weight).
void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* weight, float* dx);
// dWeight += sum over batch and steps of dy (x) window.
void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dWeight);
// dBias += sum over batch and steps of dy.
void conv1dBackwardBias(const Conv1dShape& s, const float* dy, float* dBias);

// The scalar references (conv1d.cpp): plain loops the fast paths are tested
// against. The functions above dispatch (cpu/dispatch.h).
namespace scalar {
void conv1dForward(const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y);
void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* weight, float* dx);
void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dWeight);
void conv1dBackwardBias(const Conv1dShape& s, const float* dy, float* dBias);
}  // namespace scalar

}  // namespace ft::cpu
