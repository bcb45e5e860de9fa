#include "cuda/embedding.h"

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {

// One block per token: rows are contiguous, so the copy is coalesced.
__global__ void gatherKernel(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out) {
  for (size_t i = blockIdx.x; i < n; i += gridDim.x) {
    const float* src = weight + static_cast<size_t>(ids[i]) * dim;
    float* dst = out + i * dim;
    for (size_t d = threadIdx.x; d < dim; d += blockDim.x) dst[d] = src[d];
  }
}

__global__ void gatherPackedKernel(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out) {
  for (size_t i = blockIdx.x; i < n; i += gridDim.x) {
    const int32_t id = ids[i];
    float* dst = out + i * dim;
    if (id < 0) {
      for (size_t d = threadIdx.x; d < dim; d += blockDim.x) dst[d] = 0.0f;
    } else {
      const float* src = weight + static_cast<size_t>(id) * dim;
      for (size_t d = threadIdx.x; d < dim; d += blockDim.x) dst[d] = src[d];
    }
  }
}

// Block r owns distinct id runId[r]: no other block writes its row.
__global__ void groupedAddKernel(const int32_t* runId, const int32_t* runStart, size_t runs, const int32_t* order,
                                 const int32_t* rowOf, const float* gradOut, size_t dim, float* gradWeight) {
  for (size_t r = blockIdx.x; r < runs; r += gridDim.x) {
    float* row = gradWeight + static_cast<size_t>(runId[r]) * dim;
    const int32_t j0 = runStart[r], j1 = runStart[r + 1];
    for (size_t d = threadIdx.x; d < dim; d += blockDim.x) {
      float acc = row[d];
      for (int32_t j = j0; j < j1; ++j) {
        const int32_t i = order[j];
        const int32_t at = rowOf ? rowOf[i] : i;
        acc += gradOut[static_cast<size_t>(at) * dim + d];
      }
      row[d] = acc;
    }
  }
}

unsigned rowBlocks(size_t n) { return static_cast<unsigned>(n < 65535 * 16 ? n : 65535 * 16); }
unsigned rowThreads(size_t dim) { return dim >= 256 ? 256 : dim >= 128 ? 128 : dim >= 64 ? 64 : 32; }

}  // namespace

void EmbeddingGroups::build(const int32_t* ids, size_t n, size_t vocab, int64_t paddingIdx) {
  if (slot.size() != vocab) slot.assign(vocab, -1);
  runId.clear();
  std::vector<int32_t> count;
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (id == paddingIdx) continue;
    int32_t& s = slot[static_cast<size_t>(id)];
    if (s < 0) {
      s = static_cast<int32_t>(runId.size());
      runId.push_back(id);
      count.push_back(0);
    }
    ++count[static_cast<size_t>(s)];
  }
  runStart.assign(runId.size() + 1, 0);
  for (size_t r = 0; r < runId.size(); ++r) runStart[r + 1] = runStart[r] + count[r];
  order.assign(static_cast<size_t>(runStart.back()), 0);
  std::vector<int32_t> cursor(runStart.begin(), runStart.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (id == paddingIdx) continue;
    order[static_cast<size_t>(cursor[static_cast<size_t>(slot[static_cast<size_t>(id)])]++)] = static_cast<int32_t>(i);
  }
  for (int32_t id : runId) slot[static_cast<size_t>(id)] = -1;
}

void embeddingForward(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out, cudaStream_t stream) {
  if (n == 0 || dim == 0) return;
  gatherKernel<<<rowBlocks(n), rowThreads(dim), 0, stream>>>(ids, n, weight, dim, out);
  FT_CUDA_CHECK_LAUNCH("gatherKernel");
}

void embeddingForwardPacked(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out,
                            cudaStream_t stream) {
  if (n == 0 || dim == 0) return;
  gatherPackedKernel<<<rowBlocks(n), rowThreads(dim), 0, stream>>>(ids, n, weight, dim, out);
  FT_CUDA_CHECK_LAUNCH("gatherPackedKernel");
}

void embeddingBackwardGrouped(const int32_t* runId, const int32_t* runStart, size_t runs, const int32_t* order,
                              const int32_t* rowOf, const float* gradOut, size_t dim, float* gradWeight,
                              cudaStream_t stream) {
  if (runs == 0 || dim == 0) return;
  groupedAddKernel<<<rowBlocks(runs), rowThreads(dim), 0, stream>>>(runId, runStart, runs, order, rowOf, gradOut, dim,
                                                                    gradWeight);
  FT_CUDA_CHECK_LAUNCH("groupedAddKernel");
}

}  // namespace ft::cuda
