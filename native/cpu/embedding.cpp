#include "cpu/embedding.h"

#include <cstring>

namespace ft::cpu {

void embeddingForward(const int32_t* ids, size_t n, const float* weight, size_t dim, float* out) {
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(out + i * dim, weight + static_cast<size_t>(ids[i]) * dim, dim * sizeof(float));
  }
}

namespace scalar {
void embeddingBackward(const int32_t* ids, size_t n, const float* gradOut, size_t dim, int64_t paddingIdx,
                       float* gradWeight) {
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] == paddingIdx) continue;
    float* row = gradWeight + static_cast<size_t>(ids[i]) * dim;
    const float* g = gradOut + i * dim;
    for (size_t d = 0; d < dim; ++d) row[d] += g[d];
  }
}
}  // namespace scalar

}  // namespace ft::cpu
