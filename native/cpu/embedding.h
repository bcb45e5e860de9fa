#pragma once
// Embedding lookup. Ids must already be validated (0 <= id < vocab).
#include <cstddef>
#include <cstdint>

namespace ft::cpu {

// out[i, :] = weight[ids[i], :] for i < n; weight is [vocab, dim].
void embeddingForward(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out);

// gradWeight[ids[i], :] += gradOut[i, :], except for rows equal to paddingIdx
// (PyTorch padding_idx: the pad row never learns). paddingIdx < 0 means none.
void embeddingBackward(const int32_t* ids, size_t n, const float* gradOut, size_t dim, int64_t paddingIdx,
                       float* gradWeight);

// Scalar reference (embedding.cpp); embeddingBackward above dispatches.
namespace scalar {
void embeddingBackward(const int32_t* ids, size_t n, const float* gradOut, size_t dim, int64_t paddingIdx,
                       float* gradWeight);
}  // namespace scalar

}  // namespace ft::cpu
