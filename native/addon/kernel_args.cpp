#include "addon/kernel_args.h"

#include <limits>
#include <string>

namespace ft::addon {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

cpu::Conv1dShape parseConvShape(Args& a) {
  cpu::Conv1dShape s{};
  s.batch = a.size("batch", 0);
  s.length = a.size("length", 0);
  s.inChannels = a.size("inChannels", 1);
  s.outChannels = a.size("outChannels", 1);
  s.width = a.size("width", 1);
  s.padLeft = a.sizeOr("padLeft", 0, 0, cpu::kMaxConvPadding);
  s.padRight = a.sizeOr("padRight", 0, 0, cpu::kMaxConvPadding);
  if (s.length + s.padLeft + s.padRight < s.width) {
    a.rangeError("length + padLeft + padRight (" + std::to_string(s.length + s.padLeft + s.padRight) +
                 ") must be at least the kernel width " + std::to_string(s.width) +
                 "; pad short texts to the widest filter");
  }
  a.product("x", {s.batch, s.length, s.inChannels});
  a.product("y", {s.batch, s.outLength(), s.outChannels});
  a.product("weight", {s.outChannels, s.width, s.inChannels});
  return s;
}

cpu::AdamConfig parseAdamConfig(Args& a) {
  cpu::AdamConfig cfg{};
  cfg.lr = a.number("lr", 0.0, kInf);
  cfg.beta1 = a.numberOr("beta1", 0.9, 0.0, 1.0 - 1e-12);
  cfg.beta2 = a.numberOr("beta2", 0.999, 0.0, 1.0 - 1e-12);
  cfg.eps = a.numberOr("eps", 1e-8, 0.0, kInf);
  cfg.weightDecay = a.numberOr("weightDecay", 0.0, 0.0, kInf);
  cfg.decoupled = a.flag("decoupled", false);
  return cfg;
}

cpu::SgdConfig parseSgdConfig(Args& a) {
  cpu::SgdConfig cfg{};
  cfg.lr = a.number("lr", 0.0, kInf);
  cfg.momentum = a.numberOr("momentum", 0.0, 0.0, kInf);
  cfg.dampening = a.numberOr("dampening", 0.0, 0.0, 1.0);
  cfg.weightDecay = a.numberOr("weightDecay", 0.0, 0.0, kInf);
  cfg.nesterov = a.flag("nesterov", false);
  if (cfg.nesterov && (cfg.momentum <= 0.0 || cfg.dampening != 0.0)) {
    a.rangeError("nesterov needs momentum > 0 and dampening 0 (as torch.optim.SGD)");
  }
  return cfg;
}

cpu::AdadeltaConfig parseAdadeltaConfig(Args& a) {
  cpu::AdadeltaConfig cfg{};
  cfg.lr = a.numberOr("lr", 1.0, 0.0, kInf);
  cfg.rho = a.numberOr("rho", 0.9, 0.0, 1.0);
  cfg.eps = a.numberOr("eps", 1e-6, 0.0, kInf);
  cfg.weightDecay = a.numberOr("weightDecay", 0.0, 0.0, kInf);
  return cfg;
}

}  // namespace ft::addon
