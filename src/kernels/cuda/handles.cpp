// Per-device cuBLAS and cuDNN handles. They are never destroyed: destroying them at exit races the driver's own
// teardown, and a process has one per device.
#include "kernels/cuda/handles.h"

#include <cstdlib>
#include <mutex>
#include <vector>

#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/device.h"

namespace agf::cuda {

namespace {

int current_device() {
  int index = 0;
  AGF_CUDA_CHECK(cudaGetDevice(&index));
  return index;
}

template <typename H, typename Create>
H per_device(std::vector<H>& handles, std::mutex& mu, Create create) {
  const int index = current_device();
  std::lock_guard lk(mu);
  if (handles.empty()) handles.resize(cuda_device_count(), nullptr);
  AGF_CHECK(index < static_cast<int>(handles.size()), "no CUDA device {}", index);
  if (handles[index] == nullptr) handles[index] = create();
  return handles[index];
}

}  // namespace

cublasHandle_t cublas_handle() {
  static std::mutex mu;
  static auto* handles = new std::vector<cublasHandle_t>();
  return per_device(*handles, mu, [] {
    cublasHandle_t h = nullptr;
    AGF_CUBLAS_CHECK(cublasCreate(&h));
    AGF_CUBLAS_CHECK(cublasSetStream(h, current_stream()));
    AGF_CUBLAS_CHECK(cublasSetMathMode(h, tf32_allowed() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return h;
  });
}

cudnnHandle_t cudnn_handle() {
  static std::mutex mu;
  static auto* handles = new std::vector<cudnnHandle_t>();
  return per_device(*handles, mu, [] {
    cudnnHandle_t h = nullptr;
    AGF_CUDNN_CHECK(cudnnCreate(&h));
    AGF_CUDNN_CHECK(cudnnSetStream(h, current_stream()));
    return h;
  });
}

bool tf32_allowed() {
  static const bool on = [] {
    const char* env = std::getenv("AGF_TF32");
    return env != nullptr && std::string(env) != "0" && std::string(env) != "";
  }();
  return on;
}

size_t cublas_workspace_bytes() {
  int major = 0;
  AGF_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, current_device()));
  return major >= 9 ? (size_t{32} << 20) : (size_t{4} << 20);
}

}  // namespace agf::cuda
