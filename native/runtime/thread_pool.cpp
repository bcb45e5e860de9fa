#include "runtime/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FT_PAUSE() _mm_pause()
#else
#define FT_PAUSE() ((void)0)
#endif

namespace ft::runtime {

namespace {

thread_local bool tInsideRegion = false;

class Pool {
 public:
  Pool() { resize(defaultThreads()); }
  ~Pool() { stopWorkers(); }

  static size_t defaultThreads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
  }

  size_t threads() {
    return threads_.load(std::memory_order_relaxed);
  }

  void resize(size_t n) {
    n = std::clamp<size_t>(n, 1, 256);
    std::lock_guard<std::mutex> region(regionMutex_);
    if (n == threads_.load() && workers_.size() + 1 == n) return;
    stopWorkers();
    stop_ = false;
    // The generation is read here, not when the thread starts, so a region
    // opened before a new worker runs is not missed by it.
    const uint64_t seen = generation_.load();
    for (size_t i = 0; i + 1 < n; ++i) workers_.emplace_back([this, seen] { workerLoop(seen); });
    threads_.store(n);
  }

  void run(size_t tasks, TaskFn fn, void* context) {
    if (tasks == 0) return;
    if (tasks == 1 || tInsideRegion || threads_.load(std::memory_order_relaxed) == 1) {
      const bool was = tInsideRegion;
      tInsideRegion = true;
      for (size_t t = 0; t < tasks; ++t) fn(context, t);
      tInsideRegion = was;
      return;
    }
    std::lock_guard<std::mutex> region(regionMutex_);
    // A worker that woke late for the previous region may still be leaving
    // it; the region's fields change only when none is inside (workers
    // register under mutex_, so none can enter between the check and the write).
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (active_ == 0) {
          fn_ = fn;
          context_ = context;
          tasks_ = tasks;
          next_.store(0, std::memory_order_relaxed);
          done_.store(0, std::memory_order_relaxed);
          generation_.fetch_add(1, std::memory_order_release);
          break;
        }
      }
      FT_PAUSE();
    }
    wake_.notify_all();
    tInsideRegion = true;
    work();
    tInsideRegion = false;
    // Wait for the tasks other threads took.
    for (int spin = 0; done_.load(std::memory_order_acquire) < tasks; ++spin) {
      if (spin < 20000) {
        FT_PAUSE();
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  void work() {
    const size_t tasks = tasks_;
    for (;;) {
      const size_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= tasks) break;
      fn_(context_, t);
      done_.fetch_add(1, std::memory_order_acq_rel);
    }
  }

  void workerLoop(uint64_t seen) {
    tInsideRegion = true;  // kernels called from a task never open a region
    for (;;) {
      // Spin a little for the next region (a training step opens many in a
      // row), then sleep.
      bool got = false;
      for (int spin = 0; spin < 4000; ++spin) {
        if (generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed)) {
          got = true;
          break;
        }
        FT_PAUSE();
      }
      if (!got) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen || stop_.load(); });
      }
      if (stop_.load()) return;
      {
        // Registering under the lock pairs with run()'s writes of the fields.
        std::lock_guard<std::mutex> lock(mutex_);
        seen = generation_.load(std::memory_order_acquire);
        ++active_;
      }
      work();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --active_;
      }
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex regionMutex_;  // one region at a time, process-wide
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> workers_;
  std::atomic<size_t> threads_{1};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> next_{0};
  std::atomic<size_t> done_{0};
  TaskFn fn_ = nullptr;
  void* context_ = nullptr;
  size_t tasks_ = 0;
  size_t active_ = 0;  // workers inside work(), guarded by mutex_
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static teardown order
  return *p;
}

}  // namespace

void parallelFor(size_t tasks, TaskFn fn, void* context) { pool().run(tasks, fn, context); }
size_t threadCount() { return pool().threads(); }
void setThreadCount(size_t n) { pool().resize(n); }

}  // namespace ft::runtime
