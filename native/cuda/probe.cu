// Proves the CUDA toolchain path compiles and links; the real kernels live
// beside it, one file per op family like native/cpu/.
#include "probe.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace ft::cuda {

namespace {
__global__ void addOneKernel(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}
__global__ void faultKernel(int* bad) { *bad = 1; }
}  // namespace

int injectDeviceFault() {
  faultKernel<<<1, 1>>>(reinterpret_cast<int*>(static_cast<uintptr_t>(16)));
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaDeviceSynchronize();
  return static_cast<int>(err);
}

ProbeResult probe() {
  ProbeResult r{0, 0, 0, "no error"};
  cudaRuntimeGetVersion(&r.runtimeVersion);
  cudaError_t err = cudaGetDeviceCount(&r.deviceCount);
  if (err != cudaSuccess) {
    r.deviceCount = 0;
    r.error = static_cast<int>(err);
    r.errorString = cudaGetErrorString(err);
    cudaGetLastError();  // clear the non-sticky error
  }
  return r;
}

int addOneOnDevice(float* host, int n) {
  float* dev = nullptr;
  cudaError_t err = cudaMalloc(&dev, sizeof(float) * n);
  if (err != cudaSuccess) return err;
  err = cudaMemcpy(dev, host, sizeof(float) * n, cudaMemcpyHostToDevice);
  if (err == cudaSuccess) {
    addOneKernel<<<(n + 255) / 256, 256>>>(dev, n);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) err = cudaMemcpy(host, dev, sizeof(float) * n, cudaMemcpyDeviceToHost);
  cudaFree(dev);
  return err;
}

}  // namespace ft::cuda
