// Differentiable network ops: convolution, pooling, normalisation, softmax, the loss and the gradient gate.
#include "autograd/functions.h"

namespace agf::ag {

using autograd_detail::record;
using autograd_detail::should_record;

namespace {
SavedTensor saved(const Tensor& t) { return SavedTensor(t); }
bool needs(const Tensor& t) { return t.defined() && requires_grad(t); }
}  // namespace

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args) {
  Tensor out = ops::conv1d(x, w, bias, args);
  if (!should_record({&x, &w, &bias})) return out;
  const bool nx = needs(x), nw = needs(w), nb = needs(bias);
  return record(out, "conv1d", {x, w, bias},
                [args, t_in = x.size(-1), k = w.size(-1), xv = nw ? saved(x) : SavedTensor(), wv = nx ? saved(w) : SavedTensor(),
                 nb](const Tensor& g) {
                  return std::vector<Tensor>{wv.defined() ? ops::conv1d_backward_input(g, wv, t_in, args) : Tensor(),
                                             xv.defined() ? ops::conv1d_backward_weight(g, xv, k, args) : Tensor(),
                                             nb ? ops::conv1d_backward_bias(g) : Tensor()};
                });
}

Tensor avg_pool1d(const Tensor& x, int64_t k, int64_t s) {
  Tensor out = ops::avg_pool1d(x, k, s);
  if (!should_record({&x})) return out;
  return record(out, "avg_pool1d", {x}, [t_in = x.size(-1), k, s](const Tensor& g) {
    return std::vector<Tensor>{ops::avg_pool1d_backward(g, t_in, k, s)};
  });
}

Tensor max_pool1d(const Tensor& x, int64_t k, int64_t s) {
  auto r = ops::max_pool1d(x, k, s);
  if (!should_record({&x})) return r.values;
  return record(r.values, "max_pool1d", {x}, [t_in = x.size(-1), idx = r.indices](const Tensor& g) {
    return std::vector<Tensor>{ops::max_pool1d_backward(g, idx, t_in)};
  });
}

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  auto r = ops::batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps);
  if (!should_record({&x, &gamma, &beta})) return r.y;
  // x is read by the backward only through xhat: for the batch statistics' gradient (training) and for gamma's.
  // With running statistics and a frozen gamma (the FO micro-batch of fine-tuning) x is not kept: g stands in for
  // it, multiplied by zero in grad_x, and the gamma gradient computed from it is dropped.
  const bool keep_x = training || needs(gamma);
  return record(r.y, "batch_norm", {x, gamma, beta},
                [xv = keep_x ? saved(x) : SavedTensor(), gv = saved(gamma), mean = r.save_mean,
                 invstd = r.save_invstd, training, ng = needs(gamma), nb = needs(beta)](const Tensor& g) {
                  auto gr = ops::batch_norm_backward(g, xv.defined() ? xv.get() : g, gv, mean, invstd, training);
                  return std::vector<Tensor>{gr.grad_x, ng ? gr.grad_gamma : Tensor(), nb ? gr.grad_beta : Tensor()};
                });
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  auto r = ops::layer_norm(x, gamma, beta, eps);
  if (!should_record({&x, &gamma, &beta})) return r.y;
  return record(r.y, "layer_norm", {x, gamma, beta},
                [xv = saved(x), gv = saved(gamma), mean = r.mean, rstd = r.rstd, ng = needs(gamma),
                 nb = needs(beta)](const Tensor& g) {
                  auto gr = ops::layer_norm_backward(g, xv, gv, mean, rstd);
                  return std::vector<Tensor>{gr.grad_x, ng ? gr.grad_gamma : Tensor(), nb ? gr.grad_beta : Tensor()};
                });
}

Tensor softmax(const Tensor& x, bool causal) {
  Tensor y = ops::softmax(x, causal);
  if (!should_record({&x})) return y;
  return record(y, "softmax", {x},
                [yv = saved(y)](const Tensor& g) { return std::vector<Tensor>{ops::softmax_backward(g, yv)}; });
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& pos_weight,
                       ops::Reduction reduction) {
  AGF_CHECK(!needs(targets) && !needs(pos_weight),
            "bce_with_logits: gradients w.r.t. targets or pos_weight are not supported; detach them");
  Tensor out = ops::bce_with_logits(logits, targets, pos_weight, reduction);
  if (!should_record({&logits})) return out;
  return record(out, "bce_with_logits", {logits},
                [lv = saved(logits), tv = saved(targets), pw = saved(pos_weight), reduction](const Tensor& g) {
                  return std::vector<Tensor>{ops::bce_with_logits_backward(g, lv, tv, pw, reduction)};
                });
}

Tensor gradient_gate(const Tensor& x, const Tensor& mask) {
  AGF_CHECK(x.dim() >= 1 && mask.dim() == 1 && mask.size(0) == x.size(0),
            "gradient_gate: mask {} must be (B) for input {}", mask.describe(), x.describe());
  if (!should_record({&x})) return x;
  Shape ms(x.dim(), 1);
  ms[0] = x.size(0);
  return record(detach(x), "gradient_gate", {x}, [m = detach(mask).reshape(ms)](const Tensor& g) {
    return std::vector<Tensor>{ops::mul(g, m)};
  });
}

}  // namespace agf::ag
