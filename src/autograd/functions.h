#pragma once
// Differentiable ops: each runs the raw kernel of kernels/ops.h and, when an input needs a gradient and grad mode
// is on, records a node whose closure computes the input gradients with the backward kernels. Under NoGradGuard
// these are exactly the raw kernels.
#include <vector>

#include "autograd/autograd.h"
#include "kernels/ops.h"

namespace agf::ag {

// ---- element-wise (broadcasting for binary ops) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor unary(UnaryOp op, const Tensor& x, double param = 0.0);
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::square, x); }
inline Tensor leaky_relu(const Tensor& x, double slope) { return unary(UnaryOp::leaky_relu, x, slope); }
inline Tensor scale(const Tensor& x, double s) { return unary(UnaryOp::mul_scalar, x, s); }

// In-place forms for intermediates the caller owns outright (no other handle): under NoGrad they write into `a`
// (resp. `x`) and return it, so an inference or zeroth-order forward holds one buffer fewer; when recording they are
// the ordinary out-of-place ops.
Tensor add_owned(Tensor a, const Tensor& b);
Tensor leaky_relu_owned(Tensor x, double slope);

// ---- reductions ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);  // values; the gradient goes to the argmax

// ---- shape (views where the raw op is a view; gradients flow back through them) ----
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor contiguous(const Tensor& x);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);

// ---- linear algebra ----
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// y = x W^T + b for W (out, in); x (..., in).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// y = x W + b for an input-major W (in, out), as GPT-2's Conv1D stores c_attn / c_proj.
Tensor linear_input_major(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- network ops ----
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args);
Tensor avg_pool1d(const Tensor& x, int64_t k, int64_t s);
Tensor max_pool1d(const Tensor& x, int64_t k, int64_t s);
// Running statistics are buffers (no gradient), updated in place in training mode.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
Tensor softmax(const Tensor& x, bool causal = false);
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& pos_weight = {},
                       ops::Reduction reduction = ops::Reduction::mean);
// Identity forward; backward multiplies sample b's gradient by mask[b] (0 or 1). x (B, ...), mask (B).
// The per-sample gradient gate of spec/model.md.
Tensor gradient_gate(const Tensor& x, const Tensor& mask);

}  // namespace agf::ag
