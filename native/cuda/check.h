#pragma once
// CUDA errors as C++ exceptions. Every runtime call and every kernel launch in
// native/cuda goes through FT_CUDA_CHECK / FT_CUDA_CHECK_LAUNCH, so a failure
// carries the failing call, its file:line and cudaGetErrorString, and the
// binding turns it into a JS Error (code ERR_FINETUNE_CUDA) instead of the
// process aborting. Plain C++ (no device code), usable from .cpp and .cu files.
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace ft::cuda {

class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, const std::string& call, const char* file, int line);

  cudaError_t code() const { return code_; }
  // The runtime's name of the error ("cudaErrorMemoryAllocation").
  const char* name() const { return cudaGetErrorName(code_); }
  // A sticky error (illegal address, launch failure, ...) leaves the context
  // unusable: every later call fails the same way until the process exits.
  bool sticky() const { return sticky_; }
  const std::string& call() const { return call_; }

 private:
  cudaError_t code_;
  std::string call_;
  bool sticky_;
};

// Whether `code` is one of the errors that corrupt the context.
bool isStickyError(cudaError_t code);

[[noreturn]] void throwCudaError(cudaError_t code, const char* call, const char* file, int line);

// Thrown for misuse that the bindings should already have rejected (sizes
// over the kernels' int limits and the like): a bug, not a device fault.
[[noreturn]] void throwInvalid(const std::string& message);

}  // namespace ft::cuda

#define FT_CUDA_CHECK(call)                                                   \
  do {                                                                        \
    const cudaError_t ft_cuda_err_ = (call);                                  \
    if (ft_cuda_err_ != cudaSuccess) {                                        \
      ::ft::cuda::throwCudaError(ft_cuda_err_, #call, __FILE__, __LINE__);    \
    }                                                                         \
  } while (0)

// After a <<<...>>> launch: configuration errors surface here at once,
// execution errors at the next synchronising call (also checked).
#define FT_CUDA_CHECK_LAUNCH(what)                                            \
  do {                                                                        \
    const cudaError_t ft_cuda_err_ = cudaGetLastError();                      \
    if (ft_cuda_err_ != cudaSuccess) {                                        \
      ::ft::cuda::throwCudaError(ft_cuda_err_, "launch of " what, __FILE__, __LINE__); \
    }                                                                         \
  } while (0)
