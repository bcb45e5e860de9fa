#pragma once
// The executor of gemm_plans.cuh on the device: kernel launches on one stream,
// scratch from a Workspace.
#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/gemm.cuh"
#include "cuda/memory.h"

namespace ft::cuda {

// wf[flippedIndex(m, k, c)] = w[m, k, c] (conv1d.cu).
void flipConvWeight(const float* w, size_t M, size_t K, size_t C, float* wf, cudaStream_t stream);

struct DeviceExec {
  Workspace& ws;
  cudaStream_t stream;

  void reserve(size_t bytes) { ws.reserve(bytes); }
  float* take(size_t count) { return ws.take<float>(count); }
  template <class LA, class LB, class Epi>
  void gemm(int M, int N, int K, int segments, int segsPerZ, int zCount, LA la, LB lb, Epi epi) {
    ::ft::cuda::gemm::launch(M, N, K, segments, segsPerZ, zCount, la, lb, epi, stream);
  }
  void flipConvWeight(const float* w, size_t M, size_t K, size_t C, float* wf) {
    ::ft::cuda::flipConvWeight(w, M, K, C, wf, stream);
  }
  void reducePartials(const float* partials, int zCount, size_t count, float* out, bool accumulate) {
    ::ft::cuda::gemm::reducePartials(partials, zCount, count, out, accumulate, stream);
  }
};

}  // namespace ft::cuda
