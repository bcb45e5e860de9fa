#pragma once
// Inverted dropout on the device, cpu/dropout.h semantics and the same
// counter-based generator (cpu/random.h): value i is a pure function of
// (seed, counter + i), so the device draws the CPU's mask bit for bit.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace ft::cuda {

// y = x * mask / (1 - p); uses values counter .. counter + n - 1 of the
// stream `seed` (the caller advances its counter by n). y may alias x.
void dropoutForward(const float* x, float* y, uint8_t* mask, size_t n, double p, uint64_t seed, uint64_t counter,
                    cudaStream_t stream);
// dx = dy * mask / (1 - p); dx may alias dy.
void dropoutBackward(const float* dy, const uint8_t* mask, float* dx, size_t n, double p, cudaStream_t stream);

}  // namespace ft::cuda
