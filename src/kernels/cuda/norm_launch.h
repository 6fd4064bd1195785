#pragma once
// Launchers of the normalisation, softmax and BCE kernels of kernels/cuda/norm.cu. Plain types only (no Tensor, no
// fmt): kernels/cuda/norm_ops.cpp (g++) fills these argument structs from the tensors and calls them. Every
// launcher issues its kernels on current_stream() and returns the launch status; T is float or double. Strides
// and offsets are in elements; an optional operand is a null pointer.
#include <cuda_runtime.h>

#include <cstdint>

#include "tensor/cuda/launch_util.h"

namespace agf::cuda {

// A batch-norm operand seen as (B, C, T): the element strides of its dims (t = 0 for a (B, C) tensor, T = 1).
struct ChannelStrides {
  int64_t b = 0, c = 0, t = 0;
};

template <typename T>
struct BatchNormArgs {
  int64_t batch = 0, channels = 0, time = 1;
  const T* x = nullptr;
  ChannelStrides xs;
  T* y = nullptr;  // may be x itself (the fused in-place BatchNorm + leaky ReLU)
  ChannelStrides ys;
  const T* gamma = nullptr;  // gamma and beta: null without the affine transform
  const T* beta = nullptr;
  T* running_mean = nullptr;  // null in training without running statistics
  T* running_var = nullptr;
  T* save_mean = nullptr;
  T* save_invstd = nullptr;
  int64_t s_gamma = 0, s_beta = 0, s_rm = 0, s_rv = 0, s_sm = 0, s_si = 0;
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
  bool leaky = false;  // y = leaky_relu(bn(x), slope)
  T slope = T(0);
};

template <typename T>
struct BatchNormBackwardArgs {
  int64_t batch = 0, channels = 0, time = 1;
  const T* x = nullptr;
  ChannelStrides xs;
  const T* grad_y = nullptr;
  ChannelStrides gys;
  T* grad_x = nullptr;
  ChannelStrides gxs;
  const T* gamma = nullptr;  // null: no affine transform, and no grad_gamma / grad_beta
  const T* save_mean = nullptr;
  const T* save_invstd = nullptr;
  T* grad_gamma = nullptr;
  T* grad_beta = nullptr;
  int64_t s_gamma = 0, s_sm = 0, s_si = 0, s_gg = 0, s_gb = 0;
  bool training = true;
};

// Layer norm over `rows` rows of length D (the last dim); rd gives each row's start in x, y, mean and rstd.
template <typename T>
struct LayerNormArgs {
  int64_t rows = 0, D = 0;
  StridedDesc<4> rd;  // over the leading dims: x, y, mean, rstd
  const T* x = nullptr;
  T* y = nullptr;
  T* mean = nullptr;
  T* rstd = nullptr;
  const T* gamma = nullptr;  // gamma and beta: null without the affine transform
  const T* beta = nullptr;
  int64_t sx = 0, sy = 0, s_gamma = 0, s_beta = 0;
  double eps = 1e-5;
};

template <typename T>
struct LayerNormBackwardArgs {
  int64_t rows = 0, D = 0;
  StridedDesc<5> rd;  // over the leading dims: x, grad_y, grad_x, mean, rstd
  const T* x = nullptr;
  const T* grad_y = nullptr;
  T* grad_x = nullptr;
  const T* mean = nullptr;
  const T* rstd = nullptr;
  const T* gamma = nullptr;  // null: no affine transform, and no grad_gamma / grad_beta
  T* grad_gamma = nullptr;
  T* grad_beta = nullptr;
  int64_t sx = 0, sgy = 0, sgx = 0, s_gamma = 0, s_gg = 0, s_gb = 0;
};

// Softmax over rows of length D; causal: row r is query r % n_queries and sees keys 0..that index.
template <typename T>
struct SoftmaxArgs {
  int64_t rows = 0, D = 0;
  StridedDesc<2> rd;  // over the leading dims: x, y
  const T* x = nullptr;
  T* y = nullptr;
  int64_t sx = 0, sy = 0;
  bool causal = false;
  int64_t n_queries = 1;
};

template <typename T>
struct SoftmaxBackwardArgs {
  int64_t rows = 0, D = 0;
  StridedDesc<3> rd;  // over the leading dims: grad_x, grad_y, y
  T* grad_x = nullptr;
  const T* grad_y = nullptr;
  const T* y = nullptr;
  int64_t sgx = 0, sgy = 0, sy = 0;
};

template <typename T>
cudaError_t launch_batch_norm(const BatchNormArgs<T>& a);
template <typename T>
cudaError_t launch_batch_norm_backward(const BatchNormBackwardArgs<T>& a);
template <typename T>
cudaError_t launch_layer_norm(const LayerNormArgs<T>& a);
template <typename T>
cudaError_t launch_layer_norm_backward(const LayerNormBackwardArgs<T>& a);
template <typename T>
cudaError_t launch_softmax(const SoftmaxArgs<T>& a);
template <typename T>
cudaError_t launch_softmax_backward(const SoftmaxBackwardArgs<T>& a);

// BCE with logits over n elements in logits' logical order; pos_weight (null: 1) is strided like the others (stride
// 0 on the leading dims). Element-wise: d = (out, logits, targets, pos_weight).
template <typename T>
cudaError_t launch_bce_with_logits(T* out, const T* logits, const T* targets, const T* pos_weight, int64_t n,
                                   const StridedDesc<4>& d);
// The sum (mean: divided by n) of the element losses into *out, in double: d = (logits, targets, pos_weight).
template <typename T>
cudaError_t launch_bce_with_logits_sum(T* out, const T* logits, const T* targets, const T* pos_weight, int64_t n,
                                       const StridedDesc<3>& d, bool mean);
// grad_logits = grad * scale * d loss / d logits: d = (grad_logits, grad, logits, targets, pos_weight), grad with
// stride 0 everywhere for mean/sum.
template <typename T>
cudaError_t launch_bce_with_logits_backward(T* grad_logits, const T* grad, const T* logits, const T* targets,
                                            const T* pos_weight, int64_t n, const StridedDesc<5>& d, T scale);

}  // namespace agf::cuda
