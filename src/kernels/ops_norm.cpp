// Normalisation and attention pieces: argument checks, output allocation, routing. The kernels live in
// kernels/cpu/norm.cpp and kernels/cpu/softmax.cpp; there are no CUDA kernels for these yet.
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf::ops {

namespace {

void check_float(const char* what, const char* name, const Tensor& t) {
  AGF_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "{}: {} is {} (f32 or f64 expected)", what, name,
            t.describe());
}

// An optional per-channel / per-feature vector: undefined, or (n) with x's dtype and device.
void check_vector(const char* what, const char* name, const Tensor& t, int64_t n, const Tensor& x) {
  if (!t.defined()) return;
  AGF_CHECK(t.shape() == Shape{n}, "{}: {} is {} but ({}) is expected for x {}", what, name, t.describe(), n,
            x.describe());
  AGF_CHECK(t.dtype() == x.dtype() && t.device() == x.device(), "{}: {} is {} but x is {}", what, name,
            t.describe(), x.describe());
}

void check_affine_pair(const char* what, const Tensor& gamma, const Tensor& beta) {
  // The backward gives grad_gamma and grad_beta together, so an affine transform is all or nothing.
  AGF_CHECK(gamma.defined() == beta.defined(), "{}: gamma ({}) and beta ({}) must both be given or both be absent",
            what, gamma.defined() ? gamma.describe() : "absent", beta.defined() ? beta.describe() : "absent");
}

void check_batch_norm_input(const char* what, const Tensor& x) {
  check_float(what, "x", x);
  AGF_CHECK(x.dim() == 2 || x.dim() == 3, "{}: x is {} but (B, C) or (B, C, T) is expected", what, x.describe());
}

Shape leading_shape(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 1); }

}  // namespace

// ------------------------------------------------------------------------------------------------ batch norm

namespace {

void check_batch_norm_args(const char* what, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                           const Tensor& running_mean, const Tensor& running_var, bool training, double momentum,
                           double eps) {
  check_batch_norm_input(what, x);
  const int64_t C = x.size(1);
  check_affine_pair(what, gamma, beta);
  check_vector(what, "gamma", gamma, C, x);
  check_vector(what, "beta", beta, C, x);
  check_vector(what, "running_mean", running_mean, C, x);
  check_vector(what, "running_var", running_var, C, x);
  AGF_CHECK(running_mean.defined() == running_var.defined(),
            "{}: running_mean and running_var must both be given or both be absent (x {})", what, x.describe());
  AGF_CHECK(std::isfinite(momentum) && std::isfinite(eps) && eps >= 0, "{}: momentum {} and eps {} must be finite, eps >= 0",
            what, momentum, eps);
  if (training) {
    const int64_t n = x.size(0) * (x.dim() == 3 ? x.size(2) : 1);
    AGF_CHECK(n > 1, "{}: training needs more than one value per channel, got x {}", what, x.describe());
  } else {
    AGF_CHECK(running_mean.defined(), "{}: eval mode needs running_mean and running_var (x {})", what, x.describe());
  }
}

}  // namespace

BatchNormOut batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps) {
  constexpr const char* what = "batch_norm";
  check_batch_norm_args(what, x, gamma, beta, running_mean, running_var, training, momentum, eps);
  const int64_t C = x.size(1);
  BatchNormOut out{empty(x.shape(), x.dtype(), x.device()), empty({C}, x.dtype(), x.device()),
                   empty({C}, x.dtype(), x.device())};
  if (training && running_mean.defined()) {
    running_mean.storage()->bump_version();
    running_var.storage()->bump_version();
  }
  AGF_DISPATCH_BACKEND(x.device(), batch_norm(out, x, gamma, beta, running_mean, running_var, training, momentum, eps));
  return out;
}

void batch_norm_leaky_(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps, double slope) {
  constexpr const char* what = "batch_norm_leaky_";
  check_batch_norm_args(what, x, gamma, beta, running_mean, running_var, training, momentum, eps);
  AGF_CHECK(std::isfinite(slope), "{}: slope {} must be finite", what, slope);
  const int64_t C = x.size(1);
  // The statistics the kernel reports; nothing keeps them (there is no backward).
  BatchNormOut out{x, empty({C}, x.dtype(), x.device()), empty({C}, x.dtype(), x.device())};
  if (training && running_mean.defined()) {
    running_mean.storage()->bump_version();
    running_var.storage()->bump_version();
  }
  x.storage()->bump_version();
  AGF_DISPATCH_BACKEND(x.device(), batch_norm(out, x, gamma, beta, running_mean, running_var, training, momentum, eps, &slope));
}

NormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training) {
  constexpr const char* what = "batch_norm backward";
  check_batch_norm_input(what, x);
  const int64_t C = x.size(1);
  AGF_CHECK(grad_y.shape() == x.shape() && grad_y.dtype() == x.dtype() && grad_y.device() == x.device(),
            "{}: grad_y {} does not match x {}", what, grad_y.describe(), x.describe());
  AGF_CHECK(save_mean.defined() && save_invstd.defined(), "{}: save_mean and save_invstd are required", what);
  check_vector(what, "gamma", gamma, C, x);
  check_vector(what, "save_mean", save_mean, C, x);
  check_vector(what, "save_invstd", save_invstd, C, x);
  NormGrads g;
  g.grad_x = empty(x.shape(), x.dtype(), x.device());
  if (gamma.defined()) {
    g.grad_gamma = empty({C}, x.dtype(), x.device());
    g.grad_beta = empty({C}, x.dtype(), x.device());
  }
  AGF_DISPATCH_BACKEND(x.device(), batch_norm_backward(g, grad_y, x, gamma, save_mean, save_invstd, training));
  return g;
}

// ------------------------------------------------------------------------------------------------ layer norm

LayerNormOut layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  constexpr const char* what = "layer_norm";
  check_float(what, "x", x);
  AGF_CHECK(x.dim() >= 1 && x.size(-1) > 0, "{}: x is {}; a non-empty last dim to normalise over is required",
            what, x.describe());
  const int64_t D = x.size(-1);
  check_affine_pair(what, gamma, beta);
  check_vector(what, "gamma", gamma, D, x);
  check_vector(what, "beta", beta, D, x);
  AGF_CHECK(std::isfinite(eps) && eps >= 0, "{}: eps {} must be finite and >= 0", what, eps);
  LayerNormOut out{empty(x.shape(), x.dtype(), x.device()), empty(leading_shape(x), x.dtype(), x.device()),
                   empty(leading_shape(x), x.dtype(), x.device())};
  AGF_DISPATCH_BACKEND(x.device(), layer_norm(out, x, gamma, beta, eps));
  return out;
}

NormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                              const Tensor& rstd) {
  constexpr const char* what = "layer_norm backward";
  check_float(what, "x", x);
  AGF_CHECK(x.dim() >= 1 && x.size(-1) > 0, "{}: x is {}; a non-empty last dim is required", what, x.describe());
  const int64_t D = x.size(-1);
  AGF_CHECK(grad_y.shape() == x.shape() && grad_y.dtype() == x.dtype() && grad_y.device() == x.device(),
            "{}: grad_y {} does not match x {}", what, grad_y.describe(), x.describe());
  check_vector(what, "gamma", gamma, D, x);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"mean", &mean}, {"rstd", &rstd}}) {
    AGF_CHECK(t->defined() && t->shape() == leading_shape(x) && t->dtype() == x.dtype() && t->device() == x.device(),
              "{}: {} is {} but {} {} {} is expected for x {}", what, name, t->defined() ? t->describe() : "absent",
              x.dtype(), shape_str(leading_shape(x)), x.device(), x.describe());
  }
  NormGrads g;
  g.grad_x = empty(x.shape(), x.dtype(), x.device());
  if (gamma.defined()) {
    g.grad_gamma = empty({D}, x.dtype(), x.device());
    g.grad_beta = empty({D}, x.dtype(), x.device());
  }
  AGF_DISPATCH_WITH_WORKSPACE(x.device(), layer_norm_backward(g, grad_y, x, gamma, mean, rstd));
  return g;
}

// ------------------------------------------------------------------------------------------------ attention pieces

Tensor softmax(const Tensor& x, bool causal) {
  constexpr const char* what = "softmax";
  check_float(what, "x", x);
  AGF_CHECK(x.dim() >= (causal ? 2 : 1), "{}: x is {}; {} needed", what, x.describe(),
            causal ? "(..., Tq, Tk) with the causal mask" : "at least one dim");
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  AGF_DISPATCH_BACKEND(x.device(), softmax(out, x, causal));
  return out;
}

Tensor softmax_backward(const Tensor& grad_y, const Tensor& y) {
  constexpr const char* what = "softmax backward";
  check_float(what, "y", y);
  AGF_CHECK(y.dim() >= 1, "{}: y is {}; at least one dim needed", what, y.describe());
  AGF_CHECK(grad_y.shape() == y.shape() && grad_y.dtype() == y.dtype() && grad_y.device() == y.device(),
            "{}: grad_y {} does not match y {}", what, grad_y.describe(), y.describe());
  Tensor grad_x = empty(y.shape(), y.dtype(), y.device());
  AGF_DISPATCH_BACKEND(y.device(), softmax_backward(grad_x, grad_y, y));
  return grad_x;
}

Tensor cat(const std::vector<Tensor>& ts, int64_t dim) {
  AGF_CHECK(!ts.empty(), "cat: no tensors to concatenate");
  for (size_t i = 0; i < ts.size(); ++i) AGF_CHECK(ts[i].defined(), "cat: tensor {} is undefined", i);
  const Tensor& first = ts[0];
  AGF_CHECK(first.dim() >= 1, "cat: tensor 0 is {}; 0-dim tensors cannot be concatenated", first.describe());
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[dim] = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    AGF_CHECK(t.dtype() == first.dtype() && t.device() == first.device(),
              "cat: tensor {} is {} but tensor 0 is {} (one dtype and device expected)", i, t.describe(),
              first.describe());
    bool fits = t.dim() == first.dim();
    for (int64_t d = 0; fits && d < first.dim(); ++d) fits = d == dim || t.size(d) == first.size(d);
    AGF_CHECK(fits, "cat along dim {}: tensor {} is {} but tensor 0 is {} (all other dims must match)", dim, i,
              t.describe(), first.describe());
    shape[dim] += t.size(dim);
  }
  Tensor out = empty(shape, first.dtype(), first.device());
  int64_t at = 0;
  for (const Tensor& t : ts) {
    const int64_t n = t.size(dim);
    if (n > 0 && t.numel() > 0) out.narrow(dim, at, n).copy_(t);
    at += n;
  }
  return out;
}

}  // namespace agf::ops
