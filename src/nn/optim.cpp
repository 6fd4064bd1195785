#include "nn/optim.h"

#include <cmath>

#include "kernels/ops.h"

namespace agf::nn {

AdamW::AdamW(ParamList params, Options opt) : params_(std::move(params)), opt_(opt) {
  m_.resize(params_.size());
  v_.resize(params_.size());
  param_steps_.assign(params_.size(), 0);
}

void AdamW::step(double lr) {
  std::vector<Tensor> grads;
  for (auto& [n, p] : params_) grads.push_back(grad(*p));
  step_with(grads, lr);
}

void AdamW::step_with(const std::vector<Tensor>& grads, double lr) {
  AGF_CHECK(grads.size() == params_.size(), "AdamW: {} gradients for {} parameters", grads.size(), params_.size());
  begin_step();
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!grads[i].defined()) continue;
    const Slot s = prepare(i, lr);
    ops::adamw_step_(*params_[i].second, grads[i], s.m, s.v, s.args);
  }
}

AdamW::Slot AdamW::prepare(size_t i, double lr) {
  AGF_CHECK(i < params_.size(), "AdamW: parameter {} of {}", i, params_.size());
  const Tensor& p = *params_[i].second;
  if (!m_[i].defined()) {
    MemScope scope(MemTag::optimizer);
    m_[i] = zeros_like(p);
    v_[i] = zeros_like(p);
  }
  return {m_[i], v_[i], ops::AdamWArgs{lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay, ++param_steps_[i]}};
}

NamedTensors AdamW::state() {
  NamedTensors s;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!m_[i].defined()) continue;
    s.emplace_back(params_[i].first + ".exp_avg", m_[i]);
    s.emplace_back(params_[i].first + ".exp_avg_sq", v_[i]);
    s.emplace_back(params_[i].first + ".step", scalar_tensor(static_cast<double>(param_steps_[i]), DType::i64));
  }
  return s;
}

void AdamW::load_state(const NamedTensors& state, int64_t steps) {
  step_ = steps;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    const Tensor& p = *params_[i].second;
    m_[i] = Tensor();
    v_[i] = Tensor();
    param_steps_[i] = 0;
    for (const auto& [n, t] : state) {
      if (n == name + ".step") {
        AGF_CHECK(t.numel() == 1, "optimizer state '{}' must be a scalar, got {}", n, t.describe());
        param_steps_[i] = t.item<int64_t>();
        continue;
      }
      if (n != name + ".exp_avg" && n != name + ".exp_avg_sq") continue;
      AGF_CHECK(t.shape() == p.shape(), "optimizer state '{}' has shape {} but the parameter {}", n,
                shape_str(t.shape()), shape_str(p.shape()));
      MemScope scope(MemTag::optimizer);
      Tensor copy = empty(p.shape(), p.dtype(), p.device());
      copy.copy_(t);
      (n.ends_with("_sq") ? v_[i] : m_[i]) = copy;
    }
    AGF_CHECK(m_[i].defined() == v_[i].defined() && m_[i].defined() == (param_steps_[i] > 0),
              "optimizer state of '{}' is incomplete (needs exp_avg, exp_avg_sq and a positive step together)", name);
  }
}

SGD::SGD(ParamList params, double momentum, double weight_decay)
    : params_(std::move(params)), momentum_(momentum), weight_decay_(weight_decay) {
  buf_.resize(params_.size());
}

void SGD::step(double lr) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = *params_[i].second;
    Tensor g = grad(p);
    if (!g.defined()) continue;
    if (weight_decay_ != 0.0) g = ops::add(g, ops::scale(p, weight_decay_));
    if (momentum_ != 0.0) {
      if (!buf_[i].defined()) {
        MemScope scope(MemTag::optimizer);
        buf_[i] = g.clone();
      } else {
        ops::unary_out(buf_[i], UnaryOp::mul_scalar, buf_[i], momentum_);
        ops::axpy_(buf_[i], 1.0, g);
      }
      g = buf_[i];
    }
    ops::axpy_(p, -lr, g);
  }
}

NamedTensors SGD::state() {
  NamedTensors s;
  for (size_t i = 0; i < params_.size(); ++i)
    if (buf_[i].defined()) s.emplace_back(params_[i].first + ".momentum_buffer", buf_[i]);
  return s;
}

LRSchedule::LRSchedule(Kind kind, double base_lr, int64_t total_steps, double warmup_fraction)
    : kind_(kind), base_(base_lr), total_(total_steps) {
  AGF_CHECK(total_steps > 0, "LR schedule: total steps must be positive, got {}", total_steps);
  AGF_CHECK(warmup_fraction >= 0 && warmup_fraction < 1, "LR schedule: warm-up fraction {} not in [0, 1)",
            warmup_fraction);
  warmup_ = static_cast<int64_t>(warmup_fraction * static_cast<double>(total_steps));
}

LRSchedule::Kind LRSchedule::parse(const std::string& name) {
  if (name == "constant") return Kind::constant;
  if (name == "linear" || name == "warmup_linear") return Kind::warmup_linear;
  if (name == "cosine") return Kind::cosine;
  AGF_FAIL("unknown lr schedule '{}' (constant, linear, cosine)", name);
}

double LRSchedule::at(int64_t step) const {
  if (kind_ == Kind::constant) return base_;
  // The reference's schedule (transformers' get_linear_schedule_with_warmup under LambdaLR): step 0 runs at lr 0.
  if (step < warmup_) return base_ * static_cast<double>(step) / static_cast<double>(warmup_);
  const double progress =
      static_cast<double>(step - warmup_) / static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
  if (kind_ == Kind::warmup_linear) return base_ * std::max(0.0, 1.0 - progress);
  return base_ * 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
}

}  // namespace agf::nn
