// BCE with logits (forward and backward) and the AdamW step on the CPU. The per-element math is the shared
// AGF_HD code of kernels/element_math.h, so the CUDA kernels compute the same values.
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/strided.h"

namespace agf::cpu {

namespace {

// pos_weight (K) as strides over logits' shape (..., K): stride 0 on the leading dims. Undefined -> all zeros,
// to be used with a pointer to a constant 1.
Shape pos_weight_strides(const Tensor& pos_weight, const Shape& shape) {
  Shape st(shape.size(), 0);
  if (pos_weight.defined() && !shape.empty()) st.back() = pos_weight.stride(0);
  return st;
}

}  // namespace

void bce_with_logits(const Tensor& out, const Tensor& logits, const Tensor& targets, const Tensor& pos_weight,
                     ops::Reduction reduction) {
  const Shape& shape = logits.shape();
  const Shape pw_strides = pos_weight_strides(pos_weight, shape);
  dispatch_float(logits.dtype(), "bce_with_logits", [&]<typename T>() {
    const T one = T(1);
    const T* xp = static_cast<const T*>(logits.raw_data());
    const T* yp = static_cast<const T*>(targets.raw_data());
    const T* wp = pos_weight.defined() ? static_cast<const T*>(pos_weight.raw_data()) : &one;
    T* op = static_cast<T*>(out.raw_data());
    if (reduction == ops::Reduction::none) {
      StridedPlan<4>(shape, {out.strides().data(), logits.strides().data(), targets.strides().data(),
                             pw_strides.data()})
          .run([&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
            for (int64_t i = 0; i < n; ++i)
              op[off[0] + i * st[0]] =
                  math::bce_with_logits(xp[off[1] + i * st[1]], yp[off[2] + i * st[2]], wp[off[3] + i * st[3]]);
          });
      return;
    }
    // A loss is a few thousand elements at most: one thread, in order, in double, reproducible bit for bit.
    double total = 0;
    StridedPlan<3>(shape, {logits.strides().data(), targets.strides().data(), pw_strides.data()})
        .run(
            [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
              for (int64_t i = 0; i < n; ++i)
                total += static_cast<double>(
                    math::bce_with_logits(xp[off[0] + i * st[0]], yp[off[1] + i * st[1]], wp[off[2] + i * st[2]]));
            },
            std::numeric_limits<int64_t>::max());
    if (reduction == ops::Reduction::mean) total /= static_cast<double>(logits.numel());
    *op = static_cast<T>(total);
  });
}

void bce_with_logits_backward(const Tensor& grad_logits, const Tensor& grad, const Tensor& logits,
                              const Tensor& targets, const Tensor& pos_weight, ops::Reduction reduction) {
  const Shape& shape = logits.shape();
  const Shape pw_strides = pos_weight_strides(pos_weight, shape);
  // For mean/sum, grad is one number that every element's gradient is scaled by.
  const Shape grad_strides = reduction == ops::Reduction::none ? grad.strides() : Shape(shape.size(), 0);
  const double grad_scale = reduction == ops::Reduction::mean ? 1.0 / static_cast<double>(logits.numel()) : 1.0;
  dispatch_float(logits.dtype(), "bce_with_logits backward", [&]<typename T>() {
    const T one = T(1);
    const T* xp = static_cast<const T*>(logits.raw_data());
    const T* yp = static_cast<const T*>(targets.raw_data());
    const T* wp = pos_weight.defined() ? static_cast<const T*>(pos_weight.raw_data()) : &one;
    const T* gp = static_cast<const T*>(grad.raw_data());
    T* gxp = static_cast<T*>(grad_logits.raw_data());
    const T s = static_cast<T>(grad_scale);
    StridedPlan<5>(shape, {grad_logits.strides().data(), grad_strides.data(), logits.strides().data(),
                           targets.strides().data(), pw_strides.data()})
        .run([&](const std::array<int64_t, 5>& off, int64_t n, const std::array<int64_t, 5>& st) {
          for (int64_t i = 0; i < n; ++i)
            gxp[off[0] + i * st[0]] =
                gp[off[1] + i * st[1]] * s *
                math::bce_with_logits_grad(xp[off[2] + i * st[2]], yp[off[3] + i * st[3]], wp[off[4] + i * st[4]]);
        });
  });
}

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const ops::AdamWArgs& a) {
  const math::AdamWScalars sc = math::adamw_scalars(a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.step);
  dispatch_float(param.dtype(), "adamw_step_", [&]<typename T>() {
    T* pp = static_cast<T*>(param.raw_data());
    T* mp = static_cast<T*>(m.raw_data());
    T* vp = static_cast<T*>(v.raw_data());
    const T* gp = static_cast<const T*>(grad.raw_data());
    const T decay = static_cast<T>(sc.decay), b1 = static_cast<T>(sc.b1), omb1 = static_cast<T>(sc.one_minus_b1),
            b2 = static_cast<T>(sc.b2), omb2 = static_cast<T>(sc.one_minus_b2),
            step_size = static_cast<T>(sc.step_size), bc2_sqrt = static_cast<T>(sc.bc2_sqrt),
            eps = static_cast<T>(sc.eps);
    // param, m and v are contiguous and of one shape, so param's offset addresses all three.
    StridedPlan<2>(param.shape(), {param.strides().data(), grad.strides().data()})
        .run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
          for (int64_t i = 0; i < n; ++i) {
            const int64_t k = off[0] + i * st[0];
            math::adamw(pp[k], mp[k], vp[k], gp[off[1] + i * st[1]], decay, b1, omb1, b2, omb2, step_size, bc2_sqrt,
                        eps);
          }
        });
  });
}

}  // namespace agf::cpu
