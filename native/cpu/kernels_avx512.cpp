// AVX-512 (F, BW, VL, DQ) + FMA kernels. Compiled for that target by the
// pragma below (no per-file compiler flags, so node-gyp and CMake build it
// alike); only reached when the CPU reports those features (cpu/dispatch.cpp).
#include "cpu/dispatch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* inside masked loads as
// "may be used uninitialized"; a known false positive.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "runtime/thread_pool.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#endif

namespace ft::cpu::avx512 {
namespace {

constexpr const char* kPathName = "avx512";

struct Isa {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int MR = 12;
  static __mmask16 mask(size_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V loadn(const float* p, size_t n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void storen(float* p, V v, size_t n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V sqrt(V a) { return _mm512_sqrt_ps(a); }
  static double sumSquares(const float* x, size_t n) {
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512 v = _mm512_loadu_ps(x + i);
      const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
      const __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
      a0 = _mm512_fmadd_pd(lo, lo, a0);
      a1 = _mm512_fmadd_pd(hi, hi, a1);
    }
    double lanes[8];
    _mm512_storeu_pd(lanes, _mm512_add_pd(a0, a1));
    double s = 0.0;
    for (int k = 0; k < 8; ++k) s += lanes[k];
    for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
  }
};

#include "cpu/kernels_impl.inc"

}  // namespace
}  // namespace ft::cpu::avx512

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#pragma GCC diagnostic pop
#endif

namespace ft::cpu {
const KernelTable* avx512KernelTable() { return &avx512::kTable; }
}  // namespace ft::cpu

#else
namespace ft::cpu {
const KernelTable* avx512KernelTable() { return nullptr; }
}  // namespace ft::cpu
#endif
