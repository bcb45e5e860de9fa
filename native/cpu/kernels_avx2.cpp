// AVX2 + FMA kernels. Compiled for that target by the pragma below (no
// per-file compiler flags); only reached when the CPU reports AVX2 and FMA.
#include "cpu/dispatch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include "runtime/thread_pool.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace ft::cpu::avx2 {
namespace {

constexpr const char* kPathName = "avx2";

struct Isa {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int MR = 6;
  static __m256i mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V loadn(const float* p, size_t n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void storen(float* p, V v, size_t n) { _mm256_maskstore_ps(p, mask(n), v); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  static double sumSquares(const float* x, size_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
      const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
      a0 = _mm256_fmadd_pd(lo, lo, a0);
      a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));
    double s = 0.0;
    for (int k = 0; k < 4; ++k) s += lanes[k];
    for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
  }
};

#include "cpu/kernels_impl.inc"

}  // namespace
}  // namespace ft::cpu::avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ft::cpu {
const KernelTable* avx2KernelTable() { return &avx2::kTable; }
}  // namespace ft::cpu

#else
namespace ft::cpu {
const KernelTable* avx2KernelTable() { return nullptr; }
}  // namespace ft::cpu
#endif
