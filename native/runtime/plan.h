#pragma once
// The checks and the memory plan of a program spec, shared by the CPU Program
// (runtime/program.h) and the CUDA one (cuda/program.h): both refuse the same
// graphs with the same messages and lay their buffers out the same way.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/spec.h"

namespace ft::runtime {

struct ProgramPlan {
  size_t classes = 0;
  size_t minLength = 1;  // shortest padded length every filter accepts
  size_t vocab = 0;
  // Zero steps between packed rows: the largest one-sided padding, or how far
  // a padded convolution's output row outgrows its input.
  size_t gap = 0;
  size_t totalParams = 0;
  std::vector<size_t> paramOffsets;
  std::vector<std::vector<int32_t>> consumers;  // per tensor, the ops reading it
  // Activation storage for the largest batch, in floats: sizes per tensor and
  // offsets of the buffers tensors own; a pooling output feeding a concat is
  // column viewColumn of the concat's buffer (viewOf), -1 when it owns one.
  size_t sequenceSteps = 0;  // packed steps of a sequence tensor
  std::vector<size_t> sizes, offsets, viewColumn;
  std::vector<int32_t> viewOf;
  size_t activationFloats = 0;
  // The same total in long double: size_t products wrap for absurd specs, so
  // memory budgets are checked on this before anything is allocated.
  long double activationFloatsExact = 0.0L;
};

// Checks a spec op by op; throws std::invalid_argument naming the op and the problem.
ProgramPlan planProgram(const ProgramSpec& spec);

std::string opName(OpType t);

}  // namespace ft::runtime
