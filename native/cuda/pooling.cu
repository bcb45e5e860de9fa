// One thread per (row, channel) walking the steps in order, like the CPU
// loop: consecutive threads read consecutive channels (coalesced), and the
// max's tie/NaN rules and the mean's summation order are the CPU's exactly,
// so results are bitwise equal. Backward passes are elementwise over dx.
#include "cuda/pooling.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {

__device__ __forceinline__ size_t validSteps(const int32_t* rowSteps, size_t b, size_t steps) {
  return rowSteps ? static_cast<size_t>(rowSteps[b]) : steps;
}

__device__ __forceinline__ size_t rowBase(const int32_t* rowStart, size_t b, size_t steps, size_t channels) {
  return (rowStart ? static_cast<size_t>(rowStart[b]) : b * steps) * channels;
}

__global__ void maxForwardKernel(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowStart,
                                 const int32_t* rowSteps, float* y, size_t yStride, size_t yOffset, int32_t* argmax) {
  const size_t total = batch * channels;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = idx / channels, c = idx % channels;
    const size_t T = validSteps(rowSteps, b, steps);
    const float* xb = x + rowBase(rowStart, b, steps, channels) + c;
    float best = xb[0];
    int32_t at = 0;
    for (size_t t = 1; t < T && !isnan(best); ++t) {
      const float v = xb[t * channels];
      if (v > best || isnan(v)) {
        best = v;
        at = static_cast<int32_t>(t);
      }
    }
    y[b * yStride + yOffset + c] = best;
    argmax[idx] = at;
  }
}

__global__ void maxBackwardKernel(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax, size_t batch,
                                  size_t steps, size_t channels, float* dx) {
  const size_t total = batch * steps * channels;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t c = idx % channels;
    const size_t t = (idx / channels) % steps;
    const size_t b = idx / (channels * steps);
    dx[idx] = static_cast<size_t>(argmax[b * channels + c]) == t ? dy[b * yStride + yOffset + c] : 0.0f;
  }
}

__global__ void meanForwardKernel(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowStart,
                                  const int32_t* rowSteps, float* y, size_t yStride, size_t yOffset) {
  const size_t total = batch * channels;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = idx / channels, c = idx % channels;
    const size_t T = validSteps(rowSteps, b, steps);
    const float* xb = x + rowBase(rowStart, b, steps, channels) + c;
    float s = 0.0f;
    for (size_t t = 0; t < T; ++t) s += xb[t * channels];
    const float inv = 1.0f / static_cast<float>(T);
    y[b * yStride + yOffset + c] = s * inv;
  }
}

__global__ void meanBackwardKernel(const float* dy, size_t yStride, size_t yOffset, size_t batch, size_t steps,
                                   size_t channels, const int32_t* rowSteps, float* dx) {
  const size_t total = batch * steps * channels;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t c = idx % channels;
    const size_t t = (idx / channels) % steps;
    const size_t b = idx / (channels * steps);
    const size_t T = validSteps(rowSteps, b, steps);
    const float inv = 1.0f / static_cast<float>(T);
    dx[idx] = t < T ? dy[b * yStride + yOffset + c] * inv : 0.0f;
  }
}

// Packed backward: one thread per (row, channel) over the row's valid steps.
__global__ void maxBackwardPackedKernel(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax,
                                        const int32_t* rowStart, const int32_t* rowSteps, size_t batch, size_t channels,
                                        float* dx) {
  const size_t total = batch * channels;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = idx / channels, c = idx % channels;
    const size_t T = static_cast<size_t>(rowSteps[b]);
    const size_t at = static_cast<size_t>(argmax[idx]);
    const float g = dy[b * yStride + yOffset + c];
    float* dxb = dx + static_cast<size_t>(rowStart[b]) * channels + c;
    for (size_t t = 0; t < T; ++t) dxb[t * channels] = t == at ? g : 0.0f;
  }
}

__global__ void meanBackwardPackedKernel(const float* dy, size_t yStride, size_t yOffset, const int32_t* rowStart,
                                         const int32_t* rowSteps, size_t batch, size_t channels, float* dx) {
  const size_t total = batch * channels;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t b = idx / channels, c = idx % channels;
    const size_t T = static_cast<size_t>(rowSteps[b]);
    const float inv = 1.0f / static_cast<float>(T);
    const float g = dy[b * yStride + yOffset + c] * inv;
    float* dxb = dx + static_cast<size_t>(rowStart[b]) * channels + c;
    for (size_t t = 0; t < T; ++t) dxb[t * channels] = g;
  }
}

}  // namespace

void maxOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                        float* y, size_t yStride, size_t yOffset, int32_t* argmax, cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  maxForwardKernel<<<elementwiseBlocks(batch * channels), 256, 0, stream>>>(x, batch, steps, channels, nullptr, rowSteps,
                                                                           y, yStride, yOffset, argmax);
  FT_CUDA_CHECK_LAUNCH("maxForwardKernel");
}

void maxOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax, size_t batch,
                         size_t steps, size_t channels, float* dx, cudaStream_t stream) {
  if (batch * steps * channels == 0) return;
  maxBackwardKernel<<<elementwiseBlocks(batch * steps * channels), 256, 0, stream>>>(dy, yStride, yOffset, argmax,
                                                                                     batch, steps, channels, dx);
  FT_CUDA_CHECK_LAUNCH("maxBackwardKernel");
}

void meanOverTimeForward(const float* x, size_t batch, size_t steps, size_t channels, const int32_t* rowSteps,
                         float* y, size_t yStride, size_t yOffset, cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  meanForwardKernel<<<elementwiseBlocks(batch * channels), 256, 0, stream>>>(x, batch, steps, channels, nullptr, rowSteps,
                                                                            y, yStride, yOffset);
  FT_CUDA_CHECK_LAUNCH("meanForwardKernel");
}

void meanOverTimeBackward(const float* dy, size_t yStride, size_t yOffset, size_t batch, size_t steps,
                          size_t channels, const int32_t* rowSteps, float* dx, cudaStream_t stream) {
  if (batch * steps * channels == 0) return;
  meanBackwardKernel<<<elementwiseBlocks(batch * steps * channels), 256, 0, stream>>>(dy, yStride, yOffset, batch,
                                                                                      steps, channels, rowSteps, dx);
  FT_CUDA_CHECK_LAUNCH("meanBackwardKernel");
}

void maxOverTimeForwardPacked(const float* x, const int32_t* rowStart, const int32_t* rowSteps, size_t batch,
                              size_t channels, float* y, size_t yStride, size_t yOffset, int32_t* argmax,
                              cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  maxForwardKernel<<<elementwiseBlocks(batch * channels), 256, 0, stream>>>(x, batch, 0, channels, rowStart, rowSteps,
                                                                           y, yStride, yOffset, argmax);
  FT_CUDA_CHECK_LAUNCH("maxForwardKernel (packed)");
}

void maxOverTimeBackwardPacked(const float* dy, size_t yStride, size_t yOffset, const int32_t* argmax,
                               const int32_t* rowStart, const int32_t* rowSteps, size_t batch, size_t channels,
                               float* dx, cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  maxBackwardPackedKernel<<<elementwiseBlocks(batch * channels), 256, 0, stream>>>(dy, yStride, yOffset, argmax,
                                                                                  rowStart, rowSteps, batch, channels,
                                                                                  dx);
  FT_CUDA_CHECK_LAUNCH("maxBackwardPackedKernel");
}

void meanOverTimeForwardPacked(const float* x, const int32_t* rowStart, const int32_t* rowSteps, size_t batch,
                               size_t channels, float* y, size_t yStride, size_t yOffset, cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  meanForwardKernel<<<elementwiseBlocks(batch * channels), 256, 0, stream>>>(x, batch, 0, channels, rowStart, rowSteps,
                                                                            y, yStride, yOffset);
  FT_CUDA_CHECK_LAUNCH("meanForwardKernel (packed)");
}

void meanOverTimeBackwardPacked(const float* dy, size_t yStride, size_t yOffset, const int32_t* rowStart,
                                const int32_t* rowSteps, size_t batch, size_t channels, float* dx,
                                cudaStream_t stream) {
  if (batch == 0 || channels == 0) return;
  meanBackwardPackedKernel<<<elementwiseBlocks(batch * channels), 256, 0, stream>>>(dy, yStride, yOffset, rowStart,
                                                                                   rowSteps, batch, channels, dx);
  FT_CUDA_CHECK_LAUNCH("meanBackwardPackedKernel");
}

}  // namespace ft::cuda
