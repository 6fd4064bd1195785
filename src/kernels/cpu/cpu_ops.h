#pragma once
// The CPU backend: the reference implementation of every op. Arguments arrive validated by kernels/ops_*.cpp
// and outputs preallocated with their final shapes, so these functions only compute.
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace agf::cpu {

using ops::ReduceOp;

void unary(const Tensor& out, UnaryOp op, const Tensor& x, double p);
void unary_backward(const Tensor& grad_x, UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y,
                    double p);
void binary(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b);  // a, b expanded to out's shape
void axpy(const Tensor& y, double alpha, const Tensor& x);

// out has x's shape with the reduced dims set to 1 (keepdim form); dims sorted, unique.
void reduce(const Tensor& out, ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims);
void max_dim(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim);  // keepdim form
void max_dim_backward(const Tensor& grad_x, const Tensor& grad_values, const Tensor& indices, int64_t dim);

void matmul(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
            double beta);  // a, b with batch dims already expanded to out's
// With out2 and w2 defined, also out2 = conv(x, w2) (no bias) from the same im2col columns.
void conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
            const Tensor& out2 = Tensor(), const Tensor& w2 = Tensor());
void conv1d_backward_input(const Tensor& grad_x, const Tensor& grad_y, const Tensor& w, ops::Conv1dArgs args);
void conv1d_backward_weight(const Tensor& grad_w, const Tensor& grad_y, const Tensor& x, ops::Conv1dArgs args);
// The same three through oneDNN (cpu/conv1d_onednn.cpp), float32 only. Each returns false, having done nothing, when
// oneDNN does not take the convolution: float64, a build without oneDNN, AGF_CONV=im2col, a layout only its
// reference kernel reads, or a scratchpad larger than max(im2col_bytes, 8 MiB), the columns the im2col path uses.
bool onednn_conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
                   int64_t im2col_bytes);
bool onednn_conv1d_backward_input(const Tensor& grad_x, const Tensor& grad_y, const Tensor& w, ops::Conv1dArgs args,
                                  int64_t im2col_bytes);
bool onednn_conv1d_backward_weight(const Tensor& grad_w, const Tensor& grad_y, const Tensor& x, ops::Conv1dArgs args,
                                   int64_t im2col_bytes);
// Which of oneDNN's two routes a float32 convolution may take (conv1d_onednn.cpp): none (im2col + BLAS), the plain
// (B, C, T) layout only, the channels-last route where it measured faster (the default), or wherever it can run.
enum class OnednnRoutes { off, plain, automatic, channels_last };
// Sets the routes (the initial state comes from AGF_CONV: im2col, plain, auto, channels_last) and, for tests, caps the
// records per channels-last chunk (0: the memory budget alone decides); returns the previous routes.
OnednnRoutes set_onednn_routes(OnednnRoutes r, int64_t chunk_cap = 0);
// How many passes the channels-last route has run in this process (tests check that it ran).
int64_t onednn_channels_last_runs();
std::string onednn_summary();  // which kernels the convolutions run, for the start-up line
void avg_pool1d(const Tensor& out, const Tensor& x, int64_t k, int64_t s);
void avg_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, int64_t k, int64_t s);
void max_pool1d(const Tensor& out, const Tensor& indices, const Tensor& x, int64_t k, int64_t s);
void max_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& indices);

// With leaky_slope, y = leaky_relu(batch_norm(x)) in the same pass; out.y may be x itself.
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
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const ops::AdamWArgs& a);
void perturb(const Tensor& param, uint64_t seed, uint64_t offset, double scale);
void spsa_perturb(const std::vector<Tensor>& params, const std::vector<uint64_t>& offsets,
                  const ops::SpsaDirection& d, double scale, int repeats);
std::vector<double> spsa_sqnorms(const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets,
                                 const ops::SpsaDirection& d);
void fused_adamw(const Tensor& param, const Tensor& m, const Tensor& v, const ops::FusedGradient& g,
                 const ops::AdamWArgs& a);
double fused_gradient_kth_abs(int64_t numel, const ops::FusedGradient& g, int64_t k);

}  // namespace agf::cpu
