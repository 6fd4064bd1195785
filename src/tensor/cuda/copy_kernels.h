#pragma once
// Launchers of the tensor layer's own kernels (strided copy with dtype conversion, fill). Plain types only.
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/cuda/launch_util.h"

namespace agf::cuda {

// Type codes are agf::DType values; both tensors on the current device. Returns the launch status.
cudaError_t launch_strided_copy(void* dst, int dst_dtype, const void* src, int src_dtype, int64_t n,
                                const StridedDesc<2>& desc);
cudaError_t launch_fill(void* dst, int dtype, double value, int64_t n, const StridedDesc<1>& desc);

}  // namespace agf::cuda
