#pragma once
// Launchers of the reduction and pooling kernels of kernels/cuda/reduce.cu. Plain types only, like launchers.h: the
// Tensor-level entry points (reduce_ops.cpp, compiled by g++) build the descriptors and workspaces and call these.
// Every launcher issues its kernels on current_stream() and returns the launch status; T is float or double.
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/cuda/launch_util.h"

namespace agf::cuda {

// ops::ReduceOp's values (kernels/ops.h), here without the Tensor headers.
enum class ReduceKind : uint8_t { sum, mean, max, min, sumsq };

// A reduction of x: `kept` iterates the outputs (operands out, x), `red` the reduced elements of one output (operand
// x). A small number of outputs over many elements each is split into `parts` partial results per output, combined
// in a second kernel in a fixed order; reduce_parts says how many, a function of the shapes and strides only. When it
// is > 1 the launcher needs `partials`, a device workspace of (number of outputs) * parts doubles.
int64_t reduce_parts(const StridedDesc<2>& kept, const StridedDesc<1>& red);
template <typename T>
cudaError_t launch_reduce(T* out, const T* x, const StridedDesc<2>& kept, const StridedDesc<1>& red, ReduceKind op,
                          double* partials);

// Max over one dim with its argmax (math::argmax_nan_first): `kept` iterates the outputs (operands values, indices,
// x), the reduced dim of x has n_red >= 1 elements at stride red_stride.
template <typename T>
cudaError_t launch_max_dim(T* values, int64_t* indices, const T* x, const StridedDesc<3>& kept, int64_t n_red,
                           int64_t red_stride);
// gx[arg * red_stride] += gv for each kept element (operands gx, gv, indices). An index outside [0, n_red) is
// skipped and reported: bad (2 device int64, zeroed by the caller) becomes {1, that index}.
template <typename T>
cudaError_t launch_max_dim_backward(T* gx, const T* gv, const int64_t* indices, const StridedDesc<3>& kept,
                                    int64_t n_red, int64_t red_stride, int64_t* bad);

// Pooling over the last dim, no padding: `lead` iterates the leading dims (operands in argument order), the last dim
// has its own length and stride per operand. Window t covers input steps [t * s, t * s + k).
template <typename T>
cudaError_t launch_avg_pool1d(T* out, const T* x, const StridedDesc<2>& lead, int64_t t_out, int64_t ys, int64_t xs,
                              int64_t k, int64_t s);
// Writes every element of gx (those in no window get 0).
template <typename T>
cudaError_t launch_avg_pool1d_backward(T* gx, const T* gy, const StridedDesc<2>& lead, int64_t t_in, int64_t t_out,
                                       int64_t gxs, int64_t gys, int64_t k, int64_t s);
template <typename T>
cudaError_t launch_max_pool1d(T* out, int64_t* indices, const T* x, const StridedDesc<3>& lead, int64_t t_out,
                              int64_t ys, int64_t is, int64_t xs, int64_t k, int64_t s);
// Writes every element of gx: the sum of the grad_y steps whose index names it (operands gx, gy, indices). Indices
// outside [0, t_in) are skipped and reported in bad as for launch_max_dim_backward.
template <typename T>
cudaError_t launch_max_pool1d_backward(T* gx, const T* gy, const int64_t* indices, const StridedDesc<3>& lead,
                                       int64_t t_in, int64_t t_out, int64_t gxs, int64_t gys, int64_t is,
                                       int64_t* bad);

}  // namespace agf::cuda
