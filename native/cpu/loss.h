#pragma once
// Softmax cross-entropy with integer labels, as torch.nn.functional.cross_entropy
// with reduction='mean': with class weights w the mean is sum_i w[y_i] l_i /
// sum_i w[y_i]; with label smoothing e the target is (1-e) one-hot + e/classes.
#include <cstddef>
#include <cstdint>

namespace ft::cpu {

struct CrossEntropyResult {
  double loss;     // mean loss over the batch (NaN if a logit is not finite)
  size_t correct;  // rows whose first arg-max logit equals the label
};

// labels must lie in [0, classes). classWeights (nullable) has `classes`
// non-negative entries. gradLogits (nullable, [rows, classes]) is written with
// d loss / d logits in the same pass. Works in double per row, so logits of
// +-1e4 give a finite loss and gradient.
CrossEntropyResult softmaxCrossEntropy(const float* logits, const int32_t* labels, size_t rows, size_t classes,
                                       const float* classWeights, float labelSmoothing, float* gradLogits);

}  // namespace ft::cpu
