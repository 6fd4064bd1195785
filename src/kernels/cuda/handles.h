#pragma once
// The cuBLAS and cuDNN handles of each device, created on first use and bound to the device's stream
// (tensor/cuda/stream.h), the math policy they run with, and cuBLAS itself, loaded when first used. Compiled by g++.
#include <cublas_v2.h>
#include <cudnn.h>

#include <string>

#include "tensor/error.h"

#define AGF_CUBLAS_CHECK(expr)                                                                                  \
  do {                                                                                                          \
    const cublasStatus_t agf_st_ = (expr);                                                                      \
    if (agf_st_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                                          \
      AGF_FAIL("cuBLAS error in {}: {} ({})", #expr, ::agf::cuda::cublas().status_string(agf_st_),         \
               ::agf::cuda::cublas().status_name(agf_st_));                                                 \
  } while (0)

#define AGF_CUDNN_CHECK(expr)                                                                        \
  do {                                                                                               \
    const cudnnStatus_t agf_st_ = (expr);                                                            \
    if (agf_st_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                                \
      AGF_FAIL("cuDNN error in {}: {}", #expr, cudnnGetErrorString(agf_st_));                       \
  } while (0)

namespace agf::cuda {

// cuBLAS is not linked but opened (dlopen) the first time a GEMM runs on a GPU: loading libcublas pulls in
// libcublasLt, whose relocations alone make about 94 MiB of anonymous and 57 MiB of file-backed resident memory
// (measured with CUDA 13.0): every app, --help included, carried 150 MiB before a single tensor on the CPU. The
// table's entries have cuBLAS's own prototypes (cublas_v2.h), so every call is type-checked as a direct one would be.
struct CublasApi {
  decltype(&::cublasCreate) create;
  decltype(&::cublasSetStream) set_stream;
  decltype(&::cublasSetMathMode) set_math_mode;
  decltype(&::cublasSetWorkspace) set_workspace;
  decltype(&::cublasGetVersion) get_version;
  decltype(&::cublasGetStatusString) status_string;
  decltype(&::cublasGetStatusName) status_name;
  decltype(&::cublasSgemm) sgemm;
  decltype(&::cublasDgemm) dgemm;
  decltype(&::cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&::cublasDgemmStridedBatched) dgemm_strided_batched;
};
// Loads libcublas.so.<the major version built against> on first call (the loader's search path, then the CUDA
// Toolkit's library folder of the build); a library or symbol that is missing is one error naming it.
const CublasApi& cublas();
// Whether this process has loaded cuBLAS (for the test that a CPU-only run never does).
bool cublas_loaded();

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
