#include "cpu/loss.h"

#include <cmath>
#include <vector>

namespace ft::cpu {

CrossEntropyResult softmaxCrossEntropy(const float* logits, const int32_t* labels, size_t rows, size_t classes,
                                       const float* classWeights, float labelSmoothing, float* gradLogits) {
  CrossEntropyResult result{0.0, 0};
  if (rows == 0) return result;
  const double eps = labelSmoothing;
  double weightSum = 0.0;     // normaliser of the mean: sum of w[y_i]
  double classWeightTotal = 0.0;
  for (size_t c = 0; c < classes; ++c) classWeightTotal += classWeights ? classWeights[c] : 1.0;
  for (size_t r = 0; r < rows; ++r) weightSum += classWeights ? classWeights[labels[r]] : 1.0;

  // Per-row softmax in double; the scale 1/weightSum is known before the
  // gradient is written, so loss and gradient come from one pass over logits.
  const double invNorm = weightSum > 0.0 ? 1.0 / weightSum : 0.0;
  double total = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    const float* z = logits + r * classes;
    const size_t y = static_cast<size_t>(labels[r]);
    size_t best = 0;
    double zmax = z[0];
    for (size_t c = 1; c < classes; ++c) {
      if (z[c] > zmax) {
        zmax = z[c];
        best = c;
      }
    }
    if (best == y) ++result.correct;
    double sumExp = 0.0;
    for (size_t c = 0; c < classes; ++c) sumExp += std::exp(static_cast<double>(z[c]) - zmax);
    const double logSumExp = zmax + std::log(sumExp);
    const double wy = classWeights ? classWeights[y] : 1.0;
    // -log p_y weighted, plus the smoothing term -sum_c w_c log p_c.
    double nll = wy * (logSumExp - z[y]);
    double smooth = 0.0;
    if (eps != 0.0) {
      for (size_t c = 0; c < classes; ++c)
        smooth += (classWeights ? classWeights[c] : 1.0) * (logSumExp - static_cast<double>(z[c]));
    }
    total += (1.0 - eps) * nll + (eps / static_cast<double>(classes)) * smooth;
    if (gradLogits) {
      float* g = gradLogits + r * classes;
      for (size_t c = 0; c < classes; ++c) {
        const double p = std::exp(static_cast<double>(z[c]) - logSumExp);
        const double wc = classWeights ? classWeights[c] : 1.0;
        double d = (1.0 - eps) * wy * (p - (c == y ? 1.0 : 0.0));
        if (eps != 0.0) d += (eps / static_cast<double>(classes)) * (p * classWeightTotal - wc);
        g[c] = static_cast<float>(d * invNorm);
      }
    }
  }
  result.loss = total * invNorm;
  return result;
}

}  // namespace ft::cpu
