#pragma once
// One fp32 matrix-product kernel for every GEMM-shaped op (conv1d, linear),
// written here instead of calling cuBLAS: the toolchain this project builds
// with carries no cuBLAS, and our own kernel keeps the math plain fp32 (no
// TF32), deterministic (fixed reduction order, fixed split-K by shape, not
// by device) and free to read operands that are not matrices in memory —
// the overlapping windows of a channels-last convolution with its zero
// padding, without an im2col copy.
//
//   C[z](i, j) = sum over segments s of this z, sum over k < K of A(s, i, k) * B(s, j, k... )
//
// Operands are read through loaders: a loader is a small struct with
//   __device__ float operator()(int seg, int row, int k) const
// (A: row = i; B: row = j) and a constant kAlongK telling whether
// consecutive k are adjacent in memory (then consecutive threads read
// consecutive k, otherwise consecutive rows), for coalesced loads. The kernel
// only asks for in-range i < M, j < N, k < K; a loader returns 0 itself for
// positions that are padding.
//
// Segments: the K loop of one output tile runs over segments
// [z * segsPerZ, min(segments, (z + 1) * segsPerZ)), each of K steps, where z
// is blockIdx.z. Batched products (a conv over each row of a batch) use one
// segment per z; reductions over a batch (a conv's weight gradient) put
// several batch rows in one z and sum the z partials afterwards in a fixed
// order (splitK below), which is deterministic and keeps tiles of one batch
// row from straddling into the next.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cuda/check.h"

namespace ft::cuda::gemm {

constexpr int kBM = 64;      // tile rows (i)
constexpr int kBN = 64;      // tile columns (j)
constexpr int kBK = 16;      // k per stage
constexpr int kThreads = 256;  // 16 x 16 threads, 4 x 4 outputs each
constexpr int kPad = 4;      // shared-memory row padding: fewer bank conflicts, float4 alignment kept

// Coordinates of the 4 elements a thread loads per stage for a 64 x 16 (row, k) tile.
template <bool kAlongK>
__host__ __device__ __forceinline__ void loadCoords(int tid, int q, int& row, int& k) {
  if (kAlongK) {
    k = tid & 15;
    row = (tid >> 4) + 16 * q;
  } else {
    row = tid & 63;
    k = (tid >> 6) + 4 * q;
  }
}

// Epilogue: a struct with __device__ void operator()(int z, int i, int j, float acc) const.
template <class LA, class LB, class Epi>
__global__ void __launch_bounds__(kThreads)
    gemmKernel(int M, int N, int K, int segments, int segsPerZ, LA la, LB lb, Epi epi) {
  __shared__ __align__(16) float As[kBK][kBM + kPad];
  __shared__ __align__(16) float Bs[kBK][kBN + kPad];

  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid & 15, ty = tid >> 4;
  const int i0 = static_cast<int>(blockIdx.y) * kBM;
  const int j0 = static_cast<int>(blockIdx.x) * kBN;
  const int z = static_cast<int>(blockIdx.z);
  const int segBegin = z * segsPerZ;
  const int segEnd = min(segments, segBegin + segsPerZ);
  const int kTiles = (K + kBK - 1) / kBK;
  const int stages = segEnd > segBegin ? (segEnd - segBegin) * kTiles : 0;

  float acc[4][4];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < 4; ++c) acc[r][c] = 0.0f;

  float ra[4], rb[4];
  // Global loads of stage `st` into registers (prefetched one stage ahead of the math).
  auto fetch = [&](int st) {
    const int seg = segBegin + st / kTiles;
    const int k0 = (st % kTiles) * kBK;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      int row, k;
      loadCoords<LA::kAlongK>(tid, q, row, k);
      ra[q] = (i0 + row < M && k0 + k < K) ? la(seg, i0 + row, k0 + k) : 0.0f;
      loadCoords<LB::kAlongK>(tid, q, row, k);
      rb[q] = (j0 + row < N && k0 + k < K) ? lb(seg, j0 + row, k0 + k) : 0.0f;
    }
  };

  if (stages > 0) fetch(0);
  for (int st = 0; st < stages; ++st) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      int row, k;
      loadCoords<LA::kAlongK>(tid, q, row, k);
      As[k][row] = ra[q];
      loadCoords<LB::kAlongK>(tid, q, row, k);
      Bs[k][row] = rb[q];
    }
    __syncthreads();
    if (st + 1 < stages) fetch(st + 1);
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
      const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
      const float av[4] = {a.x, a.y, a.z, a.w};
      const float bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
      for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[r][c] += av[r] * bv[c];
    }
    __syncthreads();
  }

#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int i = i0 + ty * 4 + r;
    if (i >= M) continue;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const int j = j0 + tx * 4 + c;
      if (j < N) epi(z, i, j, acc[r][c]);
    }
  }
}

// Launches C[z] for z < zCount. M, N, K, segments must fit in int (the
// launchers check their shapes with checkInt first).
template <class LA, class LB, class Epi>
void launch(int M, int N, int K, int segments, int segsPerZ, int zCount, LA la, LB lb, Epi epi, cudaStream_t stream) {
  if (M <= 0 || N <= 0 || zCount <= 0) return;
  const dim3 grid(static_cast<unsigned>((N + kBN - 1) / kBN), static_cast<unsigned>((M + kBM - 1) / kBM),
                  static_cast<unsigned>(zCount));
  if (grid.y > 65535u || grid.z > 65535u) throwInvalid("gemm: problem too large for one launch");
  gemmKernel<<<grid, kThreads, 0, stream>>>(M, N, K, segments, segsPerZ, la, lb, epi);
  FT_CUDA_CHECK_LAUNCH("gemmKernel");
}

// How many z slices a reduction of `segments` segments of K steps should be
// split into, from the shape alone (never the device), so that results are
// the same on every GPU: enough blocks to fill a large GPU, each slice at
// least ~512 steps of k.
inline int splitCount(int M, int N, int K, int segments) {
  const long long tiles = static_cast<long long>((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN);
  const long long totalK = static_cast<long long>(K) * segments;
  long long byWork = totalK / 512;
  long long byBlocks = (264 + tiles - 1) / tiles;
  long long s = byWork < byBlocks ? byWork : byBlocks;
  if (s < 1) s = 1;
  if (s > segments) s = segments;
  if (s > 64) s = 64;
  return static_cast<int>(s);
}

// ---- common loaders and epilogues -----------------------------------------

// Plain row-major matrix X[row * ld + k] (kAlongK) at base + seg * segStride.
struct RowMajor {
  static constexpr bool kAlongK = true;
  const float* base;
  long long ld;
  long long segStride;
  __host__ __device__ float operator()(int seg, int row, int k) const {
    return base[seg * segStride + static_cast<long long>(row) * ld + k];
  }
};

// Transposed: X[k * ld + row] (consecutive rows adjacent).
struct ColMajor {
  static constexpr bool kAlongK = false;
  const float* base;
  long long ld;
  long long segStride;
  __host__ __device__ float operator()(int seg, int row, int k) const {
    return base[seg * segStride + static_cast<long long>(k) * ld + row];
  }
};

// Same as RowMajor / ColMajor but k counts from seg * kPerSeg within one
// matrix: split-K of a plain product, K steps per segment, kTotal in all.
struct RowMajorSplitK {
  static constexpr bool kAlongK = true;
  const float* base;
  long long ld;
  int kPerSeg;
  int kTotal;
  __host__ __device__ float operator()(int seg, int row, int k) const {
    const int kk = seg * kPerSeg + k;
    return kk < kTotal ? base[static_cast<long long>(row) * ld + kk] : 0.0f;
  }
};
struct ColMajorSplitK {
  static constexpr bool kAlongK = false;
  const float* base;
  long long ld;
  int kPerSeg;
  int kTotal;
  __host__ __device__ float operator()(int seg, int row, int k) const {
    const int kk = seg * kPerSeg + k;
    return kk < kTotal ? base[static_cast<long long>(kk) * ld + row] : 0.0f;
  }
};

// C[z * zStride + i * ldc + j] = acc (+ bias[j]) (+ old value when accumulate).
struct StoreEpilogue {
  float* c;
  long long ldc;
  long long zStride;
  const float* bias;
  bool accumulate;
  __host__ __device__ void operator()(int z, int i, int j, float acc) const {
    float* p = c + z * zStride + static_cast<long long>(i) * ldc + j;
    float v = acc;
    if (bias) v += bias[j];
    *p = accumulate ? *p + v : v;
  }
};

// Sums the zCount partials [zCount, count] in order z = 0, 1, ... and adds the
// total into out (out += sum), or stores it when accumulate is false.
void reducePartials(const float* partials, int zCount, size_t count, float* out, bool accumulate, cudaStream_t stream);

}  // namespace ft::cuda::gemm
