// The CPU formulas, term for term (see cpu/activation.cpp for why each is
// written as it is). Results can differ from the CPU's by a few ulp: device
// tanhf/expf/erfcf are not glibc's, and nvcc contracts a*b+c into fma.
#include "cuda/activation.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluTanhCubic = 0.044715f;

template <Activation kKind>
__device__ __forceinline__ float forwardOne(float v, float slope) {
  switch (kKind) {
    case Activation::Identity: return v;
    case Activation::Relu: return v < 0.0f ? 0.0f : v;  // NaN stays NaN
    case Activation::Tanh: return tanhf(v);
    case Activation::Sigmoid: return 1.0f / (1.0f + expf(-v));
    case Activation::Gelu: return 0.5f * v * erfcf(-v * kInvSqrt2);
    case Activation::GeluTanh: {
      const float u = kSqrt2OverPi * (v + kGeluTanhCubic * v * v * v);
      return v / (1.0f + expf(-2.0f * u));
    }
    case Activation::LeakyRelu: return v > 0.0f ? v : v * slope;
  }
  return v;
}

template <Activation kKind>
__device__ __forceinline__ float backwardOne(float x, float y, float g, float slope) {
  switch (kKind) {
    case Activation::Identity: return g;
    case Activation::Relu: return x > 0.0f ? g : 0.0f;
    case Activation::Tanh: return g * (1.0f - y * y);
    case Activation::Sigmoid: return g * y * (1.0f - y);
    case Activation::Gelu: {
      const float cdf = 0.5f * erfcf(-x * kInvSqrt2);
      const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
      return g * (cdf + x * pdf);
    }
    case Activation::GeluTanh: {
      const float u = kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x);
      const float s = 1.0f / (1.0f + expf(-2.0f * u));
      const float dInner = kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhCubic * x * x);
      return g * (s + 2.0f * x * s * (1.0f - s) * dInner);
    }
    case Activation::LeakyRelu: return x > 0.0f ? g : g * slope;
  }
  return g;
}

template <Activation kKind>
__global__ void forwardKernel(const float* x, float* y, size_t n, float slope) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] = forwardOne<kKind>(x[i], slope);
}

template <Activation kKind>
__global__ void backwardKernel(const float* x, const float* y, const float* dy, float* dx, size_t n, float slope) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dx[i] = backwardOne<kKind>(x ? x[i] : 0.0f, y ? y[i] : 0.0f, dy[i], slope);
}

template <Activation kKind>
void forwardAs(const float* x, float* y, size_t n, float slope, cudaStream_t stream) {
  forwardKernel<kKind><<<elementwiseBlocks(n), 256, 0, stream>>>(x, y, n, slope);
  FT_CUDA_CHECK_LAUNCH("activation forwardKernel");
}

template <Activation kKind>
void backwardAs(const float* x, const float* y, const float* dy, float* dx, size_t n, float slope,
                cudaStream_t stream) {
  backwardKernel<kKind><<<elementwiseBlocks(n), 256, 0, stream>>>(x, y, dy, dx, n, slope);
  FT_CUDA_CHECK_LAUNCH("activation backwardKernel");
}

}  // namespace

void activationForward(Activation kind, float slope, const float* x, float* y, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  switch (kind) {
    case Activation::Identity:
      if (x != y) FT_CUDA_CHECK(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, stream));
      return;
    case Activation::Relu: return forwardAs<Activation::Relu>(x, y, n, slope, stream);
    case Activation::Tanh: return forwardAs<Activation::Tanh>(x, y, n, slope, stream);
    case Activation::Sigmoid: return forwardAs<Activation::Sigmoid>(x, y, n, slope, stream);
    case Activation::Gelu: return forwardAs<Activation::Gelu>(x, y, n, slope, stream);
    case Activation::GeluTanh: return forwardAs<Activation::GeluTanh>(x, y, n, slope, stream);
    case Activation::LeakyRelu: return forwardAs<Activation::LeakyRelu>(x, y, n, slope, stream);
  }
  throwInvalid("activationForward: unknown activation kind");
}

void activationBackward(Activation kind, float slope, const float* x, const float* y, const float* dy, float* dx,
                        size_t n, cudaStream_t stream) {
  if (n == 0) return;
  switch (kind) {
    case Activation::Identity:
      if (dx != dy) FT_CUDA_CHECK(cudaMemcpyAsync(dx, dy, n * sizeof(float), cudaMemcpyDeviceToDevice, stream));
      return;
    case Activation::Relu: return backwardAs<Activation::Relu>(x, y, dy, dx, n, slope, stream);
    case Activation::Tanh: return backwardAs<Activation::Tanh>(x, y, dy, dx, n, slope, stream);
    case Activation::Sigmoid: return backwardAs<Activation::Sigmoid>(x, y, dy, dx, n, slope, stream);
    case Activation::Gelu: return backwardAs<Activation::Gelu>(x, y, dy, dx, n, slope, stream);
    case Activation::GeluTanh: return backwardAs<Activation::GeluTanh>(x, y, dy, dx, n, slope, stream);
    case Activation::LeakyRelu: return backwardAs<Activation::LeakyRelu>(x, y, dy, dx, n, slope, stream);
  }
  throwInvalid("activationBackward: unknown activation kind");
}

}  // namespace ft::cuda
