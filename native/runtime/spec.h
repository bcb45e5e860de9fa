#pragma once
// What a compiled program is made of (the spec src/model/program.ts builds),
// the per-step settings, a batch and a step's result: plain data shared by the
// CPU runtime (runtime/program.h) and the CUDA program (cuda/program.h), and
// parsed from JS once for both (addon/spec_parse.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/activation.h"

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

}  // namespace ft::runtime
