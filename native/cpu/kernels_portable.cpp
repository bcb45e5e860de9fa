// Portable blocked kernels: the same code as the AVX paths over 4-lane GCC
// vector types, no intrinsics and no target flags, so any CPU (arm64
// included) runs them; the compiler maps the vectors to SSE2 or NEON.
#include "cpu/dispatch.h"
#include "runtime/thread_pool.h"

namespace ft::cpu::portable {
namespace {

constexpr const char* kPathName = "portable";

struct Isa {
  typedef float V __attribute__((vector_size(16)));
  static constexpr int W = 4;
  static constexpr int MR = 6;
  static V zero() { return V{0.0f, 0.0f, 0.0f, 0.0f}; }
  static V load(const float* p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
  }
  static V loadn(const float* p, size_t n) {
    V v = zero();
    for (size_t i = 0; i < n; ++i) v[i] = p[i];
    return v;
  }
  static void store(float* p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }
  static void storen(float* p, V v, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = v[i];
  }
  static V set1(float x) { return V{x, x, x, x}; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V sqrt(V a) { return V{__builtin_sqrtf(a[0]), __builtin_sqrtf(a[1]), __builtin_sqrtf(a[2]), __builtin_sqrtf(a[3])}; }
  static double sumSquares(const float* x, size_t n) {
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      for (int k = 0; k < 4; ++k) a[k] += static_cast<double>(x[i + k]) * x[i + k];
    }
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
  }
};

#include "cpu/kernels_impl.inc"

}  // namespace
}  // namespace ft::cpu::portable

namespace ft::cpu {
const KernelTable* portableKernelTable() { return &portable::kTable; }
}  // namespace ft::cpu
