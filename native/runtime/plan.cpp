#include "runtime/plan.h"

#include <algorithm>
#include <stdexcept>

#include "cpu/conv1d.h"

namespace ft::runtime {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

// Ops whose backward writes (rather than adds to) the input gradient: their
// input must have no other consumer.
bool backwardWritesInput(OpType t) {
  return t == OpType::Activation || t == OpType::MaxOverTime || t == OpType::MeanOverTime || t == OpType::Dropout;
}

}  // namespace

std::string opName(OpType t) {
  switch (t) {
    case OpType::Embedding: return "embedding";
    case OpType::Conv1d: return "conv1d";
    case OpType::Activation: return "activation";
    case OpType::MaxOverTime: return "maxOverTime";
    case OpType::MeanOverTime: return "meanOverTime";
    case OpType::Concat: return "concat";
    case OpType::Dropout: return "dropout";
    case OpType::Linear: return "linear";
  }
  return "unknown";
}

ProgramPlan planProgram(const ProgramSpec& spec) {
  ProgramPlan plan;
  const size_t nt = spec.tensors.size();
  if (spec.maxBatch == 0 || spec.maxLength == 0) fail("maxBatch and maxLength must be positive");
  if (nt < 2 || spec.tensors[0].kind != TensorKind::Ids) fail("tensor 0 must be the token ids");
  if (spec.ops.empty() || spec.ops.front().type != OpType::Embedding) fail("the graph must start with an embedding");

  // Parameters: one flat array, each parameter at an offset.
  for (const ParamSpec& p : spec.params) {
    if (p.group < 0 || static_cast<size_t>(p.group) >= spec.groups) fail("parameter " + p.name + " has no group");
    plan.paramOffsets.push_back(plan.totalParams);
    plan.totalParams += p.size;
  }

  // Producers and consumers; shapes checked op by op.
  std::vector<int32_t> producer(nt, -1);
  plan.consumers.assign(nt, {});
  // Per sequence tensor: whether the steps between packed rows hold zeros,
  // and how far past its input length a row extends (padded convolutions).
  std::vector<uint8_t> zeroGaps(nt, 0);
  std::vector<long> reach(nt, 0);
  auto tensor = [&](int32_t i, size_t opIndex) -> const TensorSpec& {
    if (i < 0 || static_cast<size_t>(i) >= nt) fail("op " + std::to_string(opIndex) + " refers to tensor " + std::to_string(i));
    return spec.tensors[static_cast<size_t>(i)];
  };
  auto paramSize = [&](const OpSpec& op, size_t k) -> size_t {
    if (k >= op.params.size()) fail(opName(op.type) + " is missing a parameter");
    int32_t idx = op.params[k];
    if (idx < 0 || static_cast<size_t>(idx) >= spec.params.size()) fail(opName(op.type) + " refers to a missing parameter");
    return spec.params[static_cast<size_t>(idx)].size;
  };
  for (size_t o = 0; o < spec.ops.size(); ++o) {
    const OpSpec& op = spec.ops[o];
    const std::string where = "op " + std::to_string(o) + " (" + opName(op.type) + ")";
    const TensorSpec& out = tensor(op.output, o);
    if (producer[static_cast<size_t>(op.output)] >= 0 || op.output == 0) fail(where + ": its output tensor is produced twice");
    if (op.inputs.empty()) fail(where + ": no input");
    for (int32_t in : op.inputs) {
      tensor(in, o);
      if (in != 0 && producer[static_cast<size_t>(in)] < 0) fail(where + ": input tensor " + std::to_string(in) + " is not produced before it");
      plan.consumers[static_cast<size_t>(in)].push_back(static_cast<int32_t>(o));
    }
    const TensorSpec& in = spec.tensors[static_cast<size_t>(op.inputs[0])];
    switch (op.type) {
      case OpType::Embedding:
        if (in.kind != TensorKind::Ids || out.kind != TensorKind::Sequence) fail(where + ": expects ids in, a sequence out");
        if (out.channels == 0 || paramSize(op, 0) % out.channels != 0) fail(where + ": weight size is not a multiple of the dimension");
        if (op.paddingIdx >= static_cast<int64_t>(paramSize(op, 0) / out.channels)) fail(where + ": padding index outside the vocabulary");
        if (o != 0) fail(where + ": the embedding must be the first op");
        zeroGaps[static_cast<size_t>(op.output)] = true;
        plan.vocab = paramSize(op, 0) / out.channels;
        break;
      case OpType::Conv1d:
        if (in.kind != TensorKind::Sequence || out.kind != TensorKind::Sequence) fail(where + ": expects a sequence in and out");
        if (op.width == 0 || op.padLeft > cpu::kMaxConvPadding || op.padRight > cpu::kMaxConvPadding) {
          fail(where + ": padding must be at most " + std::to_string(cpu::kMaxConvPadding) + " on each side");
        }
        if (paramSize(op, 0) != out.channels * op.width * in.channels) fail(where + ": weight size does not match [out, width, in]");
        if (op.params.size() > 1 && paramSize(op, 1) != out.channels) fail(where + ": bias size does not match");
        if (op.width > op.padLeft + op.padRight) plan.minLength = std::max(plan.minLength, op.width - op.padLeft - op.padRight);
        // Padding comes from the zero steps between packed rows, so only a
        // tensor whose gaps are still zero may be read with padding.
        if ((op.padLeft || op.padRight) && !zeroGaps[static_cast<size_t>(op.inputs[0])]) {
          fail(where + ": a padded convolution must read the embedding (directly or through dropout), whose steps between texts are zero");
        }
        {
          // Zero steps between packed rows: enough for each side's padding,
          // and for a row's output, longer than its input by
          // padLeft + padRight - width + 1, to end before the next row starts.
          const long grown = reach[static_cast<size_t>(op.inputs[0])] + static_cast<long>(op.padLeft + op.padRight) -
                             static_cast<long>(op.width) + 1;
          reach[static_cast<size_t>(op.output)] = std::max(grown, 0L);
          plan.gap = std::max({plan.gap, op.padLeft, op.padRight, static_cast<size_t>(std::max(grown, 0L))});
        }
        break;
      case OpType::Activation:
      case OpType::Dropout:
        if (in.kind != out.kind || in.channels != out.channels) fail(where + ": output shape must equal input shape");
        reach[static_cast<size_t>(op.output)] = reach[static_cast<size_t>(op.inputs[0])];
        // Dropout keeps zeros zero; an activation may not (sigmoid(0) = 0.5).
        zeroGaps[static_cast<size_t>(op.output)] = op.type == OpType::Dropout && zeroGaps[static_cast<size_t>(op.inputs[0])];
        if (op.type == OpType::Dropout && !(op.dropout >= 0.0 && op.dropout < 1.0)) fail(where + ": dropout must be in [0, 1)");
        break;
      case OpType::MaxOverTime:
      case OpType::MeanOverTime:
        if (in.kind != TensorKind::Sequence || out.kind != TensorKind::Vector || in.channels != out.channels) {
          fail(where + ": expects a sequence in and a vector of the same channels out");
        }
        break;
      case OpType::Concat: {
        size_t sum = 0;
        for (int32_t i : op.inputs) {
          const TensorSpec& t = spec.tensors[static_cast<size_t>(i)];
          const int32_t p = producer[static_cast<size_t>(i)];
          if (p < 0) fail(where + ": concat inputs must be pooling outputs (they are written in place)");
          const OpType pt = spec.ops[static_cast<size_t>(p)].type;
          if (t.kind != TensorKind::Vector || (pt != OpType::MaxOverTime && pt != OpType::MeanOverTime)) {
            fail(where + ": concat inputs must be pooling outputs (they are written in place)");
          }
          sum += t.channels;
        }
        if (out.kind != TensorKind::Vector || out.channels != sum) fail(where + ": output channels must be the sum of the inputs'");
        break;
      }
      case OpType::Linear:
        if (in.kind != TensorKind::Vector || out.kind != TensorKind::Vector) fail(where + ": expects vectors in and out");
        if (paramSize(op, 0) != out.channels * in.channels) fail(where + ": weight size does not match [out, in]");
        if (op.params.size() > 1 && paramSize(op, 1) != out.channels) fail(where + ": bias size does not match");
        break;
    }
    if (op.type != OpType::Concat && op.inputs.size() != 1) fail(where + ": expects one input");
    producer[static_cast<size_t>(op.output)] = static_cast<int32_t>(o);
  }
  for (size_t o = 0; o < spec.ops.size(); ++o) {
    const OpSpec& op = spec.ops[o];
    if (backwardWritesInput(op.type) && plan.consumers[static_cast<size_t>(op.inputs[0])].size() > 1) {
      fail("op " + std::to_string(o) + " (" + opName(op.type) + "): its input feeds several ops; only conv1d, linear and concat inputs may be shared");
    }
    if (op.type == OpType::Concat) {
      for (int32_t i : op.inputs) {
        if (plan.consumers[static_cast<size_t>(i)].size() != 1) fail("a pooling output that feeds a concat must feed nothing else");
      }
    }
  }
  const TensorSpec& last = spec.tensors[static_cast<size_t>(spec.ops.back().output)];
  if (last.kind != TensorKind::Vector || last.channels < 1) fail("the last op must produce class logits [batch, classes]");
  plan.classes = last.channels;
  if (!spec.classWeights.empty() && spec.classWeights.size() != plan.classes) fail("classWeights must have one entry per class");

  // Activation buffers, sized for the largest batch: a sequence holds
  // maxBatch rows of maxLength + gap steps, plus gap (its last row may run
  // past the packed input by up to gap steps). Concat outputs own their
  // buffer; the pooling outputs feeding them are column views into it.
  plan.sequenceSteps = spec.maxBatch * (spec.maxLength + plan.gap) + plan.gap;
  plan.sizes.assign(nt, 0);
  plan.offsets.assign(nt, 0);
  plan.viewOf.assign(nt, -1);
  plan.viewColumn.assign(nt, 0);
  for (size_t t = 1; t < nt; ++t) {
    const TensorSpec& ts = spec.tensors[t];
    const long double rows = ts.kind == TensorKind::Sequence ? static_cast<long double>(spec.maxBatch) * (spec.maxLength + plan.gap) + plan.gap
                                                             : spec.maxBatch;
    plan.activationFloatsExact += rows * static_cast<long double>(ts.channels);
    plan.sizes[t] = (ts.kind == TensorKind::Sequence ? plan.sequenceSteps : spec.maxBatch) * ts.channels;
  }
  for (const OpSpec& op : spec.ops) {
    if (op.type != OpType::Concat) continue;
    size_t col = 0;
    for (int32_t i : op.inputs) {
      plan.viewOf[static_cast<size_t>(i)] = op.output;
      plan.viewColumn[static_cast<size_t>(i)] = col;
      col += spec.tensors[static_cast<size_t>(i)].channels;
    }
  }
  for (size_t t = 1; t < nt; ++t) {
    if (plan.viewOf[t] >= 0) continue;
    plan.offsets[t] = plan.activationFloats;
    plan.activationFloats += plan.sizes[t];
  }
  return plan;
}

}  // namespace ft::runtime
