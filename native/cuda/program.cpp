// CudaProgram (program.h): runtime::Program's checks, layout and step on the
// device. Host code only: it queues the kernels of native/cuda on the legacy
// default stream, so every synchronous copy below is ordered after them.
#include "cuda/program.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "cuda/activation.h"
#include "cuda/check.h"
#include "cuda/conv1d.h"
#include "cuda/dropout.h"
#include "cuda/embedding.h"
#include "cuda/linear.h"
#include "cuda/loss.h"
#include "cuda/optimizer.h"
#include "cuda/pooling.h"
#include "cuda/reduce.h"
#include "runtime/plan.h"

namespace ft::cuda {

namespace {

constexpr cudaStream_t kStream = nullptr;

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

// Device memory the program would need, refused with its size when beyond the card's.
void checkDeviceBudget(long double bytes, const std::string& what) {
  size_t freeBytes = 0, totalBytes = 0;
  FT_CUDA_CHECK(cudaMemGetInfo(&freeBytes, &totalBytes));
  if (bytes > static_cast<long double>(totalBytes)) {
    char text[200];
    std::snprintf(text, sizeof text, "%s would need %.0Lf bytes (%.1Lf GiB) of device memory but the GPU has %zu bytes",
                  what.c_str(), bytes, bytes / (1024.0L * 1024.0L * 1024.0L), totalBytes);
    fail(text);
  }
}

}  // namespace

CudaProgram::CudaProgram(ProgramSpec spec) : spec_(std::move(spec)) {
  // The CPU program's checks and layout, in the same words (runtime/plan.h).
  runtime::ProgramPlan plan = runtime::planProgram(spec_);
  const size_t nt = spec_.tensors.size();
  totalParams_ = plan.totalParams;
  paramOffsets_ = std::move(plan.paramOffsets);
  consumers_ = std::move(plan.consumers);
  vocab_ = plan.vocab;
  minLength_ = plan.minLength;
  gap_ = plan.gap;
  classes_ = plan.classes;
  if (plan.sequenceSteps > static_cast<size_t>(INT32_MAX)) fail("maxBatch x (maxLength + padding) exceeds 2^31 packed steps");
  checkDeviceBudget(16.0L * static_cast<long double>(totalParams_) + 8.0L * plan.activationFloatsExact,
                    "the program (parameters, moments, activations and their gradients for the largest batch)");
  const std::vector<size_t>& sizes = plan.sizes;
  const std::vector<size_t>& offsets = plan.offsets;
  const std::vector<int32_t>& viewOf = plan.viewOf;
  const std::vector<size_t>& viewColumn = plan.viewColumn;
  const size_t act = plan.activationFloats;

  params_ = toDevice<float>(nullptr, totalParams_);
  grads_ = toDevice<float>(nullptr, totalParams_);
  m_ = toDevice<float>(nullptr, totalParams_);
  v_ = toDevice<float>(nullptr, totalParams_);
  activations_ = toDevice<float>(nullptr, act);
  activationGrads_ = toDevice<float>(nullptr, act);
  lossGrad_ = toDevice<float>(nullptr, spec_.maxBatch * classes_);
  if (!spec_.classWeights.empty()) classWeights_ = toDevice(spec_.classWeights.data(), classes_);
  paramSteps_.assign(spec_.params.size(), 0);

  buffers_.assign(nt, Buffer{});
  for (size_t t = 1; t < nt; ++t) {
    Buffer& b = buffers_[t];
    const size_t owner = viewOf[t] >= 0 ? static_cast<size_t>(viewOf[t]) : t;
    b.data = activations_.get() + offsets[owner];
    b.grad = activationGrads_.get() + offsets[owner];
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
  masks_ = toDevice<uint8_t>(nullptr, masks);
  argmax_ = toDevice<int32_t>(nullptr, argmax);

  // The per-batch int uploads, at fixed offsets.
  const size_t tokens = spec_.maxBatch * spec_.maxLength;
  const size_t maxRuns = std::min(tokens, vocab_);
  packedAt_ = 0;
  rowStartAt_ = packedAt_ + plan.sequenceSteps;
  validAt_ = rowStartAt_ + spec_.maxBatch;
  labelsAt_ = validAt_ + nt * spec_.maxBatch;
  embRowsAt_ = labelsAt_ + spec_.maxBatch;
  runIdAt_ = embRowsAt_ + tokens;
  runStartAt_ = runIdAt_ + maxRuns;
  orderAt_ = runStartAt_ + maxRuns + 1;
  const size_t intCount = orderAt_ + tokens;
  ints_ = toDevice<int32_t>(nullptr, intCount);
  staging_.assign(intCount, 0);
  rowStart_.assign(spec_.maxBatch, 0);

  size_t partials = 0;
  for (const ParamSpec& p : spec_.params) partials += static_cast<size_t>(sumOfSquaresBlocks(p.size));
  normPartials_ = toDevice<double>(nullptr, partials > 0 ? partials : 1);
  norm_ = toDevice<double>(nullptr, 1);
  totals_ = toDevice<CrossEntropyTotals>(nullptr, 1);
  deviceBytes_ = sizeof(float) * (4 * totalParams_ + 2 * act + lossGrad_.size()) + masks + sizeof(int32_t) * (argmax + intCount);
  updateGradientFlags();
}

void CudaProgram::updateGradientFlags() {
  for (Buffer& b : buffers_) b.needsGrad = false;
  for (const OpSpec& op : spec_.ops) {
    bool ng = false;
    for (int32_t i : op.inputs) ng = ng || buffers_[static_cast<size_t>(i)].needsGrad;
    for (int32_t p : op.params) ng = ng || trainable(p);
    buffers_[static_cast<size_t>(op.output)].needsGrad = ng;
  }
  for (const OpSpec& op : spec_.ops) {
    if (op.type != OpType::Concat) continue;
    bool any = buffers_[static_cast<size_t>(op.output)].needsGrad;
    for (int32_t i : op.inputs) any = any || buffers_[static_cast<size_t>(i)].needsGrad;
    buffers_[static_cast<size_t>(op.output)].needsGrad = any;
  }
}

void CudaProgram::setFrozen(size_t param, bool frozen) {
  if (param >= spec_.params.size()) fail("no parameter " + std::to_string(param));
  spec_.params[param].frozen = frozen;
  updateGradientFlags();
}

void CudaProgram::validateBatch(const BatchView& b, bool needLabels) const {
  if (b.batch == 0 || b.batch > spec_.maxBatch) {
    fail("batch of " + std::to_string(b.batch) + " rows; this program takes 1 to " + std::to_string(spec_.maxBatch));
  }
  if (b.length < minLength_ || b.length > spec_.maxLength) {
    fail("padded length " + std::to_string(b.length) + " outside [" + std::to_string(minLength_) + ", " +
         std::to_string(spec_.maxLength) + "]: pad to at least the widest filter");
  }
  for (size_t i = 0; i < b.batch * b.length; ++i) {
    if (b.ids[i] < 0 || static_cast<size_t>(b.ids[i]) >= vocab_) {
      fail("ids[" + std::to_string(i) + "] = " + std::to_string(b.ids[i]) + " is outside the vocabulary [0, " +
           std::to_string(vocab_) + ")");
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

void CudaProgram::validateStepConfig(const StepConfig& cfg) const {
  if (cfg.groups.size() != spec_.groups) fail("expected hyperparameters for " + std::to_string(spec_.groups) + " groups");
  if (cfg.sparseEmbedding) {
    if (cfg.optimizer != OptimizerKind::Adam) fail("sparse embedding updates follow SparseAdam: use optimizer adam");
    const ParamSpec& emb = spec_.params[static_cast<size_t>(spec_.ops.front().params[0])];
    if (cfg.groups[static_cast<size_t>(emb.group)].weightDecay != 0.0) {
      fail("sparse embedding updates (SparseAdam) take no weight decay on the embedding");
    }
  }
}

void CudaProgram::computeValidSteps(const BatchView& b) {
  std::vector<int32_t>& ids = buffers_[0].validSteps;
  size_t at = 0;
  for (size_t r = 0; r < b.batch; ++r) {
    const size_t len = b.lengths ? static_cast<size_t>(b.lengths[r]) : b.length;
    ids[r] = static_cast<int32_t>(std::min(b.length, std::max(len, minLength_)));
    rowStart_[r] = static_cast<int32_t>(at);
    at += static_cast<size_t>(ids[r]) + gap_;
  }
  buffers_[0].steps = at;
  for (const OpSpec& op : spec_.ops) {
    Buffer& in = buffers_[static_cast<size_t>(op.inputs[0])];
    Buffer& out = buffers_[static_cast<size_t>(op.output)];
    if (spec_.tensors[static_cast<size_t>(op.output)].kind != TensorKind::Sequence) continue;
    if (op.type == OpType::Conv1d) {
      const long extra = static_cast<long>(op.padLeft + op.padRight) - static_cast<long>(op.width) + 1;
      out.steps = static_cast<size_t>(static_cast<long>(in.steps) + extra);
      for (size_t r = 0; r < b.batch; ++r) {
        const long v = static_cast<long>(in.validSteps[r]) + extra;
        out.validSteps[r] = static_cast<int32_t>(std::max(v, 1L));
      }
    } else {
      out.steps = in.steps;
      std::copy(in.validSteps.begin(), in.validSteps.begin() + static_cast<long>(b.batch), out.validSteps.begin());
    }
  }
}

// Everything the batch needs on the device, in one copy.
void CudaProgram::upload(const BatchView& b, bool training) {
  computeValidSteps(b);
  const size_t steps = buffers_[0].steps;
  const std::vector<int32_t>& valid = buffers_[0].validSteps;
  std::fill(staging_.begin() + static_cast<long>(packedAt_), staging_.begin() + static_cast<long>(packedAt_ + steps), -1);
  tokens_.clear();
  for (size_t r = 0; r < b.batch; ++r) {
    for (size_t t = 0; t < static_cast<size_t>(valid[r]); ++t) {
      const int32_t id = b.ids[r * b.length + t];
      const int32_t at = rowStart_[r] + static_cast<int32_t>(t);
      staging_[packedAt_ + static_cast<size_t>(at)] = id;
      staging_[embRowsAt_ + tokens_.size()] = at;
      tokens_.push_back(id);
    }
    staging_[rowStartAt_ + r] = rowStart_[r];
  }
  for (size_t t = 0; t < buffers_.size(); ++t) {
    if (t > 0 && spec_.tensors[t].kind != TensorKind::Sequence) continue;
    std::copy(buffers_[t].validSteps.begin(), buffers_[t].validSteps.begin() + static_cast<long>(b.batch),
              staging_.begin() + static_cast<long>(validAt_ + t * spec_.maxBatch));
  }
  if (b.labels) std::copy(b.labels, b.labels + b.batch, staging_.begin() + static_cast<long>(labelsAt_));
  size_t count = labelsAt_ + spec_.maxBatch;
  runs_ = 0;
  if (training) {
    // Tokens grouped by id, in packed (row by row, step by step) order: the
    // order the CPU's per-row embeddingBackward calls add them in.
    groups_.build(tokens_.data(), tokens_.size(), vocab_, spec_.ops.front().paddingIdx);
    runs_ = groups_.runs();
    std::copy(groups_.runId.begin(), groups_.runId.end(), staging_.begin() + static_cast<long>(runIdAt_));
    std::copy(groups_.runStart.begin(), groups_.runStart.end(), staging_.begin() + static_cast<long>(runStartAt_));
    std::copy(groups_.order.begin(), groups_.order.end(), staging_.begin() + static_cast<long>(orderAt_));
    count = orderAt_ + groups_.order.size();
  }
  ints_.upload(staging_.data(), count);
}

void CudaProgram::forward(const BatchView& b, bool training) {
  upload(b, training);
  const size_t B = b.batch;
  const int32_t* rowStart = ints_.get() + rowStartAt_;
  for (size_t o = 0; o < spec_.ops.size(); ++o) {
    const OpSpec& op = spec_.ops[o];
    Buffer& in = buffers_[static_cast<size_t>(op.inputs[0])];
    Buffer& out = buffers_[static_cast<size_t>(op.output)];
    const TensorSpec& it = spec_.tensors[static_cast<size_t>(op.inputs[0])];
    const TensorSpec& ot = spec_.tensors[static_cast<size_t>(op.output)];
    const size_t n = (ot.kind == TensorKind::Sequence ? out.steps : B) * ot.channels;
    switch (op.type) {
      case OpType::Embedding:
        embeddingForwardPacked(ints_.get() + packedAt_, out.steps, param(op.params[0]), ot.channels, out.data, kStream);
        break;
      case OpType::Conv1d: {
        Conv1dShape s{1, in.steps, it.channels, ot.channels, op.width, op.padLeft, op.padRight};
        conv1dForward(s, in.data, param(op.params[0]), op.params.size() > 1 ? param(op.params[1]) : nullptr, out.data,
                      kStream);
        break;
      }
      case OpType::Activation:
        activationForward(op.activation, op.slope, in.data, out.data, n, kStream);
        break;
      case OpType::MaxOverTime:
        maxOverTimeForwardPacked(in.data, rowStart, validDev(op.inputs[0]), B, it.channels, out.data, out.stride,
                                 out.offset, argmax_.get() + argmaxOffsets_[o], kStream);
        break;
      case OpType::MeanOverTime:
        meanOverTimeForwardPacked(in.data, rowStart, validDev(op.inputs[0]), B, it.channels, out.data, out.stride,
                                  out.offset, kStream);
        break;
      case OpType::Concat:
        break;
      case OpType::Dropout:
        if (training && op.dropout > 0.0) {
          dropoutForward(in.data, out.data, masks_.get() + maskOffsets_[o], n, op.dropout, seed_, counter_, kStream);
          counter_ += n;
        } else if (n) {
          FT_CUDA_CHECK(cudaMemcpyAsync(out.data, in.data, n * sizeof(float), cudaMemcpyDeviceToDevice, kStream));
        }
        break;
      case OpType::Linear:
        linearForward(in.data, param(op.params[0]), op.params.size() > 1 ? param(op.params[1]) : nullptr, out.data, B,
                      it.channels, ot.channels, kStream);
        break;
    }
  }
}

void CudaProgram::backward(const BatchView& b) {
  const size_t B = b.batch;
  const int32_t* rowStart = ints_.get() + rowStartAt_;
  for (size_t t = 1; t < buffers_.size(); ++t) {
    Buffer& buf = buffers_[t];
    if (!buf.needsGrad || buf.offset != 0) continue;
    const size_t n = (spec_.tensors[t].kind == TensorKind::Sequence ? buf.steps : B) * buf.stride;
    if (n) FT_CUDA_CHECK(cudaMemsetAsync(buf.grad, 0, n * sizeof(float), kStream));
  }
  const Buffer& logits = buffers_[static_cast<size_t>(spec_.ops.back().output)];
  FT_CUDA_CHECK(cudaMemcpyAsync(logits.grad, lossGrad_.get(), B * classes_ * sizeof(float), cudaMemcpyDeviceToDevice,
                                kStream));

  for (size_t k = spec_.ops.size(); k-- > 0;) {
    const OpSpec& op = spec_.ops[k];
    Buffer& in = buffers_[static_cast<size_t>(op.inputs[0])];
    Buffer& out = buffers_[static_cast<size_t>(op.output)];
    if (!out.needsGrad) continue;
    const TensorSpec& it = spec_.tensors[static_cast<size_t>(op.inputs[0])];
    const TensorSpec& ot = spec_.tensors[static_cast<size_t>(op.output)];
    const size_t n = (ot.kind == TensorKind::Sequence ? out.steps : B) * ot.channels;
    switch (op.type) {
      case OpType::Embedding:
        // In packed order, i.e. row by row and step by step, as the CPU's per-row calls.
        if (trainable(op.params[0])) {
          embeddingBackwardGrouped(ints_.get() + runIdAt_, ints_.get() + runStartAt_, runs_, ints_.get() + orderAt_,
                                   ints_.get() + embRowsAt_, out.grad, ot.channels, grad(op.params[0]), kStream);
        }
        break;
      case OpType::Conv1d: {
        Conv1dShape s{1, in.steps, it.channels, ot.channels, op.width, op.padLeft, op.padRight};
        if (trainable(op.params[0])) conv1dBackwardWeight(s, in.data, out.grad, grad(op.params[0]), ws_, kStream);
        if (op.params.size() > 1 && trainable(op.params[1])) conv1dBackwardBias(s, out.grad, grad(op.params[1]), ws_, kStream);
        if (in.needsGrad) conv1dBackwardInput(s, out.grad, param(op.params[0]), in.grad, ws_, kStream);
        break;
      }
      case OpType::Activation:
        if (in.needsGrad) activationBackward(op.activation, op.slope, in.data, out.data, out.grad, in.grad, n, kStream);
        break;
      case OpType::MaxOverTime:
        if (in.needsGrad) {
          maxOverTimeBackwardPacked(out.grad, out.stride, out.offset, argmax_.get() + argmaxOffsets_[k], rowStart,
                                    validDev(op.inputs[0]), B, it.channels, in.grad, kStream);
        }
        break;
      case OpType::MeanOverTime:
        if (in.needsGrad) {
          meanOverTimeBackwardPacked(out.grad, out.stride, out.offset, rowStart, validDev(op.inputs[0]), B, it.channels,
                                     in.grad, kStream);
        }
        break;
      case OpType::Concat:
        break;
      case OpType::Dropout:
        if (in.needsGrad) {
          if (op.dropout > 0.0) {
            dropoutBackward(out.grad, masks_.get() + maskOffsets_[k], in.grad, n, op.dropout, kStream);
          } else if (n) {
            FT_CUDA_CHECK(cudaMemcpyAsync(in.grad, out.grad, n * sizeof(float), cudaMemcpyDeviceToDevice, kStream));
          }
        }
        break;
      case OpType::Linear:
        if (trainable(op.params[0])) {
          linearBackwardWeight(in.data, out.grad, grad(op.params[0]), B, it.channels, ot.channels, ws_, kStream);
        }
        if (op.params.size() > 1 && trainable(op.params[1])) {
          linearBackwardBias(out.grad, grad(op.params[1]), B, ot.channels, ws_, kStream);
        }
        if (in.needsGrad) linearBackwardInput(out.grad, param(op.params[0]), in.grad, B, it.channels, ot.channels, kStream);
        break;
    }
  }
}

StepResult CudaProgram::trainStep(const BatchView& b, const StepConfig& cfg) {
  validateStepConfig(cfg);
  StepResult result;
  forward(b, true);
  const float* logits = buffers_[static_cast<size_t>(spec_.ops.back().output)].data;
  softmaxCrossEntropy(logits, ints_.get() + labelsAt_, b.batch, classes_, classWeights_.get(),
                      static_cast<float>(spec_.labelSmoothing), lossGrad_.get(), totals_.get(), ws_, kStream);
  // All gradients from zero (the CPU zeroes only the embedding rows the last
  // batch touched: the same values, since the others are zero already).
  FT_CUDA_CHECK(cudaMemsetAsync(grads_.get(), 0, totalParams_ * sizeof(float), kStream));
  backward(b);

  // Sum of squares over the trainable gradients, in parameter order.
  size_t at = 0;
  for (size_t p = 0; p < spec_.params.size(); ++p) {
    if (!trainable(static_cast<int32_t>(p))) continue;
    sumOfSquaresPartials(grads_.get() + paramOffsets_[p], spec_.params[p].size, normPartials_.get() + at, kStream);
    at += static_cast<size_t>(sumOfSquaresBlocks(spec_.params[p].size));
  }
  if (at > 0) {
    sumPartials(normPartials_.get(), at, norm_.get(), kStream);
  } else {
    FT_CUDA_CHECK(cudaMemsetAsync(norm_.get(), 0, sizeof(double), kStream));
  }
  // The step's one synchronisation: loss, correct count and the norm come down.
  CrossEntropyTotals totals{};
  double sumSquares = 0.0;
  totals_.download(&totals, 1);
  norm_.download(&sumSquares, 1);
  result.loss = totals.loss;
  result.correct = static_cast<size_t>(totals.correct);
  if (!std::isfinite(totals.loss)) {
    result.skipped = true;
    return result;
  }
  result.gradNorm = std::sqrt(sumSquares);
  if (!std::isfinite(result.gradNorm)) {
    result.skipped = true;
    return result;
  }
  if (cfg.maxGradNorm > 0.0) {
    const double coef = cfg.maxGradNorm / (result.gradNorm + 1e-6);
    if (coef < 1.0) {
      const float f = static_cast<float>(coef);
      for (size_t p = 0; p < spec_.params.size(); ++p) {
        if (trainable(static_cast<int32_t>(p))) scale(grads_.get() + paramOffsets_[p], spec_.params[p].size, f, kStream);
      }
    }
  }
  ++steps_;
  const OpSpec& embOp = spec_.ops.front();
  const size_t embParam = static_cast<size_t>(embOp.params[0]);
  const size_t dim = spec_.tensors[static_cast<size_t>(embOp.output)].channels;
  const bool sparse = cfg.sparseEmbedding && trainable(static_cast<int32_t>(embParam));
  for (size_t p = 0; p < spec_.params.size(); ++p) {
    if (!trainable(static_cast<int32_t>(p))) continue;
    const GroupHyper& h = cfg.groups[static_cast<size_t>(spec_.params[p].group)];
    const size_t off = paramOffsets_[p], n = spec_.params[p].size;
    const int64_t t = ++paramSteps_[p];
    float* w = params_.get() + off;
    float* g = grads_.get() + off;
    if (sparse && p == embParam) {
      AdamConfig a{h.lr, cfg.beta1, cfg.beta2, cfg.eps, 0.0, false};
      // The rows the batch touched: the embedding groups' distinct ids (padding excluded).
      sparseAdamRows(a, t, w, g, m_.get() + off, v_.get() + off, dim, ints_.get() + runIdAt_, runs_, kStream);
    } else if (cfg.optimizer == OptimizerKind::Adadelta) {
      AdadeltaConfig a{h.lr, cfg.rho, cfg.eps, h.weightDecay};
      adadeltaUpdate(a, w, g, m_.get() + off, v_.get() + off, n, kStream);
    } else if (cfg.optimizer == OptimizerKind::Sgd) {
      SgdConfig s{h.lr, cfg.momentum, cfg.dampening, h.weightDecay, cfg.nesterov};
      sgdUpdate(s, t == 1, w, g, m_.get() + off, n, kStream);
    } else {
      AdamConfig a{h.lr, cfg.beta1, cfg.beta2, cfg.eps, h.weightDecay, cfg.optimizer == OptimizerKind::AdamW};
      adamUpdate(a, t, w, g, m_.get() + off, v_.get() + off, n, kStream);
    }
  }
  if (cfg.maxNorm > 0.0) {
    for (const OpSpec& op : spec_.ops) {
      if (op.type != OpType::Linear || !trainable(op.params[0])) continue;
      const size_t rows = spec_.tensors[static_cast<size_t>(op.output)].channels;
      const size_t cols = spec_.params[static_cast<size_t>(op.params[0])].size / rows;
      maxNormRows(param(op.params[0]), rows, cols, cfg.maxNorm, kStream);
    }
  }
  // Surface an execution error of the update here rather than at the next call.
  FT_CUDA_CHECK(cudaStreamSynchronize(kStream));
  return result;
}

void CudaProgram::predict(const BatchView& b, float* logits) {
  forward(b, false);
  FT_CUDA_CHECK(cudaMemcpy(logits, buffers_[static_cast<size_t>(spec_.ops.back().output)].data,
                           b.batch * classes_ * sizeof(float), cudaMemcpyDeviceToHost));
}

StepResult CudaProgram::evaluate(const BatchView& b, float* logits) {
  forward(b, false);
  const float* out = buffers_[static_cast<size_t>(spec_.ops.back().output)].data;
  softmaxCrossEntropy(out, ints_.get() + labelsAt_, b.batch, classes_, classWeights_.get(),
                      static_cast<float>(spec_.labelSmoothing), nullptr, totals_.get(), ws_, kStream);
  if (logits) FT_CUDA_CHECK(cudaMemcpy(logits, out, b.batch * classes_ * sizeof(float), cudaMemcpyDeviceToHost));
  CrossEntropyTotals totals{};
  totals_.download(&totals, 1);
  StepResult r;
  r.loss = totals.loss;
  r.correct = static_cast<size_t>(totals.correct);
  return r;
}

void CudaProgram::getParam(size_t i, float* out) const {
  FT_CUDA_CHECK(cudaMemcpy(out, params_.get() + paramOffsets_[i], spec_.params[i].size * sizeof(float),
                           cudaMemcpyDeviceToHost));
}

void CudaProgram::setParam(size_t i, const float* values) {
  FT_CUDA_CHECK(cudaMemcpy(params_.get() + paramOffsets_[i], values, spec_.params[i].size * sizeof(float),
                           cudaMemcpyHostToDevice));
}

void CudaProgram::getMoments(float* m, float* v) const {
  m_.download(m, totalParams_);
  v_.download(v, totalParams_);
}

void CudaProgram::setMoments(const float* m, const float* v) {
  m_.upload(m, totalParams_);
  v_.upload(v, totalParams_);
}

}  // namespace ft::cuda
