// Each row: two warm-up calls, then `iters` calls between two CUDA events on
// the default stream; the mean per call. Inputs are random (a hash of the
// index), ids uniform over the vocabulary.
#include "cuda/bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cuda/activation.h"
#include "cuda/check.h"
#include "cuda/conv1d.h"
#include "cuda/dropout.h"
#include "cuda/embedding.h"
#include "cuda/linear.h"
#include "cuda/loss.h"
#include "cuda/memory.h"
#include "cuda/optimizer.h"
#include "cuda/pooling.h"
#include "cuda/reduce.h"

namespace ft::cuda {

namespace {

__device__ __forceinline__ uint32_t hash32(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return static_cast<uint32_t>(x);
}

__global__ void fillKernel(float* x, size_t n, uint64_t seed, float scale) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = (static_cast<float>(hash32(seed * 0x9E3779B97F4A7C15ull + i) >> 8) / 16777216.0f - 0.5f) * scale;
}

__global__ void fillIdsKernel(int32_t* x, size_t n, uint64_t seed, int32_t limit) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] = static_cast<int32_t>(hash32(seed * 0x9E3779B97F4A7C15ull + i) % static_cast<uint32_t>(limit));
}

DeviceBuffer<float> randomFloats(size_t n, uint64_t seed, float scale = 1.0f) {
  DeviceBuffer<float> b(n);
  if (n) {
    fillKernel<<<elementwiseBlocks(n), 256>>>(b.get(), n, seed, scale);
    FT_CUDA_CHECK_LAUNCH("fillKernel");
  }
  return b;
}

DeviceBuffer<int32_t> randomIds(size_t n, uint64_t seed, size_t limit) {
  DeviceBuffer<int32_t> b(n);
  if (n) {
    fillIdsKernel<<<elementwiseBlocks(n), 256>>>(b.get(), n, seed, static_cast<int32_t>(limit));
    FT_CUDA_CHECK_LAUNCH("fillIdsKernel");
  }
  return b;
}

class Timer {
 public:
  Timer() {
    FT_CUDA_CHECK(cudaEventCreate(&start_));
    FT_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  template <class F>
  double meanMs(int iters, F&& f) {
    f();
    f();
    FT_CUDA_CHECK(cudaDeviceSynchronize());
    FT_CUDA_CHECK(cudaEventRecord(start_));
    for (int i = 0; i < iters; ++i) f();
    FT_CUDA_CHECK(cudaEventRecord(stop_));
    FT_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    FT_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms) / iters;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace

std::vector<BenchRow> benchKernels(const BenchConfig& c) {
  std::vector<BenchRow> rows;
  Timer timer;
  Workspace ws;
  const cudaStream_t s = nullptr;
  const int it = c.iters > 0 ? c.iters : 1;
  auto add = [&](const std::string& name, double ms, double bytes, double flops) {
    rows.push_back(BenchRow{name, ms, bytes, flops});
  };
  const double f4 = 4.0;

  // Embedding.
  const size_t tokens = c.batch * c.length;
  // Ids made on the host (the backward pass groups them there), Zipf-like as in text.
  std::vector<int32_t> hostIds(tokens);
  uint64_t state = 12345;
  for (auto& id : hostIds) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(state >> 11) / 9007199254740992.0;
    id = static_cast<int32_t>(std::min<double>(static_cast<double>(c.vocab - 1), std::floor(std::pow(static_cast<double>(c.vocab), u))));
  }
  auto ids = toDevice(hostIds.data(), tokens);
  auto table = randomFloats(c.vocab * c.dim, 2);
  auto gradTable = randomFloats(c.vocab * c.dim, 3);
  auto emb = randomFloats(tokens * c.dim, 4);
  auto dEmb = randomFloats(tokens * c.dim, 5);
  add("embedding.forward", timer.meanMs(it, [&] {
        embeddingForward(ids.get(), tokens, table.get(), c.dim, emb.get(), s);
      }), 2 * f4 * tokens * c.dim, 0);
  EmbeddingGroups groups;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < it; ++i) groups.build(hostIds.data(), tokens, c.vocab, 0);
  const double groupMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / it;
  add("embedding.group ids (host CPU)", groupMs, 0, 0);
  auto runId = toDevice(groups.runId.data(), groups.runs());
  auto runStart = toDevice(groups.runStart.data(), groups.runStart.size());
  auto order = toDevice(groups.order.data(), groups.order.size());
  add("embedding.backward", timer.meanMs(it, [&] {
        embeddingBackwardGrouped(runId.get(), runStart.get(), groups.runs(), order.get(), nullptr, dEmb.get(), c.dim,
                                 gradTable.get(), s);
      }), 3 * f4 * tokens * c.dim, 0);

  // Convolutions, activation and pooling per width ('valid' padding: Kim pads the text instead).
  const size_t features = c.widths.size() * c.maps;
  auto pooled = randomFloats(c.batch * features, 6);
  auto dPooled = randomFloats(c.batch * features, 7);
  size_t convParams = 0;
  for (size_t wi = 0; wi < c.widths.size(); ++wi) {
    const size_t w = c.widths[wi];
    if (c.length < w) continue;
    Conv1dShape sh{c.batch, c.length, c.dim, c.maps, w, 0, 0};
    const size_t outLen = sh.outLength();
    const size_t yn = c.batch * outLen * c.maps, wn = c.maps * w * c.dim;
    convParams += wn + c.maps;
    auto weight = randomFloats(wn, 10 + wi, 0.1f);
    auto bias = randomFloats(c.maps, 20 + wi);
    auto y = randomFloats(yn, 30 + wi);
    auto dy = randomFloats(yn, 40 + wi);
    auto dW = randomFloats(wn, 50 + wi);
    auto dB = randomFloats(c.maps, 60 + wi);
    DeviceBuffer<int32_t> argmax(c.batch * c.maps);
    const double flops = 2.0 * c.batch * outLen * c.maps * w * c.dim;
    const std::string tag = " w=" + std::to_string(w);
    add("conv1d.forward" + tag, timer.meanMs(it, [&] {
          conv1dForward(sh, emb.get(), weight.get(), bias.get(), y.get(), s);
        }), 0, flops);
    add("conv1d.backwardInput" + tag, timer.meanMs(it, [&] {
          conv1dBackwardInput(sh, dy.get(), weight.get(), dEmb.get(), ws, s);
        }), 0, flops);
    add("conv1d.backwardWeight" + tag, timer.meanMs(it, [&] {
          conv1dBackwardWeight(sh, emb.get(), dy.get(), dW.get(), ws, s);
        }), 0, flops);
    add("conv1d.backwardBias" + tag, timer.meanMs(it, [&] {
          conv1dBackwardBias(sh, dy.get(), dB.get(), ws, s);
        }), f4 * yn, 0);
    add("relu.forward" + tag, timer.meanMs(it, [&] {
          activationForward(Activation::Relu, 0.0f, y.get(), y.get(), yn, s);
        }), 2 * f4 * yn, 0);
    add("relu.backward" + tag, timer.meanMs(it, [&] {
          activationBackward(Activation::Relu, 0.0f, y.get(), nullptr, dy.get(), dy.get(), yn, s);
        }), 3 * f4 * yn, 0);
    add("maxOverTime.forward" + tag, timer.meanMs(it, [&] {
          maxOverTimeForward(y.get(), c.batch, outLen, c.maps, nullptr, pooled.get(), features, wi * c.maps,
                             argmax.get(), s);
        }), f4 * yn, 0);
    add("maxOverTime.backward" + tag, timer.meanMs(it, [&] {
          maxOverTimeBackward(dPooled.get(), features, wi * c.maps, argmax.get(), c.batch, outLen, c.maps, dy.get(), s);
        }), f4 * yn, 0);
  }

  // Dropout and the classifier head.
  const size_t fn = c.batch * features;
  DeviceBuffer<uint8_t> mask(fn);
  auto dropped = randomFloats(fn, 70);
  uint64_t counter = 0;
  add("dropout.forward", timer.meanMs(it, [&] {
        dropoutForward(pooled.get(), dropped.get(), mask.get(), fn, 0.5, 1234, counter, s);
        counter += fn;
      }), 9.0 * fn, 0);
  add("dropout.backward", timer.meanMs(it, [&] {
        dropoutBackward(dPooled.get(), mask.get(), dPooled.get(), fn, 0.5, s);
      }), 9.0 * fn, 0);
  auto headW = randomFloats(c.classes * features, 80, 0.1f);
  auto headB = randomFloats(c.classes, 81);
  auto logits = randomFloats(c.batch * c.classes, 82);
  auto dLogits = randomFloats(c.batch * c.classes, 83);
  auto dHeadW = randomFloats(c.classes * features, 84);
  auto dHeadB = randomFloats(c.classes, 85);
  auto labels = randomIds(c.batch, 86, c.classes);
  const double headFlops = 2.0 * c.batch * features * c.classes;
  add("linear.forward", timer.meanMs(it, [&] {
        linearForward(dropped.get(), headW.get(), headB.get(), logits.get(), c.batch, features, c.classes, s);
      }), 0, headFlops);
  add("linear.backwardInput", timer.meanMs(it, [&] {
        linearBackwardInput(dLogits.get(), headW.get(), dPooled.get(), c.batch, features, c.classes, s);
      }), 0, headFlops);
  add("linear.backwardWeight", timer.meanMs(it, [&] {
        linearBackwardWeight(dropped.get(), dLogits.get(), dHeadW.get(), c.batch, features, c.classes, ws, s);
      }), 0, headFlops);
  add("linear.backwardBias", timer.meanMs(it, [&] {
        linearBackwardBias(dLogits.get(), dHeadB.get(), c.batch, c.classes, ws, s);
      }), f4 * c.batch * c.classes, 0);
  DeviceBuffer<CrossEntropyTotals> totals(1);
  add("softmaxCrossEntropy", timer.meanMs(it, [&] {
        softmaxCrossEntropy(logits.get(), labels.get(), c.batch, c.classes, nullptr, 0.0f, dLogits.get(),
                            totals.get(), ws, s);
      }), 2 * f4 * c.batch * c.classes, 0);

  // Optimizers over every parameter of the model, as one flat array.
  auto optimizerRows = [&](size_t n, const std::string& tag) {
    auto p = randomFloats(n, 90, 0.1f);
    auto g = randomFloats(n, 91, 0.01f);
    auto m = randomFloats(n, 92, 0.0f);
    auto v = randomFloats(n, 93, 0.0f);
    AdamConfig adam{1e-3, 0.9, 0.999, 1e-8, 0.0, false};
    int64_t step = 0;
    add("adam" + tag, timer.meanMs(it, [&] { adamUpdate(adam, ++step, p.get(), g.get(), m.get(), v.get(), n, s); }),
        7 * f4 * n, 0);
    add("copy (device to device)" + tag, timer.meanMs(it, [&] {
          FT_CUDA_CHECK(cudaMemcpyAsync(m.get(), p.get(), n * sizeof(float), cudaMemcpyDeviceToDevice, s));
        }), 2 * f4 * n, 0);
    return std::make_pair(std::move(p), std::move(g));
  };
  const size_t params = c.vocab * c.dim + convParams + c.classes * features + c.classes;
  const std::string modelTag = " (" + std::to_string(params) + " params)";
  {
    auto pg = optimizerRows(params, modelTag);
    auto buf = randomFloats(params, 94, 0.0f);
    auto sq = randomFloats(params, 95, 0.0f);
    auto acc = randomFloats(params, 96, 0.0f);
    SgdConfig sgd{0.01, 0.9, 0.0, 0.0, false};
    add("sgd momentum" + modelTag, timer.meanMs(it, [&] {
          sgdUpdate(sgd, false, pg.first.get(), pg.second.get(), buf.get(), params, s);
        }), 5 * f4 * params, 0);
    AdadeltaConfig ada{1.0, 0.9, 1e-6, 0.0};
    add("adadelta" + modelTag, timer.meanMs(it, [&] {
          adadeltaUpdate(ada, pg.first.get(), pg.second.get(), sq.get(), acc.get(), params, s);
        }), 7 * f4 * params, 0);
    DeviceBuffer<double> norm(1);
    float* grads[] = {pg.second.get()};
    const size_t sizes[] = {params};
    add("clipGradNorm" + modelTag, timer.meanMs(it, [&] {
          clipGradNorm(grads, sizes, 1, 1e30, norm.get(), ws, s);
        }), f4 * params, 0);
    add("maxNormRows (head)", timer.meanMs(it, [&] {
          maxNormRows(headW.get(), c.classes, features, 3.0, s);
        }), 2 * f4 * c.classes * features, 0);
  }
  if (c.bandwidthElements > 0) {
    optimizerRows(c.bandwidthElements, " (" + std::to_string(c.bandwidthElements) + " floats)");
  }
  FT_CUDA_CHECK(cudaDeviceSynchronize());
  return rows;
}

}  // namespace ft::cuda
