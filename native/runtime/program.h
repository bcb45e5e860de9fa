#pragma once
// A compiled model: the graph of ops, every buffer it needs preallocated for
// the largest batch, and one call for a whole training step (forward,
// backward, clipping, optimizer update) or a prediction batch. Plain C++: the
// N-API layer (native/addon/program_binding.cpp) only translates arguments.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpu/random.h"
#include "runtime/spec.h"

namespace ft::runtime {

// Parameter storage outlives the program while JS views on it exist.
struct ParamStorage {
  std::vector<float> values;
};

class Program {
 public:
  // Throws std::invalid_argument with a message naming the problem.
  explicit Program(ProgramSpec spec);

  const ProgramSpec& spec() const { return spec_; }
  std::shared_ptr<ParamStorage> storage() const { return params_; }
  size_t paramOffset(size_t i) const { return paramOffsets_[i]; }
  size_t minLength() const { return minLength_; }
  size_t classes() const { return classes_; }
  size_t vocab() const { return vocab_; }
  size_t bytesAllocated() const;

  // Checked by the binding before a call is queued; throws std::invalid_argument.
  void validateBatch(const BatchView& b, bool needLabels) const;

  // Throws std::invalid_argument for settings this program cannot run.
  void validateStepConfig(const StepConfig& cfg) const;
  StepResult trainStep(const BatchView& b, const StepConfig& cfg);
  // logits: [batch, classes]. Dropout off.
  void predict(const BatchView& b, float* logits);
  // Loss and correct count without any update (evaluation).
  StepResult evaluate(const BatchView& b, float* logits);

  // Freezes or unfreezes a parameter (gradual unfreezing); gradient work
  // follows at the next step. Its optimizer state is kept.
  void setFrozen(size_t param, bool frozen);

  // Optimizer and generator state, for checkpoints.
  // Updates applied so far, per parameter (torch.optim keeps a step per
  // parameter, so one unfrozen late starts its bias correction afresh).
  std::vector<int64_t>& paramSteps() { return paramSteps_; }
  int64_t steps() const { return steps_; }
  void setSteps(int64_t s) { steps_ = s; }
  cpu::RandomState& random() { return random_; }
  std::vector<float>& moment1() { return m_; }
  std::vector<float>& moment2() { return v_; }
  std::vector<float>& gradients() { return grads_; }

 private:
  // Sequence tensors are packed: row r occupies steps [rowStart_[r],
  // rowStart_[r] + validSteps[r]) of one [steps, channels] array, rows
  // separated by gap_ zero steps. A whole batch is one long sequence, so a
  // convolution is one matrix product that does no arithmetic on padding;
  // windows that straddle two rows produce outputs nobody reads (and whose
  // gradients are zero).
  struct Buffer {
    float* data = nullptr;
    float* grad = nullptr;
    size_t stride = 0;      // floats per step (Sequence) or per row (Vector)
    size_t offset = 0;      // column offset inside a shared (concat) buffer
    bool needsGrad = false;
    std::vector<int32_t> validSteps;  // per row, for Sequence tensors
    size_t steps = 0;                 // packed steps of the batch (Sequence)
    bool unused = false;              // the output of an activation fused into its max pooling
  };

  void forward(const BatchView& b, bool training);
  void backward(const BatchView& b);
  void computeValidSteps(const BatchView& b);
  void updateGradientFlags();
  void fuseActivationsIntoPooling();
  float* param(int32_t index) { return params_->values.data() + paramOffsets_[static_cast<size_t>(index)]; }
  float* grad(int32_t index) { return grads_.data() + paramOffsets_[static_cast<size_t>(index)]; }
  bool trainable(int32_t index) const { return !spec_.params[static_cast<size_t>(index)].frozen; }

  ProgramSpec spec_;
  size_t classes_ = 0;
  size_t minLength_ = 1;
  size_t vocab_ = 0;
  std::shared_ptr<ParamStorage> params_;
  std::vector<size_t> paramOffsets_;
  std::vector<float> grads_, m_, v_;
  std::vector<float> activations_, activationGrads_;
  std::vector<uint8_t> dropoutMasks_;
  std::vector<size_t> maskOffsets_;
  std::vector<int32_t> argmax_;
  std::vector<size_t> argmaxOffsets_;
  std::vector<Buffer> buffers_;
  std::vector<float> lossGrad_;
  std::vector<int32_t> rowLengths_;
  std::vector<size_t> rowStart_;
  std::vector<uint8_t> rowSeen_;       // per vocabulary row, for sparse embedding updates
  std::vector<int32_t> touchedRows_;   // the rows a batch touched, in first-seen order  // packed start of each row (same for every sequence tensor)
  size_t gap_ = 0;                // zero steps between rows: the largest one-sided 'same' padding
  std::vector<int64_t> paramSteps_;
  int64_t steps_ = 0;  // optimizer steps taken (skipped ones not counted)
  std::vector<std::vector<int32_t>> consumers_;
  // A monotone activation whose only consumer is a max pooling commutes with
  // it: max f(x) = f(max x). The pooling then reads the activation's input and
  // applies f to the pooled [batch, channels] only, saving two passes over the
  // sequence. Per op: the activation op fused into this pooling op, or -1.
  std::vector<int32_t> fusedActivation_;
  std::vector<uint8_t> skipped_;  // ops whose work a fused pooling does
  cpu::RandomState random_{0, 0};
};

}  // namespace ft::runtime
