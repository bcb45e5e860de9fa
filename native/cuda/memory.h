#pragma once
// Device memory owners. DeviceBuffer is one cudaMalloc'd array freed by its
// destructor, so an exception between allocation and use leaks nothing;
// Workspace is grow-only scratch that kernels carve temporaries from.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "cuda/check.h"

namespace ft::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { allocate(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }

  void allocate(size_t count) {
    release();
    if (count == 0) return;
    void* p = nullptr;
    FT_CUDA_CHECK(cudaMalloc(&p, count * sizeof(T)));
    ptr_ = static_cast<T*>(p);
    count_ = count;
  }
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);  // an error here (device lost) cannot be reported from a destructor
    ptr_ = nullptr;
    count_ = 0;
  }

  T* get() const { return ptr_; }
  size_t size() const { return count_; }

  // Synchronous copies (pageable host memory); n defaults to the whole buffer.
  void upload(const T* host, size_t n) {
    if (n) FT_CUDA_CHECK(cudaMemcpy(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice));
  }
  void upload(const T* host) { upload(host, count_); }
  void download(T* host, size_t n) const {
    if (n) FT_CUDA_CHECK(cudaMemcpy(host, ptr_, n * sizeof(T), cudaMemcpyDeviceToHost));
  }
  void download(T* host) const { download(host, count_); }
  void zero(cudaStream_t stream = nullptr) {
    if (count_) FT_CUDA_CHECK(cudaMemsetAsync(ptr_, 0, count_ * sizeof(T), stream));
  }

 private:
  T* ptr_ = nullptr;
  size_t count_ = 0;
};

// A buffer of `count` elements holding a copy of host data (nullptr host: zeros).
template <class T>
DeviceBuffer<T> toDevice(const T* host, size_t count) {
  DeviceBuffer<T> b(count);
  if (host) {
    b.upload(host, count);
  } else if (count) {
    FT_CUDA_CHECK(cudaMemset(b.get(), 0, count * sizeof(T)));
  }
  return b;
}

// Scratch memory, reused across calls on one stream. take() hands out
// 256-byte aligned pieces from one allocation; reset() (at the start of an op)
// makes all of it free again. Growing frees the old block after a device
// synchronisation, so pieces handed out earlier in the same op must not be
// held across a grow: ops reserve() their total first.
class Workspace {
 public:
  Workspace() = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  static constexpr size_t kAlign = 256;
  static size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

  // Makes at least `bytes` available from offset 0 and resets the cursor.
  void reserve(size_t bytes) {
    cursor_ = 0;
    if (bytes <= buffer_.size()) return;
    if (buffer_.size()) FT_CUDA_CHECK(cudaDeviceSynchronize());  // earlier work may still read the old block
    buffer_.allocate(aligned(bytes + bytes / 4));
  }

  template <class T>
  T* take(size_t count) {
    const size_t bytes = aligned(count * sizeof(T));
    if (cursor_ + bytes > buffer_.size()) throwInvalid("cuda::Workspace: take() beyond reserve()");
    T* p = reinterpret_cast<T*>(buffer_.get() + cursor_);
    cursor_ += bytes;
    return p;
  }

  size_t capacity() const { return buffer_.size(); }

 private:
  DeviceBuffer<unsigned char> buffer_;
  size_t cursor_ = 0;
};

}  // namespace ft::cuda
