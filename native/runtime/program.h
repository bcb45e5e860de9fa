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

#include "cpu/activation.h"
#include "cpu/random.h"

namespace ft::runtime {

enum class TensorKind : int32_t { Ids = 0, Sequence = 1, Vector = 2 };

struct TensorSpec {
  TensorKind kind;
  size_t channels;  // features per step (Sequence) or per row (Vector); 0 for Ids
};

enum class OpType : int32_t {
  Embedding = 0,
  Conv1d = 1,
  Activation = 2,
  MaxOverTime = 3,
  MeanOverTime = 4,
  Concat = 5,
  Dropout = 6,
  Linear = 7,
};

struct OpSpec {
  OpType type;
  std::vector<int32_t> inputs;  // tensor indices
  int32_t output;               // tensor index
  std::vector<int32_t> params;  // parameter indices: weight[, bias]
  // Attributes (only those of the op's type are meaningful).
  size_t width = 0, padLeft = 0, padRight = 0;  // Conv1d
  int64_t paddingIdx = -1;                      // Embedding
  cpu::Activation activation = cpu::Activation::Identity;
  float slope = 0.01f;
  double dropout = 0.0;
};

struct ParamSpec {
  std::string name;
  size_t size;
  int32_t group;  // index into the per-step group hyperparameters
  bool frozen;
};

struct ProgramSpec {
  size_t maxBatch;
  size_t maxLength;
  std::vector<TensorSpec> tensors;  // tensor 0 holds the token ids
  std::vector<OpSpec> ops;          // in execution order
  std::vector<ParamSpec> params;
  size_t groups;
  double labelSmoothing = 0.0;
  std::vector<float> classWeights;  // empty: unweighted
};

enum class OptimizerKind : int32_t { Adam = 0, AdamW = 1, Sgd = 2, Adadelta = 3 };

struct GroupHyper {
  double lr;
  double weightDecay;
};

struct StepConfig {
  OptimizerKind optimizer = OptimizerKind::Adam;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double rho = 0.9;  // Adadelta
  double momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
  double maxGradNorm = 0.0;  // 0: no clipping
  // Max-norm constraint on every trainable linear layer's weight rows (one
  // per output unit), applied after the update; 0: none. Kim (2014) uses 3.
  double maxNorm = 0.0;
  // Lazy embedding updates (torch.optim.SparseAdam): only the rows a batch
  // touched change, moments included. Needs optimizer Adam, no weight decay.
  bool sparseEmbedding = false;
  std::vector<GroupHyper> groups;
};

// A batch as the data loader yields it: ids [batch, length] row-major;
// lengths (nullable) each row's real token count. With lengths, every row is
// treated as if alone, padded to max(its length, minLength); without, every
// position of the padded batch counts (PyTorch-compatible).
struct BatchView {
  const int32_t* ids;
  const int32_t* lengths;
  const int32_t* labels;  // training only
  size_t batch;
  size_t length;
};

struct StepResult {
  double loss = 0.0;
  size_t correct = 0;
  double gradNorm = 0.0;
  bool skipped = false;  // non-finite loss or gradient: no parameter changed
};

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
