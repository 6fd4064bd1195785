// Batch norm (training and eval, with the running-statistics update), layer norm, softmax (plain and causal) and
// cat. References are naive float64 loops over the row-major Ref layout; gradients come from the backward kernels
// and are checked against central differences of those references.
#include <cmath>
#include <limits>

#include "kernels/cases.h"
#include "kernels/dispatch.h"

namespace agf::kt {

namespace {

// ------------------------------------------------------------------------------------------------ batch norm

struct BatchNormVariant {
  Shape shape;  // (B, C) or (B, C, T)
  Layout layout;
  bool training;
  bool affine = true;
  bool running = true;   // running statistics given (always in eval)
  double momentum = 0.1;
  bool via_ops = false;  // the public ops:: entry points instead of the CPU kernels with guarded outputs
  bool strided_grad = false;
};

// y, save_mean, save_invstd, and the running statistics after the call (PyTorch's BatchNorm1d).
std::vector<Ref> ref_batch_norm(const BatchNormVariant& v, const std::vector<Ref>& in, double eps) {
  const Ref& x = in[0];
  const int64_t B = x.shape[0], C = x.shape[1], T = x.dim() == 3 ? x.shape[2] : 1;
  auto at = [&](int64_t b, int64_t c, int64_t t) { return (b * C + c) * T + t; };
  Ref y(x.shape), save_mean({C}), save_invstd({C});
  Ref rm = v.running ? in[3] : Ref(), rv = v.running ? in[4] : Ref();
  const double n = static_cast<double>(B * T);
  for (int64_t c = 0; c < C; ++c) {
    double mean, var;
    if (v.training) {
      double s = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) s += x.v[at(b, c, t)];
      mean = s / n;
      double ss = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) ss += (x.v[at(b, c, t)] - mean) * (x.v[at(b, c, t)] - mean);
      var = ss / n;
      if (v.running) {
        rm.v[c] = (1 - v.momentum) * in[3].v[c] + v.momentum * mean;
        rv.v[c] = (1 - v.momentum) * in[4].v[c] + v.momentum * ss / (n - 1);
      }
    } else {
      mean = in[3].v[c];
      var = in[4].v[c];
    }
    save_mean.v[c] = mean;
    save_invstd.v[c] = 1.0 / std::sqrt(var + eps);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        double val = (x.v[at(b, c, t)] - mean) / std::sqrt(var + eps);
        if (v.affine) val = val * in[1].v[c] + in[2].v[c];
        y.v[at(b, c, t)] = val;
      }
  }
  std::vector<Ref> out = {y, save_mean, save_invstd};
  if (v.running) {
    out.push_back(rm);
    out.push_back(rv);
  }
  return out;
}

void add_batch_norm(std::vector<Case>& cases) {
  constexpr double kEps = 1e-5;
  const std::vector<BatchNormVariant> variants = {
      {{3, 5, 17}, Layout::contiguous, true},
      {{2, 64, 1536}, Layout::contiguous, true},  // EcgNet's first block: 64 channels over 1536 samples
      {{4, 7}, Layout::contiguous, true, true, true, 0.3},
      {{1, 3, 8}, Layout::contiguous, true},                               // batch of one
      {{5, 4, 1}, Layout::contiguous, true, true, true, 0.1, true},         // T = 1, through ops::
      {{3, 6, 11}, Layout::transposed, true, true, true, 0.1, false, true},  // non-contiguous x and grad_y
      {{2, 4, 13}, Layout::strided, true},
      {{4, 3, 5}, Layout::contiguous, true, false, false},  // no affine, no running statistics
      {{4, 3, 5}, Layout::transposed, true, false, false, 0.1, true},
      {{3, 5, 17}, Layout::contiguous, false},  // eval: running statistics
      {{4, 7}, Layout::contiguous, false, true, true, 0.1, true},
      {{2, 6, 9}, Layout::strided, false, true, true, 0.1, false, true},
      {{2, 6, 9}, Layout::transposed, false, false, true},
      {{1, 3, 1}, Layout::contiguous, false},
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "batch_norm";
    c.name = fmt::format("{} {}{}{}{}{}{}", shape_str(v.shape), v.training ? "train" : "eval",
                         v.affine ? "" : " no-affine", v.running ? "" : " no-running", layout_tag("x", v.layout),
                         v.strided_grad ? " grad_y:strided" : "", v.via_ops ? " via ops" : "");
    const int64_t C = v.shape[1];
    c.inputs = {InputSpec{v.shape, v.layout, -2.0, 3.0},
                InputSpec{{C}, Layout::contiguous, 0.5, 1.5},
                InputSpec{{C}, Layout::contiguous, -0.5, 0.5},
                InputSpec{{C}, Layout::contiguous, -0.5, 0.5, false},
                InputSpec{{C}, Layout::contiguous, 0.5, 1.5, false}};
    if (!v.running) c.inputs.resize(3);
    if (!v.affine) c.inputs[1].differentiable = c.inputs[2].differentiable = false;
    c.output_differentiable = {true, false, false, false, false};

    c.forward = [v](const std::vector<Tensor>& in, Guard& g) {
      const Tensor& x = in[0];
      const Tensor gamma = v.affine ? in[1] : Tensor(), beta = v.affine ? in[2] : Tensor();
      Tensor rm, rv;
      if (v.running) {  // updated in place: give the kernel guarded copies and return them
        rm = g.out({x.size(1)}, x.dtype(), x.device()).copy_(in[3]);
        rv = g.out({x.size(1)}, x.dtype(), x.device()).copy_(in[4]);
      }
      ops::BatchNormOut o;
      if (v.via_ops) {
        o = ops::batch_norm(x, gamma, beta, rm, rv, v.training, v.momentum, kEps);
      } else {
        o = {g.out(x.shape(), x.dtype(), x.device()), g.out({x.size(1)}, x.dtype(), x.device()),
             g.out({x.size(1)}, x.dtype(), x.device())};
        AGF_DISPATCH_WITH_WORKSPACE(x.device(), batch_norm(o, x, gamma, beta, rm, rv, v.training, v.momentum, kEps));
      }
      std::vector<Tensor> out = {o.y, o.save_mean, o.save_invstd};
      if (v.running) {
        out.push_back(rm);
        out.push_back(rv);
      }
      return out;
    };
    c.reference = [v](const std::vector<Ref>& in) { return ref_batch_norm(v, in, kEps); };
    c.backward = [v](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
      const Tensor& x = in[0];
      const Tensor gamma = v.affine ? in[1] : Tensor(), beta = v.affine ? in[2] : Tensor();
      // Training never reads the running statistics for the output; eval needs them (and leaves them alone).
      const Tensor rm = v.training ? Tensor() : in[3], rv = v.training ? Tensor() : in[4];
      const auto f = ops::batch_norm(x, gamma, beta, rm, rv, v.training, v.momentum, kEps);
      const Tensor grad_y = v.strided_grad ? strided_copy(gy[0]) : gy[0];
      ops::NormGrads r;
      if (v.via_ops) {
        r = ops::batch_norm_backward(grad_y, x, gamma, f.save_mean, f.save_invstd, v.training);
      } else {
        r.grad_x = g.out(x.shape(), x.dtype(), x.device());
        if (v.affine) {
          r.grad_gamma = g.out({x.size(1)}, x.dtype(), x.device());
          r.grad_beta = g.out({x.size(1)}, x.dtype(), x.device());
        }
        AGF_DISPATCH_WITH_WORKSPACE(x.device(), batch_norm_backward(r, grad_y, x, gamma, f.save_mean, f.save_invstd, v.training));
      }
      std::vector<Tensor> grads = {r.grad_x, r.grad_gamma, r.grad_beta};
      grads.resize(in.size());
      return grads;
    };
    if (shape_numel(v.shape) > 100000) c.fd_samples = 16;
    // The training backward subtracts two sums of n terms from each gradient: its f32 rounding grows with n.
    if (v.training) c.rtol_f32 = 5e-5;
    c.flops = [v] { return 8.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

// ------------------------------------------------------------------------------------------------ layer norm

struct LayerNormVariant {
  Shape shape;
  Layout layout;
  bool affine = true;
  bool via_ops = false;
  bool strided_grad = false;
};

void add_layer_norm(std::vector<Case>& cases) {
  constexpr double kEps = 1e-5;
  const std::vector<LayerNormVariant> variants = {
      {{2, 96, 64}, Layout::contiguous},  // EcgNet tinylight tokens
      {{5, 1, 7}, Layout::contiguous, true, true},
      {{6, 9}, Layout::transposed, true, false, true},
      {{3, 4, 11}, Layout::strided},
      {{13}, Layout::contiguous, false},
      {{4, 3, 5}, Layout::transposed, false, true, true},
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "layer_norm";
    c.name = fmt::format("{}{}{}{}{}", shape_str(v.shape), v.affine ? "" : " no-affine", layout_tag("x", v.layout),
                         v.strided_grad ? " grad_y:strided" : "", v.via_ops ? " via ops" : "");
    const int64_t D = v.shape.back();
    c.inputs = {InputSpec{v.shape, v.layout, -2.0, 3.0}};
    if (v.affine)
      c.inputs.insert(c.inputs.end(), {InputSpec{{D}, Layout::contiguous, 0.5, 1.5}, InputSpec{{D}}});
    c.output_differentiable = {true, false, false};
    c.forward = [v](const std::vector<Tensor>& in, Guard& g) {
      const Tensor& x = in[0];
      const Tensor gamma = v.affine ? in[1] : Tensor(), beta = v.affine ? in[2] : Tensor();
      if (v.via_ops) {
        const auto o = ops::layer_norm(x, gamma, beta, kEps);
        return std::vector<Tensor>{o.y, o.mean, o.rstd};
      }
      const Shape lead(x.shape().begin(), x.shape().end() - 1);
      const ops::LayerNormOut o{g.out(x.shape(), x.dtype(), x.device()), g.out(lead, x.dtype(), x.device()),
                                g.out(lead, x.dtype(), x.device())};
      AGF_DISPATCH_WITH_WORKSPACE(x.device(), layer_norm(o, x, gamma, beta, kEps));
      return std::vector<Tensor>{o.y, o.mean, o.rstd};
    };
    c.reference = [v](const std::vector<Ref>& in) {
      const Ref& x = in[0];
      const int64_t D = x.shape.back(), rows = x.numel() / D;
      const Shape lead(x.shape.begin(), x.shape.end() - 1);
      Ref y(x.shape), mean(lead), rstd(lead);
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0, ss = 0;
        for (int64_t d = 0; d < D; ++d) s += x.v[r * D + d];
        const double mu = s / D;
        for (int64_t d = 0; d < D; ++d) ss += (x.v[r * D + d] - mu) * (x.v[r * D + d] - mu);
        const double sd = std::sqrt(ss / D + kEps);
        mean.v[r] = mu;
        rstd.v[r] = 1.0 / sd;
        for (int64_t d = 0; d < D; ++d) {
          const double n = (x.v[r * D + d] - mu) / sd;
          y.v[r * D + d] = v.affine ? n * in[1].v[d] + in[2].v[d] : n;
        }
      }
      return std::vector<Ref>{y, mean, rstd};
    };
    c.backward = [v](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
      const Tensor& x = in[0];
      const Tensor gamma = v.affine ? in[1] : Tensor(), beta = v.affine ? in[2] : Tensor();
      const auto f = ops::layer_norm(x, gamma, beta, kEps);
      const Tensor grad_y = v.strided_grad ? strided_copy(gy[0]) : gy[0];
      ops::NormGrads r;
      if (v.via_ops) {
        r = ops::layer_norm_backward(grad_y, x, gamma, f.mean, f.rstd);
      } else {
        const int64_t D = x.size(-1);
        r.grad_x = g.out(x.shape(), x.dtype(), x.device());
        if (v.affine) {
          r.grad_gamma = g.out({D}, x.dtype(), x.device());
          r.grad_beta = g.out({D}, x.dtype(), x.device());
        }
        AGF_DISPATCH_WITH_WORKSPACE(x.device(), layer_norm_backward(r, grad_y, x, gamma, f.mean, f.rstd));
      }
      std::vector<Tensor> grads = {r.grad_x, r.grad_gamma, r.grad_beta};
      grads.resize(in.size());
      return grads;
    };
    c.flops = [v] { return 8.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

// ------------------------------------------------------------------------------------------------ softmax

struct SoftmaxVariant {
  Shape shape;
  Layout layout;
  bool causal;
  double lo = -3.0, hi = 3.0;
  bool via_ops = false;
  bool strided_grad = false;
};

void add_softmax(std::vector<Case>& cases) {
  const std::vector<SoftmaxVariant> variants = {
      {{1, 4, 96, 96}, Layout::contiguous, true},  // EcgNet attention (2, 16, 96, 96) with fewer heads
      {{2, 3, 17, 17}, Layout::transposed, true, -3.0, 3.0, false, true},
      {{3, 5, 7}, Layout::strided, true, -3.0, 3.0, true},  // more keys than queries
      {{4, 9, 3}, Layout::contiguous, true},                // more queries than keys
      {{2, 1, 1}, Layout::contiguous, true},
      {{7, 1}, Layout::contiguous, false},
      {{4, 33}, Layout::contiguous, false, -80.0, 80.0},  // exp would overflow without the max shift
      {{2, 3, 10}, Layout::strided, false, -3.0, 3.0, true, true},
      {{6, 5}, Layout::transposed, false},
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "softmax";
    c.name = fmt::format("{}{}{}{}{}", shape_str(v.shape), v.causal ? " causal" : "", layout_tag("x", v.layout),
                         v.strided_grad ? " grad_y:strided" : "", v.via_ops ? " via ops" : "");
    c.inputs = {InputSpec{v.shape, v.layout, v.lo, v.hi}};
    c.forward = [v](const std::vector<Tensor>& in, Guard& g) {
      if (v.via_ops) return std::vector<Tensor>{ops::softmax(in[0], v.causal)};
      Tensor y = g.out(in[0].shape(), in[0].dtype(), in[0].device());
      AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), softmax(y, in[0], v.causal));
      return std::vector<Tensor>{y};
    };
    c.reference = [v](const std::vector<Ref>& in) {
      const Ref& x = in[0];
      const int64_t K = x.shape.back(), rows = x.numel() / K, Q = v.causal ? x.size(-2) : 1;
      Ref y(x.shape);
      std::vector<double> s(K);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t q = r % Q;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < K; ++k) {
          // The reference model's masking: scores * mask - 1e10 * (1 - mask), mask lower-triangular.
          const double mask = !v.causal || k <= q ? 1.0 : 0.0;
          s[k] = x.v[r * K + k] * mask - 1e10 * (1.0 - mask);
          mx = std::max(mx, s[k]);
        }
        double total = 0;
        for (int64_t k = 0; k < K; ++k) total += std::exp(s[k] - mx);
        for (int64_t k = 0; k < K; ++k) y.v[r * K + k] = std::exp(s[k] - mx) / total;
      }
      return std::vector<Ref>{y};
    };
    c.backward = [v](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
      const Tensor y = ops::softmax(in[0], v.causal);
      const Tensor grad_y = v.strided_grad ? strided_copy(gy[0]) : gy[0];
      if (v.via_ops) return std::vector<Tensor>{ops::softmax_backward(grad_y, y)};
      Tensor gx = g.out(y.shape(), y.dtype(), y.device());
      AGF_DISPATCH_WITH_WORKSPACE(y.device(), softmax_backward(gx, grad_y, y));
      return std::vector<Tensor>{gx};
    };
    // With logits in [-80, 80] the softmax is nearly one-hot: y (g - sum g y) cancels to a few f32 ulps of g where
    // y is near 1, which is all the gradient there is. The float64 run still checks the formula tightly.
    if (v.hi > 10) c.rtol_f32 = 5e-4;
    c.flops = [v] { return 4.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

// ------------------------------------------------------------------------------------------------ cat

void add_cat(std::vector<Case>& cases) {
  struct CatVariant {
    std::vector<InputSpec> inputs;
    int64_t dim;
  };
  const std::vector<CatVariant> variants = {
      {{InputSpec{{2, 3}}, InputSpec{{1, 3}}, InputSpec{{4, 3}}}, 0},
      {{InputSpec{{2, 3, 5}, Layout::transposed}, InputSpec{{2, 1, 5}}, InputSpec{{2, 4, 5}, Layout::strided}}, 1},
      {{InputSpec{{3, 7}}, InputSpec{{3, 1}, Layout::strided}, InputSpec{{3, 0}}}, -1},  // an empty piece
      {{InputSpec{{5}}}, 0},
      {{InputSpec{{2, 96, 4}, Layout::transposed}, InputSpec{{2, 96, 4}}, InputSpec{{2, 96, 4}}}, 2},  // heads
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "cat";
    std::string pieces;
    for (const auto& s : v.inputs) pieces += fmt::format(" {}{}", shape_str(s.shape), layout_tag("", s.layout));
    c.name = fmt::format("dim {}:{}", v.dim, pieces);
    c.inputs = v.inputs;
    const int64_t dim = v.dim;
    c.forward = [dim](const std::vector<Tensor>& in, Guard&) { return std::vector<Tensor>{ops::cat(in, dim)}; };
    c.reference = [dim](const std::vector<Ref>& in) {
      const int64_t nd = in[0].dim(), d = dim < 0 ? dim + nd : dim;
      // Row-major: outer = product of dims before d, inner = product after; each piece adds a block per outer.
      int64_t outer = 1, inner = 1, total = 0;
      for (int64_t k = 0; k < d; ++k) outer *= in[0].shape[k];
      for (int64_t k = d + 1; k < nd; ++k) inner *= in[0].shape[k];
      for (const auto& r : in) total += r.shape[d];
      Shape shape = in[0].shape;
      shape[d] = total;
      Ref out(shape);
      for (int64_t o = 0; o < outer; ++o) {
        int64_t at = 0;
        for (const auto& r : in) {
          const int64_t n = r.shape[d] * inner;
          for (int64_t i = 0; i < n; ++i) out.v[(o * total * inner) + at + i] = r.v[o * n + i];
          at += n;
        }
      }
      return std::vector<Ref>{out};
    };
    c.backward = [dim](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard&) {
      const int64_t d = dim < 0 ? dim + in[0].dim() : dim;
      std::vector<Tensor> grads;
      int64_t at = 0;
      for (const auto& t : in) {
        grads.push_back(gy[0].narrow(d, at, t.size(d)).contiguous());
        at += t.size(d);
      }
      return grads;
    };
    cases.push_back(std::move(c));
  }
}

}  // namespace

void add_norm_cases(std::vector<Case>& cases) {
  add_batch_norm(cases);
  add_layer_norm(cases);
  add_softmax(cases);
  add_cat(cases);
}

}  // namespace agf::kt
