// benchKernels({ batch, length, dim, vocab, widths, maps, classes, iters,
// bandwidthElements }) -> [{ name, ms, bytes, flops }]: device-resident kernel
// timings (see cuda/bench.h).
#include <napi.h>

#include "addon/args.h"
#include "cuda/bench.h"
#include "cuda/bindings.h"

namespace ft::cudaaddon {

namespace {

Napi::Value BenchKernels(const Napi::CallbackInfo& info) {
  addon::Args a(info, "benchKernels");
  cuda::BenchConfig c;
  c.batch = a.sizeOr("batch", c.batch, 1, 1 << 20);
  c.length = a.sizeOr("length", c.length, 1, 1 << 16);
  c.dim = a.sizeOr("dim", c.dim, 1, 1 << 16);
  c.vocab = a.sizeOr("vocab", c.vocab, 2, 1 << 24);
  c.maps = a.sizeOr("maps", c.maps, 1, 1 << 16);
  c.classes = a.sizeOr("classes", c.classes, 1, 1 << 16);
  c.iters = static_cast<int>(a.integerOr("iters", c.iters, 1, 10000));
  c.bandwidthElements = a.sizeOr("bandwidthElements", c.bandwidthElements, 0, size_t{1} << 31);
  Napi::Value widths = a.get("widths");
  if (!widths.IsUndefined()) {
    Napi::Array list = a.array("widths");
    c.widths.clear();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Value v = list.Get(i);
      if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 1 || v.As<Napi::Number>().DoubleValue() > 64) {
        a.typeError("widths[i]", "an integer in [1, 64]", v);
      }
      c.widths.push_back(static_cast<size_t>(v.As<Napi::Number>().Int64Value()));
    }
  }
  const std::vector<cuda::BenchRow> rows = cuda::benchKernels(c);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Napi::Object r = Napi::Object::New(env);
    r.Set("name", rows[i].name);
    r.Set("ms", rows[i].ms);
    r.Set("bytes", rows[i].bytes);
    r.Set("flops", rows[i].flops);
    out.Set(static_cast<uint32_t>(i), r);
  }
  return out;
}

}  // namespace

void registerBenchBindings(Napi::Env env, Napi::Object exports) {
  addGuarded(env, exports, Binding{"benchKernels", BenchKernels});
}

}  // namespace ft::cudaaddon
