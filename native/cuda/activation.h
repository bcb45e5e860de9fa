#pragma once
// Elementwise activations on the device; kinds, formulas and the x/y that
// backward reads are those of cpu/activation.h.
#include <cuda_runtime_api.h>

#include <cstddef>

#include "cpu/activation.h"

namespace ft::cuda {

using cpu::Activation;

// y = f(x); y may alias x.
void activationForward(Activation kind, float slope, const float* x, float* y, size_t n, cudaStream_t stream);
// dx = dy * f'(x); dx may alias dy. Reads x or y as cpu::activationBackwardNeedsInput says.
void activationBackward(Activation kind, float slope, const float* x, const float* y, const float* dy, float* dx,
                        size_t n, cudaStream_t stream);

}  // namespace ft::cuda
