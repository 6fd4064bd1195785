// BCE with logits (soft targets, pos_weight, every reduction), one AdamW step against PyTorch's formula, and the
// in-place SPSA perturbation against Philox normals. References are float64 and written independently of
// kernels/element_math.h.
#include <cmath>

#include "kernels/cases.h"
#include "kernels/dispatch.h"
#include "tensor/philox.h"

namespace agf::kt {

namespace {

const char* reduction_name(ops::Reduction r) {
  switch (r) {
    case ops::Reduction::mean: return "mean";
    case ops::Reduction::sum: return "sum";
    case ops::Reduction::none: return "none";
  }
  return "?";
}

// log(1 + e^x), stable for any x.
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }

// ------------------------------------------------------------------------------------------------ BCE with logits

struct BceVariant {
  Shape shape;
  bool pos_weight;
  ops::Reduction reduction;
  Layout logits_layout = Layout::contiguous;
  Layout targets_layout = Layout::contiguous;
  double lo = -4.0, hi = 4.0;
  bool via_ops = false;
  bool strided_grad = false;
};

void add_bce(std::vector<Case>& cases) {
  using R = ops::Reduction;
  const std::vector<BceVariant> variants = {
      {{4, 6}, true, R::mean},  // EcgNet: 6 classes, pos_weight per class
      {{4, 6}, true, R::mean, Layout::contiguous, Layout::contiguous, -4.0, 4.0, true},
      {{4, 6}, true, R::none, Layout::transposed, Layout::contiguous, -4.0, 4.0, false, true},
      {{5, 1}, false, R::sum},  // the auxiliary head's single logit
      {{3, 2, 7}, true, R::mean, Layout::strided, Layout::transposed},
      {{9}, false, R::none, Layout::contiguous, Layout::strided, -30.0, 30.0, true, true},  // saturated logits
      {{7, 5}, true, R::sum, Layout::transposed, Layout::contiguous, -30.0, 30.0},
      {{1}, true, R::mean},
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "bce_with_logits";
    c.name = fmt::format("{} {}{}{}{}{}{}", shape_str(v.shape), reduction_name(v.reduction),
                         v.pos_weight ? " pos_weight" : "", layout_tag("logits", v.logits_layout),
                         layout_tag("targets", v.targets_layout), v.strided_grad ? " grad:strided" : "",
                         v.via_ops ? " via ops" : "");
    c.inputs = {InputSpec{v.shape, v.logits_layout, v.lo, v.hi},
                InputSpec{v.shape, v.targets_layout, 0.0, 1.0, false}};  // soft targets: no gradient
    if (v.pos_weight) c.inputs.push_back(InputSpec{{v.shape.back()}, Layout::contiguous, 0.5, 3.0, false});
    const Shape out_shape = v.reduction == R::none ? v.shape : Shape{};
    c.forward = [v, out_shape](const std::vector<Tensor>& in, Guard& g) {
      const Tensor pw = v.pos_weight ? in[2] : Tensor();
      if (v.via_ops) return std::vector<Tensor>{ops::bce_with_logits(in[0], in[1], pw, v.reduction)};
      Tensor out = g.out(out_shape, in[0].dtype(), in[0].device());
      AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), bce_with_logits(out, in[0], in[1], pw, v.reduction));
      return std::vector<Tensor>{out};
    };
    c.reference = [v](const std::vector<Ref>& in) {
      const Ref &x = in[0], &y = in[1];
      const int64_t K = v.shape.back();
      Ref each(x.shape);
      // -[pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], with log sigmoid(x) = -softplus(-x).
      for (int64_t i = 0; i < x.numel(); ++i) {
        const double pw = v.pos_weight ? in[2].v[i % K] : 1.0;
        each.v[i] = pw * y.v[i] * softplus(-x.v[i]) + (1.0 - y.v[i]) * softplus(x.v[i]);
      }
      if (v.reduction == R::none) return std::vector<Ref>{each};
      Ref total(Shape{});
      for (double l : each.v) total.v[0] += l;
      if (v.reduction == R::mean) total.v[0] /= static_cast<double>(each.numel());
      return std::vector<Ref>{total};
    };
    c.backward = [v](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
      const Tensor pw = v.pos_weight ? in[2] : Tensor();
      const Tensor grad = v.strided_grad ? strided_copy(gy[0]) : gy[0];
      Tensor gx;
      if (v.via_ops) {
        gx = ops::bce_with_logits_backward(grad, in[0], in[1], pw, v.reduction);
      } else {
        gx = g.out(in[0].shape(), in[0].dtype(), in[0].device());
        AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), bce_with_logits_backward(gx, grad, in[0], in[1], pw, v.reduction));
      }
      std::vector<Tensor> grads(in.size());
      grads[0] = gx;
      return grads;
    };
    c.flops = [v] { return 10.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

// ------------------------------------------------------------------------------------------------ AdamW

struct AdamWVariant {
  Shape shape;
  Layout grad_layout;
  ops::AdamWArgs args;
  double param_range;
  bool fresh_moments = false;  // m = v = 0, as at PyTorch's first step
};

void add_adamw(std::vector<Case>& cases) {
  // Parameters of about the update's size, so the comparison of param sees errors in the update itself.
  const std::vector<AdamWVariant> variants = {
      {{7}, Layout::strided, {1e-2, 0.9, 0.999, 1e-8, 0.01, 1}, 0.05},
      {{5, 9}, Layout::transposed, {1e-2, 0.9, 0.999, 1e-8, 0.01, 1}, 0.05, true},
      {{3, 1, 17}, Layout::strided, {1e-2, 0.9, 0.999, 1e-8, 0.01, 10}, 0.05},
      {{4, 33}, Layout::transposed, {2.5e-3, 0.8, 0.99, 1e-6, 0.1, 10}, 1.0},
      {{1}, Layout::strided, {1e-3, 0.9, 0.999, 1e-8, 0.0, 10}, 0.05},
      {{2, 30001}, Layout::strided, {1e-2, 0.9, 0.999, 1e-8, 0.01, 1000}, 0.05},
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "adamw";
    c.name = fmt::format("{} step {} lr {} wd {}{}{}", shape_str(v.shape), v.args.step, v.args.lr,
                         v.args.weight_decay, layout_tag("grad", v.grad_layout), v.fresh_moments ? " m=v=0" : "");
    const double m_range = v.fresh_moments ? 0.0 : 0.1, v_hi = v.fresh_moments ? 0.0 : 0.01;
    c.inputs = {InputSpec{v.shape, Layout::contiguous, -v.param_range, v.param_range},
                InputSpec{v.shape, v.grad_layout, -1.0, 1.0},
                InputSpec{v.shape, Layout::contiguous, -m_range, m_range},
                InputSpec{v.shape, Layout::contiguous, 0.0, v_hi}};
    const ops::AdamWArgs args = v.args;
    c.forward = [args](const std::vector<Tensor>& in, Guard& g) {
      // In place: the step runs on guarded copies of param, m and v, which are the outputs.
      Tensor p = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[0]);
      Tensor m = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[2]);
      Tensor s = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[3]);
      ops::adamw_step_(p, in[1], m, s, args);
      return std::vector<Tensor>{p, m, s};
    };
    c.reference = [args](const std::vector<Ref>& in) {
      // torch.optim.AdamW (single tensor, amsgrad off): decay, moments, bias-corrected step.
      Ref p = in[0], m = in[2], s = in[3];
      const double t = static_cast<double>(args.step);
      const double bias1 = 1.0 - std::pow(args.beta1, t), bias2 = 1.0 - std::pow(args.beta2, t);
      for (int64_t i = 0; i < p.numel(); ++i) {
        const double g = in[1].v[i];
        p.v[i] *= 1.0 - args.lr * args.weight_decay;
        m.v[i] = args.beta1 * m.v[i] + (1.0 - args.beta1) * g;
        s.v[i] = args.beta2 * s.v[i] + (1.0 - args.beta2) * g * g;
        const double denom = std::sqrt(s.v[i]) / std::sqrt(bias2) + args.eps;
        p.v[i] -= args.lr / bias1 * m.v[i] / denom;
      }
      return std::vector<Ref>{p, m, s};
    };
    c.flops = [v] { return 12.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

// ------------------------------------------------------------------------------------------------ perturbation

struct PerturbVariant {
  Shape shape;
  Layout layout;  // of the source values; the perturbed tensor itself is contiguous, as parameters are
  uint64_t seed, offset;
  double scale;
};

void add_perturb(std::vector<Case>& cases) {
  constexpr uint64_t kFar = (uint64_t{1} << 40) + 1;  // a counter beyond 32 bits, not on a block boundary
  const std::vector<PerturbVariant> variants = {
      {{1}, Layout::contiguous, 18, 3, 1e-3},
      {{37}, Layout::contiguous, 18, 0, -2e-3},
      {{5, 9}, Layout::transposed, 0x123456789ABCDEF0ull, kFar, 0.5},
      {{3, 1, 13}, Layout::contiguous, 7, 3, 0.25},
      {{70001}, Layout::contiguous, 0x123456789ABCDEF0ull, 3, 0.5},  // the parallel block path
      {{4099}, Layout::contiguous, 18, kFar, -0.75},
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "perturb";
    c.gpu_rtol_f64 = c.rtol_f32;  // float32 normals (harness.h)
    c.name = fmt::format("{} seed {:#x} offset {} scale {}{}", shape_str(v.shape), v.seed, v.offset, v.scale,
                         layout_tag("x", v.layout));
    c.inputs = {InputSpec{v.shape, v.layout}};
    c.forward = [v](const std::vector<Tensor>& in, Guard& g) {
      Tensor p = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[0]);
      ops::perturb_(p, v.seed, v.offset, v.scale);
      return std::vector<Tensor>{p};
    };
    c.reference = [v](const std::vector<Ref>& in) {
      Ref out = in[0];
      for (int64_t i = 0; i < out.numel(); ++i)
        out.v[i] += v.scale * static_cast<double>(philox::normal(v.seed, v.offset + static_cast<uint64_t>(i)));
      return std::vector<Ref>{out};
    };
    c.flops = [v] { return 2.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

}  // namespace

void add_loss_optim_cases(std::vector<Case>& cases) {
  add_bce(cases);
  add_adamw(cases);
  add_perturb(cases);
}

}  // namespace agf::kt
