// Tensor-level entry points of the CUDA normalisation, softmax and BCE kernels (compiled by g++): the launchers'
// argument structs from the tensors, then the launchers of kernels/cuda/norm.cu. Same contract as the CPU versions
// (kernels/cpu/norm.cpp, softmax.cpp, loss_optim.cpp): any strides on inputs and outputs, optional operands
// undefined. None needs a workspace, so none has anything to do while planning.
#include "kernels/cuda/cuda_ops.h"

#include "kernels/cuda/norm_launch.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/strided_desc.h"
#include "tensor/planning.h"

namespace agf::cuda {

namespace {

// The element pointer of a tensor, or null for an undefined (optional) one.
template <typename T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}
int64_t stride0(const Tensor& t) { return t.defined() ? t.stride(0) : 0; }
void set_device(const Tensor& t) { AGF_CUDA_CHECK(cudaSetDevice(t.device().index)); }

// A batch-norm operand (B, C) or (B, C, T) as (B, C, T) strides, as the CPU's ChannelView.
ChannelStrides channel_strides(const Tensor& t) {
  return {t.stride(0), t.stride(1), t.dim() == 3 ? t.stride(2) : 0};
}

// All dims but the last: the rows of a last-dim op.
Shape leading_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 1); }
int64_t row_count(const Tensor& t) {
  const int64_t D = t.size(-1);
  return D > 0 ? t.numel() / D : 0;
}

// pos_weight (K) as strides over logits' shape (..., K): stride 0 on the leading dims; all zeros when undefined.
Shape pos_weight_strides(const Tensor& pos_weight, const Shape& shape) {
  Shape st(shape.size(), 0);
  if (pos_weight.defined() && !shape.empty()) st.back() = pos_weight.stride(0);
  return st;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ batch norm

void batch_norm(const ops::BatchNormOut& out, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                const Tensor& running_mean, const Tensor& running_var, bool training, double momentum, double eps,
                const double* leaky_slope) {
  if (planning()) return;
  set_device(x);
  dispatch_float(x.dtype(), "batch_norm", [&]<typename T>() {
    BatchNormArgs<T> a;
    a.batch = x.size(0);
    a.channels = x.size(1);
    a.time = x.dim() == 3 ? x.size(2) : 1;
    a.x = ptr<T>(x);
    a.xs = channel_strides(x);
    a.y = ptr<T>(out.y);
    a.ys = channel_strides(out.y);
    a.gamma = ptr<T>(gamma);
    a.beta = ptr<T>(beta);
    a.running_mean = ptr<T>(running_mean);
    a.running_var = ptr<T>(running_var);
    a.save_mean = ptr<T>(out.save_mean);
    a.save_invstd = ptr<T>(out.save_invstd);
    a.s_gamma = stride0(gamma);
    a.s_beta = stride0(beta);
    a.s_rm = stride0(running_mean);
    a.s_rv = stride0(running_var);
    a.s_sm = stride0(out.save_mean);
    a.s_si = stride0(out.save_invstd);
    a.training = training;
    a.momentum = momentum;
    a.eps = eps;
    a.leaky = leaky_slope != nullptr;
    a.slope = leaky_slope != nullptr ? static_cast<T>(*leaky_slope) : T(0);
    AGF_CUDA_CHECK(launch_batch_norm<T>(a));
  });
}

void batch_norm_backward(const ops::NormGrads& out, const Tensor& grad_y, const Tensor& x, const Tensor& gamma,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training) {
  if (planning()) return;
  set_device(x);
  dispatch_float(x.dtype(), "batch_norm backward", [&]<typename T>() {
    BatchNormBackwardArgs<T> a;
    a.batch = x.size(0);
    a.channels = x.size(1);
    a.time = x.dim() == 3 ? x.size(2) : 1;
    a.x = ptr<T>(x);
    a.xs = channel_strides(x);
    a.grad_y = ptr<T>(grad_y);
    a.gys = channel_strides(grad_y);
    a.grad_x = ptr<T>(out.grad_x);
    a.gxs = channel_strides(out.grad_x);
    a.gamma = ptr<T>(gamma);
    a.save_mean = ptr<T>(save_mean);
    a.save_invstd = ptr<T>(save_invstd);
    a.grad_gamma = ptr<T>(out.grad_gamma);
    a.grad_beta = ptr<T>(out.grad_beta);
    a.s_gamma = stride0(gamma);
    a.s_sm = stride0(save_mean);
    a.s_si = stride0(save_invstd);
    a.s_gg = stride0(out.grad_gamma);
    a.s_gb = stride0(out.grad_beta);
    a.training = training;
    AGF_CUDA_CHECK(launch_batch_norm_backward<T>(a));
  });
}

// ------------------------------------------------------------------------------------------------ layer norm

void layer_norm(const ops::LayerNormOut& out, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  if (planning()) return;
  set_device(x);
  dispatch_float(x.dtype(), "layer_norm", [&]<typename T>() {
    LayerNormArgs<T> a;
    a.rows = row_count(x);
    a.D = x.size(-1);
    a.rd = strided_desc<4>(leading_shape(x), {x.strides().data(), out.y.strides().data(),
                                              out.mean.strides().data(), out.rstd.strides().data()});
    a.x = ptr<T>(x);
    a.y = ptr<T>(out.y);
    a.mean = ptr<T>(out.mean);
    a.rstd = ptr<T>(out.rstd);
    a.gamma = ptr<T>(gamma);
    a.beta = ptr<T>(beta);
    a.sx = x.stride(-1);
    a.sy = out.y.stride(-1);
    a.s_gamma = stride0(gamma);
    a.s_beta = stride0(beta);
    a.eps = eps;
    AGF_CUDA_CHECK(launch_layer_norm<T>(a));
  });
}

void layer_norm_backward(const ops::NormGrads& out, const Tensor& grad_y, const Tensor& x, const Tensor& gamma,
                         const Tensor& mean, const Tensor& rstd) {
  if (planning()) return;
  set_device(x);
  dispatch_float(x.dtype(), "layer_norm backward", [&]<typename T>() {
    LayerNormBackwardArgs<T> a;
    a.rows = row_count(x);
    a.D = x.size(-1);
    a.rd = strided_desc<5>(leading_shape(x), {x.strides().data(), grad_y.strides().data(),
                                              out.grad_x.strides().data(), mean.strides().data(),
                                              rstd.strides().data()});
    a.x = ptr<T>(x);
    a.grad_y = ptr<T>(grad_y);
    a.grad_x = ptr<T>(out.grad_x);
    a.mean = ptr<T>(mean);
    a.rstd = ptr<T>(rstd);
    a.gamma = ptr<T>(gamma);
    a.grad_gamma = ptr<T>(out.grad_gamma);
    a.grad_beta = ptr<T>(out.grad_beta);
    a.sx = x.stride(-1);
    a.sgy = grad_y.stride(-1);
    a.sgx = out.grad_x.stride(-1);
    a.s_gamma = stride0(gamma);
    a.s_gg = stride0(out.grad_gamma);
    a.s_gb = stride0(out.grad_beta);
    AGF_CUDA_CHECK(launch_layer_norm_backward<T>(a));
  });
}

// ------------------------------------------------------------------------------------------------ softmax

void softmax(const Tensor& out, const Tensor& x, bool causal) {
  if (planning()) return;
  set_device(x);
  dispatch_float(x.dtype(), "softmax", [&]<typename T>() {
    SoftmaxArgs<T> a;
    a.rows = row_count(x);
    a.D = x.size(-1);
    a.rd = strided_desc<2>(leading_shape(x), {x.strides().data(), out.strides().data()});
    a.x = ptr<T>(x);
    a.y = ptr<T>(out);
    a.sx = x.stride(-1);
    a.sy = out.stride(-1);
    a.causal = causal;
    a.n_queries = causal ? x.size(-2) : 1;
    AGF_CUDA_CHECK(launch_softmax<T>(a));
  });
}

void softmax_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& y) {
  if (planning()) return;
  set_device(y);
  dispatch_float(y.dtype(), "softmax backward", [&]<typename T>() {
    SoftmaxBackwardArgs<T> a;
    a.rows = row_count(y);
    a.D = y.size(-1);
    a.rd = strided_desc<3>(leading_shape(y),
                           {grad_x.strides().data(), grad_y.strides().data(), y.strides().data()});
    a.grad_x = ptr<T>(grad_x);
    a.grad_y = ptr<T>(grad_y);
    a.y = ptr<T>(y);
    a.sgx = grad_x.stride(-1);
    a.sgy = grad_y.stride(-1);
    a.sy = y.stride(-1);
    AGF_CUDA_CHECK(launch_softmax_backward<T>(a));
  });
}

// ------------------------------------------------------------------------------------------------ BCE with logits

void bce_with_logits(const Tensor& out, const Tensor& logits, const Tensor& targets, const Tensor& pos_weight,
                     ops::Reduction reduction) {
  if (planning()) return;
  set_device(logits);
  const Shape& shape = logits.shape();
  const Shape pw_strides = pos_weight_strides(pos_weight, shape);
  dispatch_float(logits.dtype(), "bce_with_logits", [&]<typename T>() {
    const T *xp = ptr<T>(logits), *yp = ptr<T>(targets), *wp = ptr<T>(pos_weight);
    if (reduction == ops::Reduction::none) {
      const auto d = strided_desc<4>(shape, {out.strides().data(), logits.strides().data(),
                                             targets.strides().data(), pw_strides.data()});
      AGF_CUDA_CHECK(launch_bce_with_logits<T>(ptr<T>(out), xp, yp, wp, logits.numel(), d));
      return;
    }
    const auto d = strided_desc<3>(shape, {logits.strides().data(), targets.strides().data(), pw_strides.data()});
    AGF_CUDA_CHECK(launch_bce_with_logits_sum<T>(ptr<T>(out), xp, yp, wp, logits.numel(), d,
                                                 reduction == ops::Reduction::mean));
  });
}

void bce_with_logits_backward(const Tensor& grad_logits, const Tensor& grad, const Tensor& logits,
                              const Tensor& targets, const Tensor& pos_weight, ops::Reduction reduction) {
  if (planning()) return;
  set_device(logits);
  const Shape& shape = logits.shape();
  const Shape pw_strides = pos_weight_strides(pos_weight, shape);
  // For mean/sum, grad is one number that every element's gradient is scaled by.
  const Shape grad_strides = reduction == ops::Reduction::none ? grad.strides() : Shape(shape.size(), 0);
  const double grad_scale = reduction == ops::Reduction::mean ? 1.0 / static_cast<double>(logits.numel()) : 1.0;
  dispatch_float(logits.dtype(), "bce_with_logits backward", [&]<typename T>() {
    const auto d = strided_desc<5>(shape, {grad_logits.strides().data(), grad_strides.data(),
                                           logits.strides().data(), targets.strides().data(), pw_strides.data()});
    AGF_CUDA_CHECK(launch_bce_with_logits_backward<T>(ptr<T>(grad_logits), ptr<T>(grad), ptr<T>(logits),
                                                      ptr<T>(targets), ptr<T>(pos_weight), logits.numel(), d,
                                                      static_cast<T>(grad_scale)));
  });
}

}  // namespace agf::cuda
