#pragma once
// Kernel timings on the device (CUDA events, data resident on the device),
// for bench/gpu-kernels.ts: what each kernel costs at a given TextCNN shape,
// without the host copies the per-op bindings make.
#include <cstddef>
#include <string>
#include <vector>

namespace ft::cuda {

struct BenchConfig {
  size_t batch = 50;
  size_t length = 50;
  size_t dim = 300;
  size_t vocab = 20000;
  std::vector<size_t> widths{3, 4, 5};
  size_t maps = 100;
  size_t classes = 2;
  int iters = 20;
  size_t bandwidthElements = size_t{1} << 26;  // the large Adam / copy rows (0: skip)
};

struct BenchRow {
  std::string name;
  double ms;     // mean per call
  double bytes;  // bytes read + written per call (0: not counted)
  double flops;  // floating-point operations per call (0: not counted)
};

std::vector<BenchRow> benchKernels(const BenchConfig& cfg);

}  // namespace ft::cuda
