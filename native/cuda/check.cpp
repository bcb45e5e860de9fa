#include "cuda/check.h"

#include <cstring>

namespace ft::cuda {

namespace {
// Paths relative to the repository ("native/cuda/conv1d.cu"), not the build machine's.
const char* shortPath(const char* file) {
  const char* at = std::strstr(file, "native/cuda/");
  return at ? at : file;
}

std::string describe(cudaError_t code, const std::string& call, const char* file, int line) {
  return std::string("CUDA error at ") + shortPath(file) + ":" + std::to_string(line) + " in " + call + ": " +
         cudaGetErrorString(code) + " (" + cudaGetErrorName(code) + ")";
}
}  // namespace

bool isStickyError(cudaError_t code) {
  switch (code) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
    case cudaErrorUnknown:
      return true;
    default:
      return false;
  }
}

CudaError::CudaError(cudaError_t code, const std::string& call, const char* file, int line)
    : std::runtime_error(describe(code, call, file, line)), code_(code), call_(call), sticky_(isStickyError(code)) {}

void throwCudaError(cudaError_t code, const char* call, const char* file, int line) {
  // Clear a non-sticky error so that the next call starts clean (a sticky one
  // cannot be cleared; the binding then marks the device lost).
  cudaGetLastError();
  throw CudaError(code, call, file, line);
}

void throwInvalid(const std::string& message) { throw std::invalid_argument(message); }

}  // namespace ft::cuda
