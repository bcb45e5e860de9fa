// The one dispatch point: picks a KernelTable at first use and routes the
// public kernel entry points through it. Also the scalar table and the
// per-thread scratch memory the fast kernels use.
#include "cpu/dispatch.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <initializer_list>
#include <memory>
#include <new>

#include "cpu/embedding.h"
#include "cpu/linear.h"

namespace ft::cpu {

namespace {

double scalarPeakFlops(double seconds);
void scalarStreamAdd(float* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
}

const KernelTable kScalarTable = {
    "scalar",
    scalar::conv1dForward,
    scalar::conv1dBackwardInput,
    scalar::conv1dBackwardWeight,
    scalar::conv1dBackwardBias,
    scalar::linearForward,
    scalar::linearBackwardInput,
    scalar::linearBackwardWeight,
    scalar::linearBackwardBias,
    scalar::embeddingBackward,
    scalar::adamUpdate,
    scalar::sgdUpdate,
    scalar::adadeltaUpdate,
    scalar::sumOfSquares,
    scalar::scale,
    scalarStreamAdd,
    scalarPeakFlops,
};

double scalarPeakFlops(double seconds) {
  // The scalar path has no peak of its own; report the portable one.
  const KernelTable* t = portableKernelTable();
  return t ? t->peakFlops(seconds) : 0.0;
}

const KernelTable* tableFor(KernelPath p) {
  switch (p) {
    case KernelPath::Scalar: return scalarKernelTable();
    case KernelPath::Portable: return portableKernelTable();
    case KernelPath::Avx2: return avx2KernelTable();
    case KernelPath::Avx512: return avx512KernelTable();
  }
  return nullptr;
}

bool cpuSupports(KernelPath p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  switch (p) {
    case KernelPath::Scalar:
    case KernelPath::Portable: return true;
    case KernelPath::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KernelPath::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma");
  }
  return false;
#else
  return p == KernelPath::Scalar || p == KernelPath::Portable;
#endif
}

struct Current {
  std::atomic<const KernelTable*> table;
  std::atomic<int32_t> path;
  Current() {
    KernelPath p = bestKernelPath();
    table.store(tableFor(p));
    path.store(static_cast<int32_t>(p));
  }
};

Current& current() {
  static Current c;
  return c;
}

}  // namespace

const KernelTable* scalarKernelTable() { return &kScalarTable; }

bool kernelPathAvailable(KernelPath p) { return tableFor(p) != nullptr && cpuSupports(p); }

KernelPath bestKernelPath() {
  for (KernelPath p : {KernelPath::Avx512, KernelPath::Avx2, KernelPath::Portable}) {
    if (kernelPathAvailable(p)) return p;
  }
  return KernelPath::Scalar;
}

const KernelTable& kernelTable() { return *current().table.load(std::memory_order_acquire); }
KernelPath currentKernelPath() { return static_cast<KernelPath>(current().path.load()); }

const char* kernelPathName(KernelPath p) {
  switch (p) {
    case KernelPath::Scalar: return "scalar";
    case KernelPath::Portable: return "portable";
    case KernelPath::Avx2: return "avx2";
    case KernelPath::Avx512: return "avx512";
  }
  return "unknown";
}

bool setKernelPath(KernelPath p) {
  if (!kernelPathAvailable(p)) return false;
  current().table.store(tableFor(p), std::memory_order_release);
  current().path.store(static_cast<int32_t>(p));
  return true;
}

float* scratch(int slot, size_t floats) {
  struct Buffer {
    float* data = nullptr;
    size_t capacity = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffers[kScratchSlots];
  Buffer& b = buffers[slot];
  if (floats > b.capacity) {
    std::free(b.data);
    const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    b.data = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!b.data) {
      b.capacity = 0;
      throw std::bad_alloc();
    }
    b.capacity = bytes / sizeof(float);
  }
  return b.data;
}

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void peakSink(float value) {
  static std::atomic<float> sink{0.0f};
  sink.store(value, std::memory_order_relaxed);
}

// ---- public entry points -----------------------------------------------------

void conv1dForward(const Conv1dShape& s, const float* x, const float* weight, const float* bias, float* y) {
  kernelTable().conv1dForward(s, x, weight, bias, y);
}
void conv1dBackwardInput(const Conv1dShape& s, const float* dy, const float* weight, float* dx) {
  const size_t K = s.width;
  if ((s.padLeft < K && s.padRight < K) || s.length == 0) {
    kernelTable().conv1dBackwardInput(s, dy, weight, dx);
    return;
  }
  // Padding beyond width-1 adds outputs whose windows hold no input step; they
  // send no gradient to x. Skipping them leaves padding below the width, the
  // case every path handles, at the price of one call per batch entry.
  Conv1dShape one = s;
  one.batch = 1;
  one.padLeft = std::min(s.padLeft, K - 1);
  one.padRight = std::min(s.padRight, K - 1);
  const size_t T = s.outLength(), skip = s.padLeft - one.padLeft;
  for (size_t b = 0; b < s.batch; ++b) {
    kernelTable().conv1dBackwardInput(one, dy + (b * T + skip) * s.outChannels, weight, dx + b * s.length * s.inChannels);
  }
}
void conv1dBackwardWeight(const Conv1dShape& s, const float* x, const float* dy, float* dWeight) {
  kernelTable().conv1dBackwardWeight(s, x, dy, dWeight);
}
void conv1dBackwardBias(const Conv1dShape& s, const float* dy, float* dBias) {
  kernelTable().conv1dBackwardBias(s, dy, dBias);
}
void linearForward(const float* x, const float* weight, const float* bias, float* y, size_t rows, size_t in,
                   size_t out) {
  kernelTable().linearForward(x, weight, bias, y, rows, in, out);
}
void linearBackwardInput(const float* dy, const float* weight, float* dx, size_t rows, size_t in, size_t out) {
  kernelTable().linearBackwardInput(dy, weight, dx, rows, in, out);
}
void linearBackwardWeight(const float* x, const float* dy, float* dWeight, size_t rows, size_t in, size_t out) {
  kernelTable().linearBackwardWeight(x, dy, dWeight, rows, in, out);
}
void linearBackwardBias(const float* dy, float* dBias, size_t rows, size_t out) {
  kernelTable().linearBackwardBias(dy, dBias, rows, out);
}
void embeddingBackward(const int32_t* ids, size_t n, const float* gradOut, size_t dim, int64_t paddingIdx,
                       float* gradWeight) {
  kernelTable().embeddingBackward(ids, n, gradOut, dim, paddingIdx, gradWeight);
}
void adamUpdate(const AdamConfig& cfg, int64_t step, float* param, const float* grad, float* m, float* v, size_t n) {
  kernelTable().adamUpdate(cfg, step, param, grad, m, v, n);
}
void sgdUpdate(const SgdConfig& cfg, bool firstStep, float* param, const float* grad, float* momentumBuffer,
               size_t n) {
  kernelTable().sgdUpdate(cfg, firstStep, param, grad, momentumBuffer, n);
}
void adadeltaUpdate(const AdadeltaConfig& cfg, float* param, const float* grad, float* squareAvg, float* accDelta,
                    size_t n) {
  kernelTable().adadeltaUpdate(cfg, param, grad, squareAvg, accDelta, n);
}
double sumOfSquares(const float* x, size_t n) { return kernelTable().sumOfSquares(x, n); }

}  // namespace ft::cpu
