#pragma once
// Launchers of the CUDA kernels of kernels/cuda/*.cu. Plain types only (no Tensor, no fmt): the Tensor-level
// entry points of cuda_ops.h (cuda_ops.cpp, compiled by g++) validate, build the descriptors and call these.
// Every launcher returns the launch status; T is float or double.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/element_math.h"
#include "tensor/cuda/launch_util.h"

namespace agf::cuda {

template <typename T>
cudaError_t launch_unary(T* out, const T* x, int64_t n, const StridedDesc<2>& d, UnaryOp op, T p);
template <typename T>
cudaError_t launch_unary_backward(T* gx, const T* gy, const T* x, const T* y, int64_t n, const StridedDesc<4>& d,
                                  UnaryOp op, T p);
template <typename T>
cudaError_t launch_binary(T* out, const T* a, const T* b, int64_t n, const StridedDesc<3>& d, BinaryOp op);
template <typename T>
cudaError_t launch_axpy(T* y, const T* x, int64_t n, const StridedDesc<2>& d, T alpha);

// theta, m, v contiguous; grad strided like theta's logical layout.
template <typename T>
cudaError_t launch_adamw(T* theta, T* m, T* v, const T* grad, int64_t n, const StridedDesc<1>& grad_desc,
                         const math::AdamWScalars& scalars);
// theta contiguous: theta[i] = fma(scale, normal(seed, offset + i), theta[i]).
template <typename T>
cudaError_t launch_perturb(T* theta, int64_t n, uint64_t seed, uint64_t offset, T scale);

}  // namespace agf::cuda
