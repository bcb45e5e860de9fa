#include "cuda/dropout.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {

// cpu/random.h's splitmix64 and uniformAt, for the device (that header's
// functions are host-only; these must stay identical to them).
__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ float uniformAt(uint64_t seed, uint64_t index) {
  const uint64_t bits = splitmix64(seed ^ splitmix64(index));
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

__global__ void forwardKernel(const float* x, float* y, uint8_t* mask, size_t n, double p, float scale, uint64_t seed,
                              uint64_t counter) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const bool keep = static_cast<double>(uniformAt(seed, counter + i)) >= p;
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
}

__global__ void backwardKernel(const float* dy, const uint8_t* mask, float* dx, size_t n, float scale) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

// Rounded once from double, as the CPU (and PyTorch's division by 1 - p).
float keepScale(double p) { return p < 1.0 ? static_cast<float>(1.0 / (1.0 - p)) : 0.0f; }

}  // namespace

void dropoutForward(const float* x, float* y, uint8_t* mask, size_t n, double p, uint64_t seed, uint64_t counter,
                    cudaStream_t stream) {
  if (n == 0) return;
  forwardKernel<<<elementwiseBlocks(n), 256, 0, stream>>>(x, y, mask, n, p, keepScale(p), seed, counter);
  FT_CUDA_CHECK_LAUNCH("dropout forwardKernel");
}

void dropoutBackward(const float* dy, const uint8_t* mask, float* dx, size_t n, double p, cudaStream_t stream) {
  if (n == 0) return;
  backwardKernel<<<elementwiseBlocks(n), 256, 0, stream>>>(dy, mask, dx, n, keepScale(p));
  FT_CUDA_CHECK_LAUNCH("dropout backwardKernel");
}

}  // namespace ft::cuda
