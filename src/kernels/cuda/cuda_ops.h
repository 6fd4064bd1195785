#pragma once
// The CUDA backend's entry points, same contract as kernels/cpu/cpu_ops.h. Only declared when the backend is
// built; kernels/ops_*.cpp route here for tensors on a CUDA device and refuse ops that have no kernel yet.
#include "kernels/ops.h"

namespace agf::cuda {

void unary(const Tensor& out, UnaryOp op, const Tensor& x, double p);
void unary_backward(const Tensor& grad_x, UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y,
                    double p);
void binary(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b);
void axpy(const Tensor& y, double alpha, const Tensor& x);
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const ops::AdamWArgs& a);
void perturb(const Tensor& param, uint64_t seed, uint64_t offset, double scale);

}  // namespace agf::cuda
