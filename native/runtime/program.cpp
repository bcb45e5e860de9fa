#include "runtime/program.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <stdexcept>

#include <unistd.h>

#include "cpu/conv1d.h"
#include "cpu/dropout.h"
#include "cpu/embedding.h"
#include "cpu/linear.h"
#include "cpu/loss.h"
#include "cpu/optimizer.h"
#include "cpu/pooling.h"
#include "runtime/plan.h"
#include "runtime/thread_pool.h"

namespace ft::runtime {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

// Physical memory, the most a program may ask for: a request beyond it is
// refused with its size instead of being zero-filled into the OOM killer.
uint64_t memoryBudget() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0) return uint64_t{1} << 40;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize);
}

void checkBudget(long double bytes, const std::string& what) {
  const uint64_t budget = memoryBudget();
  if (bytes > static_cast<long double>(budget)) {
    char text[160];
    std::snprintf(text, sizeof text, "%s would need %.0Lf bytes (%.1Lf GiB) but this machine has %llu bytes of memory", what.c_str(),
                  bytes, bytes / (1024.0L * 1024.0L * 1024.0L), static_cast<unsigned long long>(budget));
    fail(text);
  }
}

// Runs f(r) for every row r of a batch, on the pool when the rows carry
// enough floats to pay for it. Rows write disjoint outputs, so the result does
// not depend on the thread count.
template <class F>
void forEachRow(size_t rows, size_t floats, F&& f) {
  if (runtime::threadCount() == 1 || rows < 2 || floats < (size_t{1} << 16)) {
    for (size_t r = 0; r < rows; ++r) f(r);
    return;
  }
  runtime::parallelForEach(rows, f);
}

}  // namespace

Program::Program(ProgramSpec spec) : spec_(std::move(spec)), params_(std::make_shared<ParamStorage>()) {
  ProgramPlan plan = planProgram(spec_);
  const size_t nt = spec_.tensors.size();
  const size_t total = plan.totalParams;
  classes_ = plan.classes;
  minLength_ = plan.minLength;
  vocab_ = plan.vocab;
  gap_ = plan.gap;
  paramOffsets_ = std::move(plan.paramOffsets);
  consumers_ = std::move(plan.consumers);
  // Values, gradients and two optimizer moments.
  checkBudget(16.0L * static_cast<long double>(total), "the parameters with their gradients and Adam moments");
  checkBudget(16.0L * static_cast<long double>(total) + 8.0L * plan.activationFloatsExact,
              "the program (parameters, moments, activations and their gradients for the largest batch)");
  params_->values.assign(total, 0.0f);
  grads_.assign(total, 0.0f);
  m_.assign(total, 0.0f);
  v_.assign(total, 0.0f);
  paramSteps_.assign(spec_.params.size(), 0);
  const std::vector<size_t>& sizes = plan.sizes;
  const std::vector<size_t>& offsets = plan.offsets;
  const std::vector<int32_t>& viewOf = plan.viewOf;
  const std::vector<size_t>& viewColumn = plan.viewColumn;
  const size_t act = plan.activationFloats;
  activations_.assign(act, 0.0f);
  activationGrads_.assign(act, 0.0f);
  buffers_.assign(nt, Buffer{});
  for (size_t t = 1; t < nt; ++t) {
    Buffer& b = buffers_[t];
    const size_t owner = viewOf[t] >= 0 ? static_cast<size_t>(viewOf[t]) : t;
    b.data = activations_.data() + offsets[owner];
    b.grad = activationGrads_.data() + offsets[owner];
    b.stride = spec_.tensors[owner].channels;
    b.offset = viewOf[t] >= 0 ? viewColumn[t] : 0;
    b.validSteps.assign(spec_.maxBatch, 0);
  }
  buffers_[0].validSteps.assign(spec_.maxBatch, 0);
  size_t masks = 0, argmax = 0;
  for (const OpSpec& op : spec_.ops) {
    maskOffsets_.push_back(masks);
    argmaxOffsets_.push_back(argmax);
    if (op.type == OpType::Dropout) masks += sizes[static_cast<size_t>(op.output)];
    if (op.type == OpType::MaxOverTime) argmax += sizes[static_cast<size_t>(op.output)];
  }
  dropoutMasks_.assign(masks, 0);
  argmax_.assign(argmax, 0);
  fuseActivationsIntoPooling();
  lossGrad_.assign(spec_.maxBatch * classes_, 0.0f);
  rowLengths_.assign(spec_.maxBatch, 0);
  rowStart_.assign(spec_.maxBatch, 0);
  updateGradientFlags();
}

void Program::fuseActivationsIntoPooling() {
  fusedActivation_.assign(spec_.ops.size(), -1);
  skipped_.assign(spec_.ops.size(), 0);
  for (size_t a = 0; a < spec_.ops.size(); ++a) {
    const OpSpec& act = spec_.ops[a];
    if (act.type != OpType::Activation) continue;
    // Non-decreasing, with a derivative computable from the output alone (the
    // pooled output is all that is kept): relu and leaky relu (slope >= 0)
    // have f'(x) = f'(f(x)) in their sign test, tanh and sigmoid use f(x).
    const bool monotone = act.activation == cpu::Activation::Identity || act.activation == cpu::Activation::Relu ||
                          act.activation == cpu::Activation::Tanh || act.activation == cpu::Activation::Sigmoid ||
                          (act.activation == cpu::Activation::LeakyRelu && act.slope >= 0.0f);
    const std::vector<int32_t>& users = consumers_[static_cast<size_t>(act.output)];
    if (!monotone || users.size() != 1 || spec_.ops[static_cast<size_t>(users[0])].type != OpType::MaxOverTime) continue;
    if (spec_.tensors[static_cast<size_t>(act.inputs[0])].kind != TensorKind::Sequence) continue;
    fusedActivation_[static_cast<size_t>(users[0])] = static_cast<int32_t>(a);
    skipped_[a] = 1;
    buffers_[static_cast<size_t>(act.output)].unused = true;
  }
}

// A tensor needs a gradient when a trainable parameter lies upstream of it.
void Program::updateGradientFlags() {
  for (Buffer& b : buffers_) b.needsGrad = false;
  for (const OpSpec& op : spec_.ops) {
    bool ng = false;
    for (int32_t i : op.inputs) ng = ng || buffers_[static_cast<size_t>(i)].needsGrad;
    for (int32_t p : op.params) ng = ng || trainable(p);
    buffers_[static_cast<size_t>(op.output)].needsGrad = ng;
  }
  // Views share their owner's gradient buffer; the owner is zeroed when any view needs it.
  for (const OpSpec& op : spec_.ops) {
    if (op.type != OpType::Concat) continue;
    bool any = buffers_[static_cast<size_t>(op.output)].needsGrad;
    for (int32_t i : op.inputs) any = any || buffers_[static_cast<size_t>(i)].needsGrad;
    buffers_[static_cast<size_t>(op.output)].needsGrad = any;
  }
}

void Program::setFrozen(size_t param, bool frozen) {
  if (param >= spec_.params.size()) fail("no parameter " + std::to_string(param));
  spec_.params[param].frozen = frozen;
  updateGradientFlags();
}

size_t Program::bytesAllocated() const {
  return sizeof(float) * (params_->values.size() + grads_.size() + m_.size() + v_.size() + activations_.size() +
                          activationGrads_.size() + lossGrad_.size()) +
         dropoutMasks_.size() + sizeof(int32_t) * argmax_.size();
}

void Program::validateBatch(const BatchView& b, bool needLabels) const {
  if (b.batch == 0 || b.batch > spec_.maxBatch) {
    fail("batch of " + std::to_string(b.batch) + " rows; this program takes 1 to " + std::to_string(spec_.maxBatch));
  }
  if (b.length < minLength_ || b.length > spec_.maxLength) {
    fail("padded length " + std::to_string(b.length) + " outside [" + std::to_string(minLength_) + ", " +
         std::to_string(spec_.maxLength) + "]: pad to at least the widest filter");
  }
  const size_t vocab = vocab_;
  for (size_t i = 0; i < b.batch * b.length; ++i) {
    if (b.ids[i] < 0 || static_cast<size_t>(b.ids[i]) >= vocab) {
      fail("ids[" + std::to_string(i) + "] = " + std::to_string(b.ids[i]) + " is outside the vocabulary [0, " +
           std::to_string(vocab) + ")");
    }
  }
  if (b.lengths) {
    for (size_t r = 0; r < b.batch; ++r) {
      if (b.lengths[r] < 0) fail("lengths[" + std::to_string(r) + "] is negative");
    }
  }
  if (needLabels) {
    for (size_t r = 0; r < b.batch; ++r) {
      if (b.labels[r] < 0 || static_cast<size_t>(b.labels[r]) >= classes_) {
        fail("labels[" + std::to_string(r) + "] = " + std::to_string(b.labels[r]) + " is outside the classes [0, " +
             std::to_string(classes_) + ")");
      }
    }
  }
}

void Program::computeValidSteps(const BatchView& b) {
  // Row r acts as if alone, padded to max(length, minLength); without
  // lengths every row spans the whole padded batch (PyTorch-compatible).
  std::vector<int32_t>& ids = buffers_[0].validSteps;
  size_t at = 0;
  for (size_t r = 0; r < b.batch; ++r) {
    size_t len = b.lengths ? static_cast<size_t>(b.lengths[r]) : b.length;
    ids[r] = static_cast<int32_t>(std::min(b.length, std::max(len, minLength_)));
    rowStart_[r] = at;
    at += static_cast<size_t>(ids[r]) + gap_;
  }
  buffers_[0].steps = at;
  for (const OpSpec& op : spec_.ops) {
    Buffer& in = buffers_[static_cast<size_t>(op.inputs[0])];
    Buffer& out = buffers_[static_cast<size_t>(op.output)];
    const TensorSpec& ot = spec_.tensors[static_cast<size_t>(op.output)];
    if (ot.kind != TensorKind::Sequence) continue;
    if (op.type == OpType::Conv1d) {
      // Rows keep their starts; a valid conv leaves width-1 fewer steps.
      const long extra = static_cast<long>(op.padLeft + op.padRight) - static_cast<long>(op.width) + 1;
      out.steps = static_cast<size_t>(static_cast<long>(in.steps) + extra);
      for (size_t r = 0; r < b.batch; ++r) {
        long v = static_cast<long>(in.validSteps[r]) + extra;
        out.validSteps[r] = static_cast<int32_t>(std::max(v, 1L));
      }
    } else {
      out.steps = in.steps;
      std::copy(in.validSteps.begin(), in.validSteps.begin() + static_cast<long>(b.batch), out.validSteps.begin());
    }
  }
}

void Program::forward(const BatchView& b, bool training) {
  computeValidSteps(b);
  const size_t B = b.batch;
  for (size_t o = 0; o < spec_.ops.size(); ++o) {
    if (skipped_[o]) continue;
    const OpSpec& op = spec_.ops[o];
    const int32_t fused = fusedActivation_[o];
    // A fused pooling reads what its activation would have read.
    const int32_t source = fused >= 0 ? spec_.ops[static_cast<size_t>(fused)].inputs[0] : op.inputs[0];
    Buffer& in = buffers_[static_cast<size_t>(source)];
    Buffer& out = buffers_[static_cast<size_t>(op.output)];
    const TensorSpec& it = spec_.tensors[static_cast<size_t>(source)];
    const TensorSpec& ot = spec_.tensors[static_cast<size_t>(op.output)];
    const size_t n = (ot.kind == TensorKind::Sequence ? out.steps : B) * ot.channels;
    switch (op.type) {
      case OpType::Embedding: {
        const size_t D = ot.channels;
        forEachRow(B, out.steps * D, [&](size_t r) {
          float* row = out.data + rowStart_[r] * D;
          const size_t len = static_cast<size_t>(out.validSteps[r]);
          cpu::embeddingForward(b.ids + r * b.length, len, param(op.params[0]), D, row);
          if (gap_) std::memset(row + len * D, 0, gap_ * D * sizeof(float));
        });
        break;
      }
      case OpType::Conv1d: {
        cpu::Conv1dShape s{1, in.steps, it.channels, ot.channels, op.width, op.padLeft, op.padRight};
        cpu::conv1dForward(s, in.data, param(op.params[0]), op.params.size() > 1 ? param(op.params[1]) : nullptr, out.data);
        break;
      }
      case OpType::Activation:
        cpu::activationForward(op.activation, op.slope, in.data, out.data, n);
        break;
      case OpType::MaxOverTime: {
        const size_t C = it.channels;
        forEachRow(B, in.steps * C, [&](size_t r) {
          cpu::maxOverTimeForward(in.data + rowStart_[r] * C, 1, static_cast<size_t>(in.validSteps[r]), C, nullptr,
                                  out.data + r * out.stride, out.stride, out.offset, argmax_.data() + argmaxOffsets_[o] + r * C);
          if (fused >= 0) {
            const OpSpec& act = spec_.ops[static_cast<size_t>(fused)];
            float* y = out.data + r * out.stride + out.offset;
            cpu::activationForward(act.activation, act.slope, y, y, C);
          }
        });
        break;
      }
      case OpType::MeanOverTime: {
        const size_t C = it.channels;
        forEachRow(B, in.steps * C, [&](size_t r) {
          cpu::meanOverTimeForward(in.data + rowStart_[r] * C, 1, static_cast<size_t>(in.validSteps[r]), C, nullptr,
                                   out.data + r * out.stride, out.stride, out.offset);
        });
        break;
      }
      case OpType::Concat:
        break;  // its inputs wrote into its buffer
      case OpType::Dropout:
        if (training && op.dropout > 0.0) {
          cpu::dropoutForward(in.data, out.data, dropoutMasks_.data() + maskOffsets_[o], n, op.dropout, random_);
        } else {
          std::memcpy(out.data, in.data, n * sizeof(float));
        }
        break;
      case OpType::Linear:
        cpu::linearForward(in.data, param(op.params[0]), op.params.size() > 1 ? param(op.params[1]) : nullptr, out.data, B,
                           it.channels, ot.channels);
        break;
    }
  }
}

void Program::backward(const BatchView& b) {
  const size_t B = b.batch;
  // Input gradients accumulate where a tensor has several consumers.
  for (size_t t = 1; t < buffers_.size(); ++t) {
    Buffer& buf = buffers_[t];
    if (!buf.needsGrad || buf.offset != 0 || buf.unused) continue;
    const TensorSpec& ts = spec_.tensors[t];
    const size_t n = (ts.kind == TensorKind::Sequence ? buf.steps : B) * buf.stride;
    std::memset(buf.grad, 0, n * sizeof(float));
  }
  const Buffer& logits = buffers_[static_cast<size_t>(spec_.ops.back().output)];
  std::memcpy(logits.grad, lossGrad_.data(), B * classes_ * sizeof(float));

  for (size_t k = spec_.ops.size(); k-- > 0;) {
    if (skipped_[k]) continue;
    const OpSpec& op = spec_.ops[k];
    const int32_t fused = fusedActivation_[k];
    const int32_t source = fused >= 0 ? spec_.ops[static_cast<size_t>(fused)].inputs[0] : op.inputs[0];
    Buffer& in = buffers_[static_cast<size_t>(source)];
    Buffer& out = buffers_[static_cast<size_t>(op.output)];
    if (!out.needsGrad) continue;
    const TensorSpec& it = spec_.tensors[static_cast<size_t>(source)];
    const TensorSpec& ot = spec_.tensors[static_cast<size_t>(op.output)];
    const size_t n = (ot.kind == TensorKind::Sequence ? out.steps : B) * ot.channels;
    switch (op.type) {
      case OpType::Embedding:
        if (trainable(op.params[0])) {
          const size_t D = ot.channels;
          for (size_t r = 0; r < B; ++r) {
            cpu::embeddingBackward(b.ids + r * b.length, static_cast<size_t>(out.validSteps[r]), out.grad + rowStart_[r] * D, D,
                                   op.paddingIdx, grad(op.params[0]));
          }
        }
        break;
      case OpType::Conv1d: {
        cpu::Conv1dShape s{1, in.steps, it.channels, ot.channels, op.width, op.padLeft, op.padRight};
        if (trainable(op.params[0])) cpu::conv1dBackwardWeight(s, in.data, out.grad, grad(op.params[0]));
        if (op.params.size() > 1 && trainable(op.params[1])) cpu::conv1dBackwardBias(s, out.grad, grad(op.params[1]));
        if (in.needsGrad) cpu::conv1dBackwardInput(s, out.grad, param(op.params[0]), in.grad);
        break;
      }
      case OpType::Activation:
        if (in.needsGrad) cpu::activationBackward(op.activation, op.slope, in.data, out.data, out.grad, in.grad, n);
        break;
      // Per row over its own steps; steps between rows keep the zero gradient
      // they were given, so straddling windows contribute nothing.
      case OpType::MaxOverTime:
        if (in.needsGrad) {
          const size_t C = it.channels;
          forEachRow(B, in.steps * C, [&](size_t r) {
            if (fused >= 0) {
              // f' from the pooled output, in place on the pooled gradient (only this op reads it).
              const OpSpec& act = spec_.ops[static_cast<size_t>(fused)];
              const float* y = out.data + r * out.stride + out.offset;
              float* g = out.grad + r * out.stride + out.offset;
              cpu::activationBackward(act.activation, act.slope, y, y, g, g, C);
            }
            cpu::maxOverTimeBackward(out.grad + r * out.stride, out.stride, out.offset, argmax_.data() + argmaxOffsets_[k] + r * C, 1,
                                     static_cast<size_t>(in.validSteps[r]), C, in.grad + rowStart_[r] * C);
          });
        }
        break;
      case OpType::MeanOverTime:
        if (in.needsGrad) {
          const size_t C = it.channels;
          forEachRow(B, in.steps * C, [&](size_t r) {
            cpu::meanOverTimeBackward(out.grad + r * out.stride, out.stride, out.offset, 1, static_cast<size_t>(in.validSteps[r]), C,
                                      nullptr, in.grad + rowStart_[r] * C);
          });
        }
        break;
      case OpType::Concat:
        break;  // its inputs read their gradient from its buffer
      case OpType::Dropout:
        if (in.needsGrad) {
          if (op.dropout > 0.0) {
            cpu::dropoutBackward(out.grad, dropoutMasks_.data() + maskOffsets_[k], in.grad, n, op.dropout);
          } else {
            std::memcpy(in.grad, out.grad, n * sizeof(float));
          }
        }
        break;
      case OpType::Linear:
        if (trainable(op.params[0])) cpu::linearBackwardWeight(in.data, out.grad, grad(op.params[0]), B, it.channels, ot.channels);
        if (op.params.size() > 1 && trainable(op.params[1])) cpu::linearBackwardBias(out.grad, grad(op.params[1]), B, ot.channels);
        if (in.needsGrad) cpu::linearBackwardInput(out.grad, param(op.params[0]), in.grad, B, it.channels, ot.channels);
        break;
    }
  }
}

void Program::validateStepConfig(const StepConfig& cfg) const {
  if (cfg.groups.size() != spec_.groups) fail("expected hyperparameters for " + std::to_string(spec_.groups) + " groups");
  if (cfg.sparseEmbedding) {
    if (cfg.optimizer != OptimizerKind::Adam) fail("sparse embedding updates follow SparseAdam: use optimizer adam");
    const ParamSpec& emb = spec_.params[static_cast<size_t>(spec_.ops.front().params[0])];
    if (cfg.groups[static_cast<size_t>(emb.group)].weightDecay != 0.0) {
      fail("sparse embedding updates (SparseAdam) take no weight decay on the embedding");
    }
  }
}

StepResult Program::trainStep(const BatchView& b, const StepConfig& cfg) {
  validateStepConfig(cfg);
  StepResult result;
  forward(b, true);
  const float* logits = buffers_[static_cast<size_t>(spec_.ops.back().output)].data;
  cpu::CrossEntropyResult ce = cpu::softmaxCrossEntropy(
      logits, b.labels, b.batch, classes_, spec_.classWeights.empty() ? nullptr : spec_.classWeights.data(),
      static_cast<float>(spec_.labelSmoothing), lossGrad_.data());
  result.loss = ce.loss;
  result.correct = ce.correct;
  if (!std::isfinite(ce.loss)) {
    result.skipped = true;
    return result;
  }
  // The embedding gradient is non-zero only on the rows a batch touched, so
  // its zeroing, norm and clipping cover those rows (the previous batch's
  // rows are zeroed first, keeping every other row at zero). With sparse
  // updates the optimizer step covers only them too; dense Adam still passes
  // over every row, as torch.optim.Adam does.
  const OpSpec& embOp = spec_.ops.front();
  const size_t embParam = static_cast<size_t>(embOp.params[0]);
  const size_t dim = spec_.tensors[static_cast<size_t>(embOp.output)].channels;
  const bool embTrainable = trainable(static_cast<int32_t>(embParam));
  const bool sparse = cfg.sparseEmbedding && embTrainable;
  float* embGrad = grads_.data() + paramOffsets_[embParam];
  if (embTrainable) {
    for (int32_t row : touchedRows_) std::memset(embGrad + static_cast<size_t>(row) * dim, 0, dim * sizeof(float));
    if (rowSeen_.size() != vocab_) rowSeen_.assign(vocab_, 0);
    touchedRows_.clear();
    const std::vector<int32_t>& steps = buffers_[0].validSteps;
    for (size_t r = 0; r < b.batch; ++r) {
      for (size_t t = 0; t < static_cast<size_t>(steps[r]); ++t) {
        const int32_t id = b.ids[r * b.length + t];
        if (id == embOp.paddingIdx || rowSeen_[static_cast<size_t>(id)]) continue;
        rowSeen_[static_cast<size_t>(id)] = 1;
        touchedRows_.push_back(id);
      }
    }
    for (int32_t row : touchedRows_) rowSeen_[static_cast<size_t>(row)] = 0;
  }
  auto forEachSpan = [&](size_t p, auto&& fn) {
    float* g = grads_.data() + paramOffsets_[p];
    if (p == embParam) {
      for (int32_t row : touchedRows_) fn(g + static_cast<size_t>(row) * dim, dim);
    } else {
      fn(g, spec_.params[p].size);
    }
  };
  for (size_t p = 0; p < spec_.params.size(); ++p) {
    if (p != embParam && trainable(static_cast<int32_t>(p))) std::memset(grads_.data() + paramOffsets_[p], 0, spec_.params[p].size * sizeof(float));
  }
  backward(b);

  double sumSquares = 0.0;
  for (size_t p = 0; p < spec_.params.size(); ++p) {
    if (trainable(static_cast<int32_t>(p))) forEachSpan(p, [&](float* g, size_t n) { sumSquares += cpu::sumOfSquares(g, n); });
  }
  result.gradNorm = std::sqrt(sumSquares);
  if (!std::isfinite(result.gradNorm)) {
    result.skipped = true;  // nothing was updated: parameters stay bitwise as they were
    return result;
  }
  if (cfg.maxGradNorm > 0.0) {
    const double coef = cfg.maxGradNorm / (result.gradNorm + 1e-6);
    if (coef < 1.0) {
      const float f = static_cast<float>(coef);
      for (size_t p = 0; p < spec_.params.size(); ++p) {
        if (!trainable(static_cast<int32_t>(p))) continue;
        forEachSpan(p, [f](float* g, size_t n) {
          for (size_t i = 0; i < n; ++i) g[i] *= f;
        });
      }
    }
  }
  ++steps_;
  for (size_t p = 0; p < spec_.params.size(); ++p) {
    if (!trainable(static_cast<int32_t>(p))) continue;
    const GroupHyper& h = cfg.groups[static_cast<size_t>(spec_.params[p].group)];
    const size_t off = paramOffsets_[p], n = spec_.params[p].size;
    const int64_t t = ++paramSteps_[p];
    float* w = params_->values.data() + off;
    if (sparse && p == embParam) {
      cpu::AdamConfig a{h.lr, cfg.beta1, cfg.beta2, cfg.eps, 0.0, false};
      cpu::sparseAdamRows(a, t, w, grads_.data() + off, m_.data() + off, v_.data() + off, dim, touchedRows_.data(),
                          touchedRows_.size());
    } else if (cfg.optimizer == OptimizerKind::Adadelta) {
      cpu::AdadeltaConfig a{h.lr, cfg.rho, cfg.eps, h.weightDecay};
      cpu::adadeltaUpdate(a, w, grads_.data() + off, m_.data() + off, v_.data() + off, n);
    } else if (cfg.optimizer == OptimizerKind::Sgd) {
      cpu::SgdConfig s{h.lr, cfg.momentum, cfg.dampening, h.weightDecay, cfg.nesterov};
      cpu::sgdUpdate(s, t == 1, w, grads_.data() + off, m_.data() + off, n);
    } else {
      cpu::AdamConfig a{h.lr, cfg.beta1, cfg.beta2, cfg.eps, h.weightDecay, cfg.optimizer == OptimizerKind::AdamW};
      cpu::adamUpdate(a, t, w, grads_.data() + off, m_.data() + off, v_.data() + off, n);
    }
  }
  if (cfg.maxNorm > 0.0) {
    for (const OpSpec& op : spec_.ops) {
      if (op.type != OpType::Linear || !trainable(op.params[0])) continue;
      const size_t rows = spec_.tensors[static_cast<size_t>(op.output)].channels;
      const size_t cols = spec_.params[static_cast<size_t>(op.params[0])].size / rows;
      cpu::maxNormRows(param(op.params[0]), rows, cols, cfg.maxNorm);
    }
  }
  return result;
}

void Program::predict(const BatchView& b, float* logits) {
  forward(b, false);
  std::memcpy(logits, buffers_[static_cast<size_t>(spec_.ops.back().output)].data, b.batch * classes_ * sizeof(float));
}

StepResult Program::evaluate(const BatchView& b, float* logits) {
  forward(b, false);
  const float* out = buffers_[static_cast<size_t>(spec_.ops.back().output)].data;
  if (logits) std::memcpy(logits, out, b.batch * classes_ * sizeof(float));
  cpu::CrossEntropyResult ce = cpu::softmaxCrossEntropy(out, b.labels, b.batch, classes_,
                                                        spec_.classWeights.empty() ? nullptr : spec_.classWeights.data(),
                                                        static_cast<float>(spec_.labelSmoothing), nullptr);
  StepResult r;
  r.loss = ce.loss;
  r.correct = ce.correct;
  return r;
}

}  // namespace ft::runtime
