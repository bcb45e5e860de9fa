#pragma once
// Plain C++ view of the CUDA toolchain probe; no CUDA types leak to callers.
namespace ft::cuda {
struct ProbeResult {
  int runtimeVersion;  // cudaRuntimeGetVersion, e.g. 13000
  int deviceCount;     // 0 when no usable GPU or driver
  int error;           // cudaError_t of the device query, 0 on success
  const char* errorString;
};
ProbeResult probe();
// Adds 1 to each of n floats on the device; returns a cudaError_t (0 = ok).
int addOneOnDevice(float* host, int n);
// Test hook: launches a kernel that writes to an invalid address and waits
// for it, so the sticky-fault path (device marked lost) can be tested.
// Returns the error the wait reported.
int injectDeviceFault();

}  // namespace ft::cuda
