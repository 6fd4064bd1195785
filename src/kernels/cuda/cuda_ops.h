#pragma once
// The CUDA backend's entry points, same contract as kernels/cpu/cpu_ops.h. Only declared when the backend is
// built; kernels/ops_*.cpp route here for tensors on a CUDA device and refuse ops that have no kernel yet.
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace agf::cuda {

void unary(const Tensor& out, UnaryOp op, const Tensor& x, double p);
void unary_backward(const Tensor& grad_x, UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y,
                    double p);
void binary(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b);
void axpy(const Tensor& y, double alpha, const Tensor& x);
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const ops::AdamWArgs& a);
void perturb(const Tensor& param, uint64_t seed, uint64_t offset, double scale);

// reductions and pooling (cuda/reduce_ops.cpp, cuda/reduce.cu)
void reduce(const Tensor& out, ops::ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims);
void max_dim(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim);
void max_dim_backward(const Tensor& grad_x, const Tensor& grad_values, const Tensor& indices, int64_t dim);
void avg_pool1d(const Tensor& out, const Tensor& x, int64_t k, int64_t s);
void avg_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, int64_t k, int64_t s);
void max_pool1d(const Tensor& out, const Tensor& indices, const Tensor& x, int64_t k, int64_t s);
void max_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& indices);

// GEMM through cuBLAS and convolutions through cuDNN (cuda/linalg_ops.cpp)
void matmul(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta);
void conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
            const Tensor& out2 = Tensor(), const Tensor& w2 = Tensor());
void conv1d_backward_input(const Tensor& grad_x, const Tensor& grad_y, const Tensor& w, ops::Conv1dArgs args);
void conv1d_backward_weight(const Tensor& grad_w, const Tensor& grad_y, const Tensor& x, ops::Conv1dArgs args);

// normalisation, softmax and the loss (cuda/norm_ops.cpp, cuda/norm.cu)
void batch_norm(const ops::BatchNormOut& out, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                const Tensor& running_mean, const Tensor& running_var, bool training, double momentum, double eps,
                const double* leaky_slope = nullptr);
void batch_norm_backward(const ops::NormGrads& out, const Tensor& grad_y, const Tensor& x, const Tensor& gamma,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training);
void layer_norm(const ops::LayerNormOut& out, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
void layer_norm_backward(const ops::NormGrads& out, const Tensor& grad_y, const Tensor& x, const Tensor& gamma,
                         const Tensor& mean, const Tensor& rstd);
void softmax(const Tensor& out, const Tensor& x, bool causal);
void softmax_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& y);
void bce_with_logits(const Tensor& out, const Tensor& logits, const Tensor& targets, const Tensor& pos_weight,
                     ops::Reduction reduction);
void bce_with_logits_backward(const Tensor& grad_logits, const Tensor& grad, const Tensor& logits,
                              const Tensor& targets, const Tensor& pos_weight, ops::Reduction reduction);

// the fusion kernels (cuda/spsa_ops.cpp, cuda/spsa.cu)
void spsa_perturb(const std::vector<Tensor>& params, const std::vector<uint64_t>& offsets,
                  const ops::SpsaDirection& d, double scale, int repeats);
std::vector<double> spsa_sqnorms(int device, const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets,
                                 const ops::SpsaDirection& d);
void fused_adamw(const Tensor& param, const Tensor& m, const Tensor& v, const ops::FusedGradient& g,
                 const ops::AdamWArgs& a);
double fused_gradient_kth_abs(int device, int64_t numel, const ops::FusedGradient& g, int64_t k);

// One line naming the device, cuBLAS and cuDNN versions, for the start-up line.
std::string backend_summary(int device);

}  // namespace agf::cuda
