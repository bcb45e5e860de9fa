// Host emulation of the CUDA conv1d and linear plans (native/cuda/gemm_plans.cuh),
// for machines without a GPU: the plans run with a host executor whose GEMM
// replays gemmKernel's tiles, thread by thread and stage by stage (the same
// load coordinates, shared-memory layout and 4 x 4 register tiles), and the
// results are compared with direct float64 loops. This checks the index
// arithmetic of the windows, the flipped weight, segments and split-K, and the
// tiling; what it cannot check (the device itself) test/cuda/*.test.ts does on
// a GPU. Also the embedding gradient's grouping of ids (EmbeddingGroups) with
// the grouped sums replayed, bitwise against the CPU order. Built and run by
// test/cuda/host-emulation.test.ts; prints "ok N" or
// the first mismatch and exits non-zero.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "cuda/embedding.h"
#include "cuda/gemm_plans.cuh"

using ft::cuda::plans::Conv1dShape;
namespace g = ft::cuda::gemm;

namespace {

struct HostExec {
  std::vector<std::unique_ptr<std::vector<float>>> scratch;
  long long gemms = 0, splits = 0;

  void reserve(size_t) {}
  float* take(size_t count) {
    scratch.push_back(std::make_unique<std::vector<float>>(count, NAN));  // NaN: unwritten scratch shows
    return scratch.back()->data();
  }
  void flipConvWeight(const float* w, size_t M, size_t K, size_t C, float* wf) {
    for (size_t m = 0; m < M; ++m)
      for (size_t k = 0; k < K; ++k)
        for (size_t c = 0; c < C; ++c) wf[ft::cuda::plans::flippedIndex(m, k, c, M, K, C)] = w[(m * K + k) * C + c];
  }
  void reducePartials(const float* partials, int zCount, size_t count, float* out, bool accumulate) {
    for (size_t i = 0; i < count; ++i) {
      float s = 0.0f;
      for (int z = 0; z < zCount; ++z) s += partials[static_cast<size_t>(z) * count + i];
      out[i] = accumulate ? out[i] + s : s;
    }
  }

  // gemmKernel, one block at a time; each __syncthreads-separated phase runs for all 256 threads.
  template <class LA, class LB, class Epi>
  void gemm(int M, int N, int K, int segments, int segsPerZ, int zCount, LA la, LB lb, Epi epi) {
    ++gemms;
    if (zCount > 1) ++splits;
    if (M <= 0 || N <= 0 || zCount <= 0) return;
    const int gx = (N + g::kBN - 1) / g::kBN, gy = (M + g::kBM - 1) / g::kBM;
    static float As[g::kBK][g::kBM + g::kPad], Bs[g::kBK][g::kBN + g::kPad];
    std::vector<float> acc(g::kThreads * 16), ra(g::kThreads * 4), rb(g::kThreads * 4);
    for (int z = 0; z < zCount; ++z)
      for (int by = 0; by < gy; ++by)
        for (int bx = 0; bx < gx; ++bx) {
          const int i0 = by * g::kBM, j0 = bx * g::kBN;
          const int segBegin = z * segsPerZ;
          const int segEnd = std::min(segments, segBegin + segsPerZ);
          const int kTiles = (K + g::kBK - 1) / g::kBK;
          const int stages = segEnd > segBegin ? (segEnd - segBegin) * kTiles : 0;
          std::fill(acc.begin(), acc.end(), 0.0f);
          auto fetch = [&](int tid, int st) {
            const int seg = segBegin + st / kTiles;
            const int k0 = (st % kTiles) * g::kBK;
            for (int q = 0; q < 4; ++q) {
              int row, k;
              g::loadCoords<LA::kAlongK>(tid, q, row, k);
              ra[tid * 4 + q] = (i0 + row < M && k0 + k < K) ? la(seg, i0 + row, k0 + k) : 0.0f;
              g::loadCoords<LB::kAlongK>(tid, q, row, k);
              rb[tid * 4 + q] = (j0 + row < N && k0 + k < K) ? lb(seg, j0 + row, k0 + k) : 0.0f;
            }
          };
          if (stages > 0)
            for (int tid = 0; tid < g::kThreads; ++tid) fetch(tid, 0);
          for (int st = 0; st < stages; ++st) {
            // Each element of a tile must be written by exactly one thread.
            for (auto& r : As) std::fill(std::begin(r), std::end(r), NAN);
            for (auto& r : Bs) std::fill(std::begin(r), std::end(r), NAN);
            for (int tid = 0; tid < g::kThreads; ++tid)
              for (int q = 0; q < 4; ++q) {
                int row, k;
                g::loadCoords<LA::kAlongK>(tid, q, row, k);
                As[k][row] = ra[tid * 4 + q];
                g::loadCoords<LB::kAlongK>(tid, q, row, k);
                Bs[k][row] = rb[tid * 4 + q];
              }
            if (st + 1 < stages)
              for (int tid = 0; tid < g::kThreads; ++tid) fetch(tid, st + 1);
            for (int tid = 0; tid < g::kThreads; ++tid) {
              const int tx = tid & 15, ty = tid >> 4;
              for (int kk = 0; kk < g::kBK; ++kk)
                for (int r = 0; r < 4; ++r)
                  for (int c = 0; c < 4; ++c) acc[tid * 16 + r * 4 + c] += As[kk][ty * 4 + r] * Bs[kk][tx * 4 + c];
            }
          }
          for (int tid = 0; tid < g::kThreads; ++tid) {
            const int tx = tid & 15, ty = tid >> 4;
            for (int r = 0; r < 4; ++r) {
              const int i = i0 + ty * 4 + r;
              if (i >= M) continue;
              for (int c = 0; c < 4; ++c) {
                const int j = j0 + tx * 4 + c;
                if (j < N) epi(z, i, j, acc[tid * 16 + r * 4 + c]);
              }
            }
          }
        }
  }
};

std::mt19937_64 rng(20241201);
int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
std::vector<float> randoms(size_t n) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

int failures = 0;
long long checks = 0;

void expectClose(const std::vector<float>& got, const std::vector<double>& want, const char* what, const char* shape) {
  double scale = 0.0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  if (scale == 0.0) scale = 1.0;
  for (size_t i = 0; i < want.size(); ++i) {
    ++checks;
    if (!(std::fabs(got[i] - want[i]) <= 1e-5 * scale)) {
      if (failures++ < 5) std::printf("MISMATCH %s %s [%zu]: %.9g vs %.9g\n", what, shape, i, got[i], want[i]);
      return;
    }
  }
}

void checkConv(const Conv1dShape& s) {
  const size_t T = s.outLength(), C = s.inChannels, M = s.outChannels, K = s.width, L = s.length;
  auto x = randoms(s.batch * L * C), w = randoms(M * K * C), bias = randoms(M), dy = randoms(s.batch * T * M);
  auto dx = randoms(s.batch * L * C), dw = randoms(M * K * C);
  std::vector<double> y0(s.batch * T * M), dx0(dx.begin(), dx.end()), dw0(dw.begin(), dw.end());
  for (size_t b = 0; b < s.batch; ++b)
    for (size_t t = 0; t < T; ++t)
      for (size_t m = 0; m < M; ++m) {
        double a = bias[m];
        const double g = dy[(b * T + t) * M + m];
        for (size_t k = 0; k < K; ++k) {
          const long pos = static_cast<long>(t + k) - static_cast<long>(s.padLeft);
          if (pos < 0 || pos >= static_cast<long>(L)) continue;
          for (size_t c = 0; c < C; ++c) {
            a += static_cast<double>(w[(m * K + k) * C + c]) * x[(b * L + pos) * C + c];
            dx0[(b * L + pos) * C + c] += g * w[(m * K + k) * C + c];
            dw0[(m * K + k) * C + c] += g * x[(b * L + pos) * C + c];
          }
        }
        y0[(b * T + t) * M + m] = a;
      }
  char shape[160];
  std::snprintf(shape, sizeof shape, "{batch %zu length %zu in %zu out %zu width %zu pad %zu/%zu}", s.batch, L, C, M, K,
                s.padLeft, s.padRight);
  HostExec ex;
  std::vector<float> y(y0.size(), NAN);
  ft::cuda::plans::conv1dForward(ex, s, x.data(), w.data(), bias.data(), y.data());
  expectClose(y, y0, "conv1d forward", shape);
  ft::cuda::plans::conv1dBackwardInput(ex, s, dy.data(), w.data(), dx.data());
  expectClose(dx, dx0, "conv1d backwardInput", shape);
  ft::cuda::plans::conv1dBackwardWeight(ex, s, x.data(), dy.data(), dw.data());
  expectClose(dw, dw0, "conv1d backwardWeight", shape);
}

void checkLinear(size_t rows, size_t in, size_t out) {
  auto x = randoms(rows * in), w = randoms(out * in), bias = randoms(out), dy = randoms(rows * out);
  auto dx = randoms(rows * in), dw = randoms(out * in);
  std::vector<double> y0(rows * out), dx0(dx.begin(), dx.end()), dw0(dw.begin(), dw.end());
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < out; ++o) {
      double a = bias[o];
      const double g = dy[r * out + o];
      for (size_t i = 0; i < in; ++i) {
        a += static_cast<double>(x[r * in + i]) * w[o * in + i];
        dx0[r * in + i] += g * w[o * in + i];
        dw0[o * in + i] += g * x[r * in + i];
      }
      y0[r * out + o] = a;
    }
  char shape[96];
  std::snprintf(shape, sizeof shape, "{rows %zu in %zu out %zu}", rows, in, out);
  HostExec ex;
  std::vector<float> y(y0.size(), NAN);
  ft::cuda::plans::linearForward(ex, x.data(), w.data(), bias.data(), y.data(), rows, in, out);
  expectClose(y, y0, "linear forward", shape);
  ft::cuda::plans::linearBackwardInput(ex, dy.data(), w.data(), dx.data(), rows, in, out);
  expectClose(dx, dx0, "linear backwardInput", shape);
  ft::cuda::plans::linearBackwardWeight(ex, x.data(), dy.data(), dw.data(), rows, in, out);
  expectClose(dw, dw0, "linear backwardWeight", shape);
}

// EmbeddingGroups (host) and groupedAddKernel's sums (replayed here): must
// equal the CPU reference's sequential adds bit for bit.
void checkEmbeddingGroups(size_t n, size_t vocab, size_t dim, int64_t paddingIdx, ft::cuda::EmbeddingGroups& groups,
                          bool withRows) {
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = uniform(0, static_cast<int>(vocab) - 1);
  // Rows of gradOut: identity, or spread out as packed positions are (increasing, with gaps).
  std::vector<int32_t> rowOf(n);
  int32_t at = 0;
  for (size_t i = 0; i < n; ++i) rowOf[i] = withRows ? (at += uniform(1, 3)) : static_cast<int32_t>(i);
  const size_t rows = static_cast<size_t>(rowOf.empty() ? 0 : rowOf.back() + 1);
  auto gradOut = randoms(rows * dim), start = randoms(vocab * dim);
  std::vector<float> want = start, got = start;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] == paddingIdx) continue;
    for (size_t d = 0; d < dim; ++d) want[static_cast<size_t>(ids[i]) * dim + d] += gradOut[static_cast<size_t>(rowOf[i]) * dim + d];
  }
  groups.build(ids.data(), n, vocab, paddingIdx);
  std::vector<uint8_t> seen(vocab, 0);
  for (size_t r = 0; r < groups.runs(); ++r) {
    const int32_t id = groups.runId[r];
    if (id == paddingIdx || seen[static_cast<size_t>(id)]++) {
      if (failures++ < 5) std::printf("MISMATCH embedding groups: id %d repeated or padding\n", id);
      return;
    }
    for (size_t d = 0; d < dim; ++d) {
      float acc = got[static_cast<size_t>(id) * dim + d];
      for (int32_t j = groups.runStart[r]; j < groups.runStart[r + 1]; ++j) {
        acc += gradOut[static_cast<size_t>(rowOf[static_cast<size_t>(groups.order[static_cast<size_t>(j)])]) * dim + d];
      }
      got[static_cast<size_t>(id) * dim + d] = acc;
    }
  }
  for (size_t i = 0; i < want.size(); ++i) {
    ++checks;
    if (!(got[i] == want[i])) {
      if (failures++ < 5) std::printf("MISMATCH embedding grouped sum n %zu vocab %zu [%zu]: %.9g vs %.9g\n", n, vocab, i, got[i], want[i]);
      return;
    }
  }
  for (int32_t s : groups.slot) {
    if (s != -1 && failures++ < 5) std::printf("MISMATCH embedding groups: scratch not reset\n");
  }
}

}  // namespace

int main() {
  ft::cuda::EmbeddingGroups groups;  // reused across calls, as the program does
  for (int trial = 0; trial < 40; ++trial) {
    const size_t vocab = static_cast<size_t>(trial % 2 ? uniform(1, 7) : uniform(50, 3000));
    checkEmbeddingGroups(static_cast<size_t>(uniform(0, 600)), vocab, static_cast<size_t>(uniform(1, 40)),
                         trial % 3 == 0 ? -1 : uniform(0, static_cast<int>(vocab) - 1), groups, trial % 4 == 1);
  }
  for (int trial = 0; trial < 60; ++trial) {
    const bool big = trial % 6 == 5;
    Conv1dShape s{};
    s.width = static_cast<size_t>(uniform(1, 6));
    s.padLeft = static_cast<size_t>(uniform(0, static_cast<int>(s.width) - 1));
    s.padRight = static_cast<size_t>(uniform(0, static_cast<int>(s.width) - 1));
    s.batch = static_cast<size_t>(big ? uniform(20, 70) : uniform(1, 5));
    const int minLen = std::max(1, static_cast<int>(s.width - s.padLeft - s.padRight));
    s.length = static_cast<size_t>(std::max(minLen, big ? uniform(40, 80) : uniform(1, 13)));
    s.inChannels = static_cast<size_t>(big ? uniform(20, 90) : uniform(1, 9));
    s.outChannels = static_cast<size_t>(big ? uniform(60, 100) : uniform(1, 9));
    checkConv(s);
  }
  checkConv(Conv1dShape{50, 50, 300, 100, 5, 0, 0});  // Kim: split-K over 50 rows
  checkConv(Conv1dShape{3, 1, 5, 4, 5, 2, 2});        // a text shorter than the filter
  checkConv(Conv1dShape{1, 700, 7, 9, 3, 1, 1});      // one long packed row: steps cut into chunks of 256
  checkConv(Conv1dShape{2, 300, 5, 70, 4, 0, 0});     // rows of two chunks, the last one short
  for (int trial = 0; trial < 30; ++trial)
    checkLinear(static_cast<size_t>(uniform(1, 9)), static_cast<size_t>(uniform(1, 70)), static_cast<size_t>(uniform(1, 9)));
  checkLinear(3000, 67, 5);   // split-K over 12 segments of 256 rows
  checkLinear(257, 131, 129);
  checkLinear(1024, 300, 2);
  if (failures) {
    std::printf("FAILED %d of %lld checks\n", failures, checks);
    return 1;
  }
  std::printf("ok %lld\n", checks);
  return 0;
}
