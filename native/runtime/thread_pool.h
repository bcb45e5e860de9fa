#pragma once
// The native thread pool used inside kernels.
//
// One process-wide pool of (threads - 1) workers; the calling thread takes
// part in every parallel region. Regions are serialised by a mutex, so two
// programs training at once (two libuv workers) take turns instead of
// deadlocking; a region opened from inside a region runs inline. Tasks are
// handed out dynamically, so kernels must make each task's result independent
// of which thread runs it (they split by output, never by reduction index):
// results are then bitwise independent of the thread count.
#include <cstddef>

namespace ft::runtime {

using TaskFn = void (*)(void* context, size_t task);

// Runs fn(context, t) for every t in [0, tasks); returns when all are done.
// With one thread, one task or when nested, runs them in order on the caller.
void parallelFor(size_t tasks, TaskFn fn, void* context);

// Threads used by parallelFor (>= 1; the default is hardware_concurrency).
size_t threadCount();
// Resizes the pool; n is clamped to [1, 256]. Waits for a running region.
void setThreadCount(size_t n);

// Convenience for C++ callers: parallelFor with a callable f(size_t task).
template <class F>
void parallelForEach(size_t tasks, F& f) {
  parallelFor(
      tasks, [](void* c, size_t t) { (*static_cast<F*>(c))(t); }, &f);
}

}  // namespace ft::runtime
