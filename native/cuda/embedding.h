#pragma once
// Embedding lookup on the device (cpu/embedding.h semantics). Ids must
// already be validated (0 <= id < vocab): the kernels do not check them.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ft::cuda {

// out[i, :] = weight[ids[i], :] for i < n; weight is [vocab, dim].
void embeddingForward(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out, cudaStream_t stream);

// Packed batches (CudaProgram): out[g, :] = weight[ids[g], :], or zeros where
// ids[g] < 0 (the zero steps between texts).
void embeddingForwardPacked(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out,
                            cudaStream_t stream);

// The backward pass needs the positions of each distinct id. Ids come from
// the host in this design (the data loader is in JS), so they are grouped
// there, in O(n) with a counting pass, instead of sorted on the device:
// deterministic, atomic-free, and without a device sort library.
//   runId[r]       the r-th distinct id (first-seen order), paddingIdx excluded
//   runStart[r]    where its positions start in `order` (runs + 1 entries)
//   order[j]       positions i, grouped by id, increasing within a group
struct EmbeddingGroups {
  std::vector<int32_t> runId, runStart, order;
  std::vector<int32_t> slot;  // scratch, one per vocabulary row, kept at -1 between calls
  void build(const int32_t* ids, size_t n, size_t vocab, int64_t paddingIdx);
  size_t runs() const { return runId.size(); }
};

// gradWeight[runId[r], :] += sum over j in [runStart[r], runStart[r+1]) of
// gradOut[row(order[j]), :], where row(i) = rowOf ? rowOf[i] : i. One block
// per distinct id adding its rows in position order — the CPU reference's
// order, so the result equals it bit for bit. Device pointers.
void embeddingBackwardGrouped(const int32_t* runId, const int32_t* runStart, size_t runs, const int32_t* order,
                              const int32_t* rowOf, const float* gradOut, size_t dim, float* gradWeight,
                              cudaStream_t stream);

}  // namespace ft::cuda
