#pragma once
// Parameter updates over flat arrays, with torch.optim's formulas (1.13, the
// single-tensor path): scalars in double, elementwise work in float.
#include <cstddef>
#include <cstdint>

namespace ft::cpu {

struct AdamConfig {
  double lr;
  double beta1;
  double beta2;
  double eps;          // added outside the square root, after bias correction
  double weightDecay;
  bool decoupled;      // true: AdamW (param *= 1 - lr*wd); false: Adam (grad += wd*param)
};

// One Adam/AdamW step; `step` is the 1-based count of this update (bias correction).
void adamUpdate(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t n);

struct SgdConfig {
  double lr;
  double momentum;
  double dampening;
  double weightDecay;
  bool nesterov;
};

// One SGD step. firstStep: the momentum buffer is initialised to the gradient
// (as torch does on the first step) instead of being decayed.
void sgdUpdate(const SgdConfig& cfg, bool firstStep, float* param, const float* grad, float* momentumBuffer,
               size_t n);

struct AdadeltaConfig {
  double lr;           // torch's default 1.0: the step is the ratio of the two running RMS
  double rho;
  double eps;
  double weightDecay;  // L2, added to the gradient
};

// One Adadelta step (Zeiler 2012, as torch.optim.Adadelta): squareAvg holds the
// running mean of g^2, accDelta that of the updates' squares.
void adadeltaUpdate(const AdadeltaConfig& cfg, float* param, const float* grad, float* squareAvg, float* accDelta,
                    size_t n);

// Max-norm constraint (Kim 2014, after Hinton et al. 2012): each of the
// `rows` rows of a [rows, cols] weight whose L2 norm exceeds maxNorm is
// rescaled to norm maxNorm. Row norms summed in double, in order.
void maxNormRows(float* weight, size_t rows, size_t cols, double maxNorm);

// torch.optim.SparseAdam on the listed rows of a [rows, dim] parameter (the
// embedding rows a batch touched); other rows, and their moments, are left
// alone. eps is added to sqrt(v) before bias correction, which SparseAdam
// folds into the step size: p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).
void sparseAdamRows(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t dim,
                    const int32_t* rows, size_t count);

// Sum of squares in double.
double sumOfSquares(const float* x, size_t n);

// torch.nn.utils.clip_grad_norm_ over several buffers: returns the global L2
// norm before clipping; if it exceeds maxNorm, every buffer is multiplied by
// maxNorm / (norm + 1e-6).
double clipGradNorm(float* const* grads, const size_t* sizes, size_t count, double maxNorm);

// Scalar references (optimizer.cpp); the functions above dispatch
// (cpu/dispatch.h). The fast Adam, Adadelta and SGD do the same float operations in
// the same order, so they match these bit for bit.
namespace scalar {
void adamUpdate(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t n);
void sgdUpdate(const SgdConfig& cfg, bool firstStep, float* param, const float* grad, float* momentumBuffer,
               size_t n);
void adadeltaUpdate(const AdadeltaConfig& cfg, float* param, const float* grad, float* squareAvg, float* accDelta,
                    size_t n);
double sumOfSquares(const float* x, size_t n);
void scale(float* x, size_t n, float factor);
}  // namespace scalar

}  // namespace ft::cpu
