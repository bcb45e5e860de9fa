#pragma once
// Run-time choice of kernel code: the one dispatch point.
//
// Every kernel that has fast variants is reached through a KernelTable of
// function pointers. One table exists per code path: "scalar" (the plain
// reference loops, kept as the oracle the others are tested against),
// "portable" (blocked, vectorisable C++, no intrinsics: any CPU, arm64
// included), "avx2" (AVX2 + FMA) and "avx512" (AVX-512 F/BW/VL/DQ). The
// best path the CPU supports is chosen once, at first use, with
// __builtin_cpu_supports; setKernelPath forces another (tests, benchmarks).
// The public functions in conv1d.h, linear.h, embedding.h and optimizer.h
// call through the current table, so callers never see the choice.
#include <cstddef>
#include <cstdint>

#include "cpu/conv1d.h"
#include "cpu/optimizer.h"

namespace ft::cpu {

enum class KernelPath : int32_t { Scalar = 0, Portable = 1, Avx2 = 2, Avx512 = 3 };
constexpr int32_t kKernelPathCount = 4;

struct KernelTable {
  const char* name;
  void (*conv1dForward)(const Conv1dShape&, const float*, const float*, const float*, float*);
  void (*conv1dBackwardInput)(const Conv1dShape&, const float*, const float*, float*);
  void (*conv1dBackwardWeight)(const Conv1dShape&, const float*, const float*, float*);
  void (*conv1dBackwardBias)(const Conv1dShape&, const float*, float*);
  void (*linearForward)(const float*, const float*, const float*, float*, size_t, size_t, size_t);
  void (*linearBackwardInput)(const float*, const float*, float*, size_t, size_t, size_t);
  void (*linearBackwardWeight)(const float*, const float*, float*, size_t, size_t, size_t);
  void (*linearBackwardBias)(const float*, float*, size_t, size_t);
  void (*embeddingBackward)(const int32_t*, size_t, const float*, size_t, int64_t, float*);
  void (*adamUpdate)(const AdamConfig&, int64_t, float*, const float*, float*, float*, size_t);
  void (*sgdUpdate)(const SgdConfig&, bool, float*, const float*, float*, size_t);
  void (*adadeltaUpdate)(const AdadeltaConfig&, float*, const float*, float*, float*, size_t);
  double (*sumOfSquares)(const float*, size_t);
  void (*scale)(float*, size_t, float);
  // dst += src, vectorised and threaded: the benchmark's bandwidth reference.
  // In place, as the optimizers are, so every byte moved is a byte counted (a
  // plain copy also reads each destination line before writing it).
  void (*streamAdd)(float*, const float*, size_t);
  // FLOP/s of an FMA-bound loop on the calling thread (peak measurement).
  double (*peakFlops)(double seconds);
};

// The table in use now.
const KernelTable& kernelTable();
KernelPath currentKernelPath();
const char* kernelPathName(KernelPath p);
// Whether this build and this CPU can run path p.
bool kernelPathAvailable(KernelPath p);
// Selects path p; returns false (and changes nothing) when unavailable.
bool setKernelPath(KernelPath p);
// The best available path (what is chosen at start-up).
KernelPath bestKernelPath();

// Per-path tables, defined by kernels_<path>.cpp (null when not compiled in).
const KernelTable* scalarKernelTable();
const KernelTable* portableKernelTable();
const KernelTable* avx2KernelTable();
const KernelTable* avx512KernelTable();

// Scratch memory for kernels, owned by the calling thread, 64-byte aligned,
// grown on demand and kept (no allocation per call once warm). Slots let one
// kernel hold several buffers at once.
float* scratch(int slot, size_t floats);
constexpr int kScratchSlots = 4;

// Monotonic clock in seconds, and a sink that keeps a computed value alive
// (for the peak loop; defined in dispatch.cpp so SIMD files need no headers).
double nowSeconds();
void peakSink(float value);

}  // namespace ft::cpu
