// Losses and the optimiser step: argument checks, output allocation, routing (kernels/cpu/loss_optim.cpp; AdamW
// also has a CUDA kernel).
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf::ops {

namespace {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
    case Reduction::none: return "none";
  }
  return "?";
}

void check_bce_args(const char* what, const Tensor& logits, const Tensor& targets, const Tensor& pos_weight) {
  AGF_CHECK(logits.dtype() == DType::f32 || logits.dtype() == DType::f64, "{}: logits {} (f32 or f64 expected)",
            what, logits.describe());
  AGF_CHECK(targets.shape() == logits.shape(), "{}: targets {} must have the shape of logits {}", what,
            targets.describe(), logits.describe());
  check_same_dtype(what, {&logits, &targets, &pos_weight});
  check_same_device(what, {&logits, &targets, &pos_weight});
  if (pos_weight.defined()) {
    AGF_CHECK(logits.dim() >= 1 && pos_weight.shape() == Shape{logits.size(-1)},
              "{}: pos_weight {} must be (K) with K the last dim of logits {}", what, pos_weight.describe(),
              logits.describe());
  }
}

}  // namespace

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& pos_weight, Reduction reduction) {
  constexpr const char* what = "bce_with_logits";
  check_bce_args(what, logits, targets, pos_weight);
  Tensor out = reduction == Reduction::none ? empty(logits.shape(), logits.dtype(), logits.device())
                                            : empty({}, logits.dtype(), logits.device());
  AGF_DISPATCH_BACKEND(logits.device(), bce_with_logits(out, logits, targets, pos_weight, reduction));
  return out;
}

Tensor bce_with_logits_backward(const Tensor& grad, const Tensor& logits, const Tensor& targets,
                                const Tensor& pos_weight, Reduction reduction) {
  constexpr const char* what = "bce_with_logits backward";
  check_bce_args(what, logits, targets, pos_weight);
  const Shape grad_shape = reduction == Reduction::none ? logits.shape() : Shape{};
  AGF_CHECK(grad.defined() && grad.shape() == grad_shape, "{}: grad is {} but {} is expected for reduction {} of logits {}",
            what, grad.defined() ? grad.describe() : "absent", shape_str(grad_shape), reduction_name(reduction),
            logits.describe());
  check_same_dtype(what, {&logits, &grad});
  check_same_device(what, {&logits, &grad});
  Tensor grad_logits = empty(logits.shape(), logits.dtype(), logits.device());
  AGF_DISPATCH_BACKEND(logits.device(), bce_with_logits_backward(grad_logits, grad, logits, targets, pos_weight, reduction));
  return grad_logits;
}

void adamw_step_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const AdamWArgs& args) {
  constexpr const char* what = "adamw_step_";
  AGF_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, "{}: param {} (f32 or f64 expected)", what,
            param.describe());
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"grad", &grad}, {"m", &m}, {"v", &v}}) {
    AGF_CHECK(t->defined() && t->shape() == param.shape() && t->dtype() == param.dtype() &&
                  t->device() == param.device(),
              "{}: {} is {} but param is {} (same shape, dtype and device expected)", what, name,
              t->defined() ? t->describe() : "absent", param.describe());
  }
  // The kernels address param, m and v with one offset; grad alone may be any view (e.g. an expanded gradient).
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"param", &param}, {"m", &m}, {"v", &v}})
    AGF_CHECK(t->is_contiguous(), "{}: {} {} must be contiguous", what, name, t->describe());
  const bool separate = param.numel() == 0 || (param.raw_data() != m.raw_data() &&
                                                param.raw_data() != v.raw_data() && m.raw_data() != v.raw_data());
  AGF_CHECK(separate, "{}: param, m and v must be three separate tensors", what);
  AGF_CHECK(args.step >= 1, "{}: step {} (1-based) must be >= 1", what, args.step);
  AGF_CHECK(std::isfinite(args.lr) && args.lr >= 0, "{}: learning rate {} must be finite and >= 0", what, args.lr);
  AGF_CHECK(args.beta1 >= 0 && args.beta1 < 1 && args.beta2 >= 0 && args.beta2 < 1,
            "{}: betas ({}, {}) must lie in [0, 1)", what, args.beta1, args.beta2);
  AGF_CHECK(std::isfinite(args.eps) && args.eps >= 0, "{}: eps {} must be finite and >= 0", what, args.eps);
  AGF_CHECK(std::isfinite(args.weight_decay) && args.weight_decay >= 0, "{}: weight_decay {} must be finite and >= 0",
            what, args.weight_decay);
  for (const Tensor* t : {&param, &m, &v}) t->storage()->bump_version();
  AGF_DISPATCH_BACKEND(param.device(), adamw_step(param, grad, m, v, args));
}

}  // namespace agf::ops
