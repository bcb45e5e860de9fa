#pragma once
// Deterministic reductions shared by several op families: every sum is taken
// over a partition fixed by the shape (never by the device or by timing), in
// a fixed order, so a run gives the same bits every time.
#include <cuda_runtime_api.h>

#include <cstddef>

#include "cuda/memory.h"

namespace ft::cuda {

// out[c] (+)= sum over r < rows of a[r * cols + c]. Floats, two passes:
// row chunks to partials, then chunks in order. Needs columnSumsWorkspace
// bytes in ws (taken after the caller's own pieces; pass the ws already reserved).
size_t columnSumsWorkspace(size_t rows, size_t cols);
void columnSums(const float* a, size_t rows, size_t cols, float* out, bool accumulate, Workspace& ws,
                cudaStream_t stream);

// Sum of x[i]^2 in double, into `blocks` partials (sumOfSquaresBlocks(n) of them).
int sumOfSquaresBlocks(size_t n);
void sumOfSquaresPartials(const float* x, size_t n, double* partials, cudaStream_t stream);
// total[0] = sum of the first counts[0] + counts[1] + ... partials, in order.
void sumPartials(const double* partials, size_t count, double* total, cudaStream_t stream);

// Elementwise launch shape: 256 threads, at most 65535 * 16 blocks (grid-stride beyond).
inline unsigned elementwiseBlocks(size_t n) {
  size_t b = (n + 255) / 256;
  if (b > 1048560) b = 1048560;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

}  // namespace ft::cuda
