#pragma once
// CudaProgram: runtime::Program (native/runtime/program.h) on the device.
// The same spec (what src/model/program.ts builds), the same checks, the same
// packed layout of sequences (each text followed by `gap` zero steps, a whole
// batch one long sequence, so a convolution is one product) and the same
// per-row semantics; parameters, gradients, optimizer state and activations
// live on the device. Per step only the batch goes up (packed ids, row starts
// and lengths, labels: a few KB) and the loss, correct count and gradient
// norm come down, in one synchronisation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/activation.h"
#include "cpu/conv1d.h"
#include "runtime/spec.h"
#include "cuda/embedding.h"
#include "cuda/loss.h"
#include "cuda/memory.h"

namespace ft::cuda {

// The spec, step settings, batch and result types are runtime's, parsed by
// the same code as the CPU program's (addon/spec_parse.h).
using runtime::BatchView;
using runtime::GroupHyper;
using runtime::OpSpec;
using runtime::OpType;
using runtime::OptimizerKind;
using runtime::ParamSpec;
using runtime::ProgramSpec;
using runtime::StepConfig;
using runtime::StepResult;
using runtime::TensorKind;
using runtime::TensorSpec;
using cpu::kMaxConvPadding;

class CudaProgram {
 public:
  // Throws std::invalid_argument naming the problem, or CudaError (out of device memory).
  explicit CudaProgram(ProgramSpec spec);
  CudaProgram(const CudaProgram&) = delete;
  CudaProgram& operator=(const CudaProgram&) = delete;

  const ProgramSpec& spec() const { return spec_; }
  size_t minLength() const { return minLength_; }
  size_t classes() const { return classes_; }
  size_t vocab() const { return vocab_; }
  size_t totalParams() const { return totalParams_; }
  size_t paramOffset(size_t i) const { return paramOffsets_[i]; }
  size_t deviceBytes() const { return deviceBytes_; }

  void validateBatch(const BatchView& b, bool needLabels) const;
  void validateStepConfig(const StepConfig& cfg) const;
  StepResult trainStep(const BatchView& b, const StepConfig& cfg);
  void predict(const BatchView& b, float* logits);
  StepResult evaluate(const BatchView& b, float* logits);
  void setFrozen(size_t param, bool frozen);

  // Host copies of device state (initialisation, export, checkpoints).
  void getParam(size_t i, float* out) const;
  void setParam(size_t i, const float* values);
  void getMoments(float* m, float* v) const;
  void setMoments(const float* m, const float* v);
  std::vector<int64_t>& paramSteps() { return paramSteps_; }
  int64_t steps() const { return steps_; }
  void setSteps(int64_t s) { steps_ = s; }
  uint64_t& seed() { return seed_; }
  uint64_t& counter() { return counter_; }

 private:
  struct Buffer {
    float* data = nullptr;
    float* grad = nullptr;
    size_t stride = 0;
    size_t offset = 0;
    bool needsGrad = false;
    std::vector<int32_t> validSteps;  // host copy, per row (Sequence)
    size_t steps = 0;
  };

  void upload(const BatchView& b, bool training);
  void forward(const BatchView& b, bool training);
  void backward(const BatchView& b);
  void computeValidSteps(const BatchView& b);
  void updateGradientFlags();
  float* param(int32_t i) const { return params_.get() + paramOffsets_[static_cast<size_t>(i)]; }
  float* grad(int32_t i) const { return grads_.get() + paramOffsets_[static_cast<size_t>(i)]; }
  bool trainable(int32_t i) const { return !spec_.params[static_cast<size_t>(i)].frozen; }
  const int32_t* validDev(int32_t tensor) const { return ints_.get() + validAt_ + static_cast<size_t>(tensor) * spec_.maxBatch; }

  ProgramSpec spec_;
  size_t classes_ = 0, minLength_ = 1, vocab_ = 0, gap_ = 0, totalParams_ = 0, deviceBytes_ = 0;
  std::vector<size_t> paramOffsets_;
  DeviceBuffer<float> params_, grads_, m_, v_, activations_, activationGrads_, lossGrad_, classWeights_;
  DeviceBuffer<uint8_t> masks_;
  DeviceBuffer<int32_t> argmax_;
  std::vector<size_t> maskOffsets_, argmaxOffsets_;
  std::vector<Buffer> buffers_;
  std::vector<std::vector<int32_t>> consumers_;
  // One device array of ints for everything a batch uploads, at fixed offsets:
  // packed ids (-1 on gap steps), row starts, each tensor's valid steps per
  // row, labels, and for the embedding's backward pass the packed position
  // of each real token with the tokens grouped by id (EmbeddingGroups; its
  // distinct ids are also the rows a sparse update touches).
  DeviceBuffer<int32_t> ints_;
  std::vector<int32_t> staging_;
  size_t packedAt_ = 0, rowStartAt_ = 0, validAt_ = 0, labelsAt_ = 0, embRowsAt_ = 0, runIdAt_ = 0, runStartAt_ = 0,
         orderAt_ = 0;
  size_t runs_ = 0;
  std::vector<int32_t> rowStart_, tokens_;
  EmbeddingGroups groups_;
  DeviceBuffer<double> norm_;  // [0] sum of squares of the trainable gradients
  DeviceBuffer<double> normPartials_;
  DeviceBuffer<CrossEntropyTotals> totals_;
  Workspace ws_;
  std::vector<int64_t> paramSteps_;
  int64_t steps_ = 0;
  uint64_t seed_ = 0, counter_ = 0;
};

}  // namespace ft::cuda
