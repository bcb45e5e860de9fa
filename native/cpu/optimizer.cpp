#include "cpu/optimizer.h"

#include <cmath>

#include "cpu/dispatch.h"

namespace ft::cpu {

namespace scalar {


void adamUpdate(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t n) {
  const float beta1 = static_cast<float>(cfg.beta1);
  const float beta2 = static_cast<float>(cfg.beta2);
  const float oneMinusBeta1 = static_cast<float>(1.0 - cfg.beta1);
  const float oneMinusBeta2 = static_cast<float>(1.0 - cfg.beta2);
  const double t = static_cast<double>(step);
  const double biasCorrection1 = 1.0 - std::pow(cfg.beta1, t);
  const float biasCorrection2Sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(cfg.beta2, t)));
  const float negStepSize = static_cast<float>(-(cfg.lr / biasCorrection1));
  const float eps = static_cast<float>(cfg.eps);
  const float wd = static_cast<float>(cfg.weightDecay);
  const float decay = static_cast<float>(1.0 - cfg.lr * cfg.weightDecay);
  const bool coupledDecay = !cfg.decoupled && cfg.weightDecay != 0.0;
  const bool decoupledDecay = cfg.decoupled && cfg.weightDecay != 0.0;
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (coupledDecay) g += wd * param[i];
    if (decoupledDecay) param[i] *= decay;
    m[i] = m[i] * beta1 + oneMinusBeta1 * g;
    v[i] = v[i] * beta2 + oneMinusBeta2 * g * g;
    const float denom = std::sqrt(v[i]) / biasCorrection2Sqrt + eps;
    param[i] += negStepSize * (m[i] / denom);
  }
}

void sgdUpdate(const SgdConfig& cfg, bool firstStep, float* param, const float* grad, float* momentumBuffer,
               size_t n) {
  const float lr = static_cast<float>(cfg.lr);
  const float wd = static_cast<float>(cfg.weightDecay);
  const float momentum = static_cast<float>(cfg.momentum);
  const float oneMinusDampening = static_cast<float>(1.0 - cfg.dampening);
  for (size_t i = 0; i < n; ++i) {
    float d = grad[i];
    if (cfg.weightDecay != 0.0) d += wd * param[i];
    if (cfg.momentum != 0.0) {
      float& buf = momentumBuffer[i];
      buf = firstStep ? d : buf * momentum + oneMinusDampening * d;
      d = cfg.nesterov ? d + momentum * buf : buf;
    }
    param[i] -= lr * d;
  }
}

void adadeltaUpdate(const AdadeltaConfig& cfg, float* param, const float* grad, float* squareAvg, float* accDelta,
                    size_t n) {
  const float rho = static_cast<float>(cfg.rho);
  const float oneMinusRho = static_cast<float>(1.0 - cfg.rho);
  const float eps = static_cast<float>(cfg.eps);
  const float wd = static_cast<float>(cfg.weightDecay);
  const float negLr = static_cast<float>(-cfg.lr);
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (cfg.weightDecay != 0.0) g += wd * param[i];
    squareAvg[i] = squareAvg[i] * rho + oneMinusRho * g * g;
    const float delta = std::sqrt(accDelta[i] + eps) / std::sqrt(squareAvg[i] + eps) * g;
    accDelta[i] = accDelta[i] * rho + oneMinusRho * delta * delta;
    param[i] += negLr * delta;
  }
}

double sumOfSquares(const float* x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

void scale(float* x, size_t n, float factor) {
  for (size_t i = 0; i < n; ++i) x[i] *= factor;
}

}  // namespace scalar

// Scalar: a batch touches few embedding rows; this is not a hot loop.
void sparseAdamRows(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t dim,
                    const int32_t* rows, size_t count) {
  const float oneMinusBeta1 = static_cast<float>(1.0 - cfg.beta1);
  const float oneMinusBeta2 = static_cast<float>(1.0 - cfg.beta2);
  const double t = static_cast<double>(step);
  const float negStepSize =
      static_cast<float>(-(cfg.lr * std::sqrt(1.0 - std::pow(cfg.beta2, t)) / (1.0 - std::pow(cfg.beta1, t))));
  const float eps = static_cast<float>(cfg.eps);
  for (size_t k = 0; k < count; ++k) {
    const size_t off = static_cast<size_t>(rows[k]) * dim;
    for (size_t i = off; i < off + dim; ++i) {
      const float g = grad[i];
      m[i] += (g - m[i]) * oneMinusBeta1;
      v[i] += (g * g - v[i]) * oneMinusBeta2;
      param[i] += negStepSize * (m[i] / (std::sqrt(v[i]) + eps));
    }
  }
}

// A few rows of a classifier head per step: not a hot loop.
void maxNormRows(float* weight, size_t rows, size_t cols, double maxNorm) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = weight + r * cols;
    double s = 0.0;
    for (size_t i = 0; i < cols; ++i) s += static_cast<double>(row[i]) * row[i];
    const double norm = std::sqrt(s);
    if (norm > maxNorm) {
      const float f = static_cast<float>(maxNorm / norm);
      for (size_t i = 0; i < cols; ++i) row[i] *= f;
    }
  }
}

// Dispatches sumOfSquares and scale through the current kernel table.
double clipGradNorm(float* const* grads, const size_t* sizes, size_t count, double maxNorm) {
  double total = 0.0;
  for (size_t k = 0; k < count; ++k) total += sumOfSquares(grads[k], sizes[k]);  // dispatching
  const double norm = std::sqrt(total);
  const double coef = maxNorm / (norm + 1e-6);
  if (coef < 1.0) {
    const float f = static_cast<float>(coef);
    for (size_t k = 0; k < count; ++k) kernelTable().scale(grads[k], sizes[k], f);
  }
  return norm;
}

}  // namespace ft::cpu
