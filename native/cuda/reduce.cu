#include "cuda/reduce.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/gemm.cuh"

namespace ft::cuda {

namespace {

__global__ void reducePartialsKernel(const float* partials, int zCount, size_t count, float* out, bool accumulate) {
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < count;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int z = 0; z < zCount; ++z) s += partials[static_cast<size_t>(z) * count + idx];
    out[idx] = accumulate ? out[idx] + s : s;
  }
}

// Rows of one chunk: at least 256, more when the chunk count would pass the grid's y limit.
size_t chunkRows(size_t rows) {
  size_t c = 256;
  while ((rows + c - 1) / c > 65535) c *= 2;
  return c;
}

// Block (32, 8): 32 columns, 8 row lanes; each lane sums a strided subset of
// the chunk's rows, then lanes are added in order 0..7.
__global__ void columnChunkKernel(const float* a, size_t rows, size_t cols, size_t rowsPerChunk, float* partial) {
  __shared__ float lane[8][33];
  const size_t c = blockIdx.x * 32 + threadIdx.x;
  const size_t r0 = blockIdx.y * rowsPerChunk;
  const size_t r1 = r0 + rowsPerChunk < rows ? r0 + rowsPerChunk : rows;
  float s = 0.0f;
  if (c < cols)
    for (size_t r = r0 + threadIdx.y; r < r1; r += 8) s += a[r * cols + c];
  lane[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float t = lane[0][threadIdx.x];
    for (int y = 1; y < 8; ++y) t += lane[y][threadIdx.x];
    partial[blockIdx.y * cols + c] = t;
  }
}

__global__ void sumSquaresKernel(const float* x, size_t n, double* partials) {
  __shared__ double part[256];
  double s = 0.0;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double v = x[i];
    s += v * v;
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (unsigned w = 128; w > 0; w >>= 1) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = part[0];
}

// One block; a fixed tree over a fixed layout of the partials.
__global__ void sumPartialsKernel(const double* partials, size_t count, double* total) {
  __shared__ double part[256];
  double s = 0.0;
  for (size_t i = threadIdx.x; i < count; i += 256) s += partials[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (unsigned w = 128; w > 0; w >>= 1) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *total = part[0];
}

}  // namespace

namespace gemm {
void reducePartials(const float* partials, int zCount, size_t count, float* out, bool accumulate,
                    cudaStream_t stream) {
  if (count == 0) return;
  reducePartialsKernel<<<elementwiseBlocks(count), 256, 0, stream>>>(partials, zCount, count, out, accumulate);
  FT_CUDA_CHECK_LAUNCH("reducePartialsKernel");
}
}  // namespace gemm

size_t columnSumsWorkspace(size_t rows, size_t cols) {
  const size_t chunks = (rows + chunkRows(rows) - 1) / chunkRows(rows);
  return Workspace::aligned(chunks * cols * sizeof(float));
}

void columnSums(const float* a, size_t rows, size_t cols, float* out, bool accumulate, Workspace& ws,
                cudaStream_t stream) {
  if (cols == 0) return;
  if (rows == 0) {
    if (!accumulate) FT_CUDA_CHECK(cudaMemsetAsync(out, 0, cols * sizeof(float), stream));
    return;
  }
  const size_t per = chunkRows(rows);
  const size_t chunks = (rows + per - 1) / per;
  float* partial = ws.take<float>(chunks * cols);
  const dim3 grid(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>(chunks));
  columnChunkKernel<<<grid, dim3(32, 8), 0, stream>>>(a, rows, cols, per, partial);
  FT_CUDA_CHECK_LAUNCH("columnChunkKernel");
  gemm::reducePartials(partial, static_cast<int>(chunks), cols, out, accumulate, stream);
}

int sumOfSquaresBlocks(size_t n) {
  size_t b = (n + 4095) / 4096;
  if (b < 1) b = 1;
  if (b > 1024) b = 1024;
  return static_cast<int>(b);
}

void sumOfSquaresPartials(const float* x, size_t n, double* partials, cudaStream_t stream) {
  sumSquaresKernel<<<sumOfSquaresBlocks(n), 256, 0, stream>>>(x, n, partials);
  FT_CUDA_CHECK_LAUNCH("sumSquaresKernel");
}

void sumPartials(const double* partials, size_t count, double* total, cudaStream_t stream) {
  sumPartialsKernel<<<1, 256, 0, stream>>>(partials, count, total);
  FT_CUDA_CHECK_LAUNCH("sumPartialsKernel");
}

}  // namespace ft::cuda
