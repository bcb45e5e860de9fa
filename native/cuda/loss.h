#pragma once
// Softmax cross-entropy on the device, cpu/loss.h semantics (mean over rows,
// class weights normalising by sum w[y_i], label smoothing e with target
// (1-e) one-hot + e/classes; per-row math in double).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cuda/memory.h"

namespace ft::cuda {

// Written on the device, so a training step can leave it there until the
// host wants it.
struct CrossEntropyTotals {
  double loss;                 // mean loss (NaN if a logit is not finite)
  unsigned long long correct;  // rows whose first arg-max logit equals the label
};

// labels in [0, classes) (not checked here). classWeights, gradLogits nullable.
// totals: device pointer. Deterministic: rows are reduced in a fixed tree.
void softmaxCrossEntropy(const float* logits, const int32_t* labels, size_t rows, size_t classes,
                         const float* classWeights, float labelSmoothing, float* gradLogits, CrossEntropyTotals* totals,
                         Workspace& ws, cudaStream_t stream);

}  // namespace ft::cuda
