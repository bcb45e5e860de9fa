#pragma once
// The option fields of the kernel bindings that both backends take (a conv
// shape, an optimizer's settings), read once so the CPU addon and the CUDA
// module accept and refuse the same objects.
#include <cstddef>

#include "addon/args.h"
#include "cpu/conv1d.h"
#include "cpu/optimizer.h"

namespace ft::addon {

// batch, length, inChannels, outChannels, width, padLeft, padRight; checks
// that the sizes of x, y and weight stay countable.
cpu::Conv1dShape parseConvShape(Args& a);
inline size_t convXSize(const cpu::Conv1dShape& s) { return s.batch * s.length * s.inChannels; }
inline size_t convYSize(const cpu::Conv1dShape& s) { return s.batch * s.outLength() * s.outChannels; }
inline size_t convWSize(const cpu::Conv1dShape& s) { return s.outChannels * s.width * s.inChannels; }

// torch.optim's defaults for what is absent.
cpu::AdamConfig parseAdamConfig(Args& a);
cpu::SgdConfig parseSgdConfig(Args& a);  // refuses nesterov without momentum, as torch
cpu::AdadeltaConfig parseAdadeltaConfig(Args& a);

}  // namespace ft::addon
