#pragma once
// For the C++ side of the CUDA backend (compiled by g++, linked with cudart): every runtime call and every
// launcher's result goes through this, so a failure is an agf::Error naming the call and the reason.
#include <cuda_runtime.h>

#include "tensor/error.h"

#define AGF_CUDA_CHECK(expr)                                                                  \
  do {                                                                                        \
    cudaError_t agf_err_ = (expr);                                                            \
    if (agf_err_ != cudaSuccess) [[unlikely]]                                                 \
      AGF_FAIL("CUDA error in {}: {} ({})", #expr, cudaGetErrorString(agf_err_),             \
               cudaGetErrorName(agf_err_));                                                   \
  } while (0)
