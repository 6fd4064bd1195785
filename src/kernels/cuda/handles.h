#pragma once
// The cuBLAS and cuDNN handles of each device, created on first use and bound to the device's stream
// (tensor/cuda/stream.h), and the math policy they run with. Compiled by g++.
#include <cublas_v2.h>
#include <cudnn.h>

#include <string>

#include "tensor/error.h"

#define AGF_CUBLAS_CHECK(expr)                                                                                  \
  do {                                                                                                          \
    const cublasStatus_t agf_st_ = (expr);                                                                      \
    if (agf_st_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                                          \
      AGF_FAIL("cuBLAS error in {}: {} ({})", #expr, cublasGetStatusString(agf_st_), cublasGetStatusName(agf_st_)); \
  } while (0)

#define AGF_CUDNN_CHECK(expr)                                                                        \
  do {                                                                                               \
    const cudnnStatus_t agf_st_ = (expr);                                                            \
    if (agf_st_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                                \
      AGF_FAIL("cuDNN error in {}: {}", #expr, cudnnGetErrorString(agf_st_));                       \
  } while (0)

namespace agf::cuda {

// The handle of the current device (cudaGetDevice), already set to its stream.
cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();

// float32 GEMMs and convolutions run in full FP32 by default, so the CUDA backend agrees with the CPU reference to
// float rounding; AGF_TF32=1 lets cuBLAS and cuDNN use TF32 tensor cores (about 10 bits of mantissa: faster,
// less exact, what PyTorch allows for convolutions by default).
bool tf32_allowed();

// cuBLAS's workspace per call, drawn from the ledger (tag workspace): 32 MiB on sm_90 and newer, 4 MiB before, the
// sizes NVIDIA's cuBLAS documentation recommends.
size_t cublas_workspace_bytes();

}  // namespace agf::cuda
