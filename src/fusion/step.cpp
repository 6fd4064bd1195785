#include "fusion/step.h"

#include <chrono>
#include <cmath>
#include <optional>

#include "nn/losses.h"
#include "tensor/ledger.h"
#include "tensor/nvtx.h"

namespace agf::fusion {

Mode parse_mode(const std::string& name) {
  if (name == "fusion") return Mode::fusion;
  if (name == "zo") return Mode::zo;
  if (name == "bp") return Mode::bp;
  if (name == "fo_micro") return Mode::fo_micro;
  AGF_FAIL("unknown mode '{}' (fusion, zo, bp, fo_micro)", name);
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::fusion: return "fusion";
    case Mode::zo: return "zo";
    case Mode::bp: return "bp";
    case Mode::fo_micro: return "fo_micro";
  }
  return "?";
}

HeadGrad parse_head_grad(const std::string& name) {
  if (name == "micro") return HeadGrad::micro;
  if (name == "full") return HeadGrad::full;
  AGF_FAIL("unknown head_grad '{}' (micro, full)", name);
}

namespace {

using Clock = std::chrono::steady_clock;

bool is_head(const std::string& name) {
  return name.starts_with("classifier.") || name.starts_with("auxiliary_classifier.");
}

// One phase of a step: an NVTX range for Nsight, its wall time, and the ledger's peak while it ran.
class Phase {
 public:
  Phase(const char* name, Device device, StepRecord& rec)
      : range_(name), name_(name), device_(device), ledger_(ledger(device)), rec_(rec), t0_(Clock::now()) {
    if (device.is_cuda()) timer_.emplace(device.index);
    ledger_.reset_peak();
    start_ = ledger_.live_total();
  }
  ~Phase() {
    // Kernels run asynchronously on a GPU: there the phase's time is its stream's, from two CUDA events, and the
    // phase ends when its work does.
    const double seconds = timer_ ? timer_->seconds() : std::chrono::duration<double>(Clock::now() - t0_).count();
    const int64_t peak = ledger_.peak_total();
    PhaseStats p{name_, seconds, peak, start_, {}};
    for (int t = 0; t < kNumMemTags; ++t) p.tag_peak_bytes[t] = ledger_.peak(static_cast<MemTag>(t));
    rec_.phases.push_back(std::move(p));
    rec_.peak_bytes = std::max(rec_.peak_bytes, peak);
  }
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;

 private:
  NvtxRange range_;
  const char* name_;
  Device device_;
  MemoryLedger& ledger_;
  StepRecord& rec_;
  Clock::time_point t0_;
  std::optional<CudaStreamTimer> timer_;
  int64_t start_ = 0;
};

}  // namespace

FusionStep::FusionStep(nn::EcgNet& net, nn::AdamW& optimizer, const StepOptions& options)
    : net_(net), opt_adamw_(optimizer), opt_(options), zo_set_([&] {
        std::vector<std::pair<std::string, Tensor*>> zo;
        for (const auto& [name, t] : optimizer.params())
          if (!is_head(name)) zo.emplace_back(name, t);
        return zo;
      }()) {
  AGF_CHECK(opt_.zo_eps > 0 && std::isfinite(opt_.zo_eps), "zo_eps must be positive, got {}", opt_.zo_eps);
  AGF_CHECK(opt_.bp_batch >= 1, "bp_batch must be >= 1, got {}", opt_.bp_batch);
  AGF_CHECK(opt_.zo_queries >= 1, "zo_queries must be >= 1, got {}", opt_.zo_queries);
  AGF_CHECK(opt_.zo_sparsity >= 0 && opt_.zo_sparsity < 1, "zo_sparsity must lie in [0, 1), got {}", opt_.zo_sparsity);
  AGF_CHECK(opt_.grad_topk >= 0 && opt_.grad_topk <= 1, "grad_topk must lie in [0, 1], got {}", opt_.grad_topk);
  AGF_CHECK(opt_.zo_chunk >= 0, "zo_chunk must be >= 0, got {}", opt_.zo_chunk);
  AGF_CHECK(!opt_.teacher || !opt_.reference_compat, "reference_compat reproduces the reference's fine-tuning step, "
            "not its distillation: leave it off with a teacher");
  AGF_CHECK(!opt_.teacher || opt_.temperature > 0, "temperature must be positive, got {}", opt_.temperature);
  const auto& params = optimizer.params();
  AGF_CHECK(!params.empty(), "training step: nothing is trainable");
  device_ = params.front().second->device();
  for (size_t i = 0; i < params.size(); ++i) (is_head(params[i].first) ? head_index_ : zo_index_).push_back(i);
  const bool uses_zo = opt_.mode == Mode::fusion || opt_.mode == Mode::zo;
  AGF_CHECK(!uses_zo || !zo_set_.empty(), "mode {}: no trainable tensor outside the heads to perturb", mode_name(opt_.mode));
}

int64_t FusionStep::head_elements() const {
  int64_t n = 0;
  for (size_t i : head_index_) n += opt_adamw_.params()[i].second->numel();
  return n;
}

nn::FusionLossParts FusionStep::loss_of(const nn::EcgNetOutput& out, const Tensor& y, bool minus_pass,
                                        int64_t first_row) const {
  if (teacher_main_.defined()) {
    nn::FusionLossParts parts;
    parts.total = nn::distillation_loss(out.aux_logit, out.main_logits, teacher_main_.narrow(0, first_row, y.size(0)),
                                        y, opt_.temperature, opt_.aux_weight, opt_.normal_class);
    return parts;
  }
  if (!opt_.reference_compat) return nn::fusion_loss(out.aux_logit, out.main_logits, y, opt_.aux_weight, opt_.normal_class);
  // The PyTorch reference: the auxiliary target is always 1, and L- leaves the auxiliary term out.
  Tensor ones_target;
  if (out.aux_logit.defined()) {
    MemScope scope(MemTag::activations);
    ones_target = ones({y.size(0), 1}, y.dtype(), y.device());
  }
  return nn::fusion_loss_with_aux_target(out.aux_logit, out.main_logits, y, ones_target,
                                         minus_pass ? 0.0 : opt_.aux_weight);
}

double FusionStep::zo_loss(const Tensor& x, const Tensor& y, bool minus_pass, std::vector<Tensor>* features) {
  NoGradGuard no_grad;
  MemScope scope(MemTag::activations);
  // BatchNorm as the reference runs it in the ZO passes: batch statistics, running statistics updated.
  net_.train(true);
  const int64_t B = x.size(0), chunk = opt_.zo_chunk > 0 ? std::min(opt_.zo_chunk, B) : B;
  double total = 0.0;
  for (int64_t start = 0; start < B; start += chunk) {
    const int64_t n = std::min(chunk, B - start);
    nn::EcgNetOutput out = net_.forward(x.narrow(0, start, n));
    // Mean losses of equal-sized pieces, weighted by their share: the mean over the whole batch.
    total += loss_of(out, y.narrow(0, start, n), minus_pass, start).total.item<double>() * static_cast<double>(n) /
             static_cast<double>(B);
    if (features) features->push_back(out.features);
  }
  return total;
}

FusionStep::ZoEstimate FusionStep::zo_estimate(const Tensor& x, const Tensor& y, PhiloxStream& rng, bool keep_features,
                                             StepRecord& rec) {
  const Device device = x.device();
  ZoEstimate r;
  const double eps = opt_.zo_eps;
  for (int64_t q = 0; q < opt_.zo_queries; ++q) {
    const uint64_t seed = rng.next_u64();
    const ops::SpsaDirection z{{{seed, 1.0f}}, opt_.zo_sparsity};
    double plus = 0.0, minus = 0.0;
    std::vector<Tensor> features;
    const bool last = q + 1 == opt_.zo_queries;
    {
      Phase ph("zo/perturb+", device, rec);
      zo_set_.perturb(z, eps);
    }
    {
      Phase ph("zo/forward+", device, rec);
      plus = zo_loss(x, y, false, nullptr);
    }
    {
      // theta + eps z -> theta - eps z as two -eps roundings: the first lands back on theta exactly (ops.h).
      Phase ph("zo/perturb-", device, rec);
      zo_set_.perturb(z, -eps, 2);
    }
    {
      Phase ph("zo/forward-", device, rec);
      minus = zo_loss(x, y, true, keep_features && last ? &features : nullptr);
    }
    {
      Phase ph("zo/restore", device, rec);
      zo_set_.perturb(z, eps);
    }
    AGF_CHECK(std::isfinite(plus) && std::isfinite(minus), "the ZO losses are not finite (L+ = {}, L- = {}): lower "
              "zo_eps or the learning rate", plus, minus);
    r.seeds.push_back(seed);
    r.p.push_back((plus - minus) / (2.0 * eps));
    if (q == 0) {
      rec.loss_plus = plus;
      rec.loss_minus = minus;
    }
    rec.loss += 0.5 * (plus + minus) / static_cast<double>(opt_.zo_queries);
    if (!features.empty()) {
      NoGradGuard no_grad;
      MemScope scope(MemTag::activations);
      r.features_minus = features.size() == 1 ? features[0] : ops::cat(features, 0);
    }
  }
  rec.p = r.p;
  rec.zo_ran = true;
  return r;
}

void FusionStep::fo_pass(const Tensor& x, const Tensor& y, bool whole_batch_training, StepRecord& rec) {
  const Device device = x.device();
  // bp trains BatchNorm on the whole batch; the FO micro-batch of fusion/fo_micro uses the running statistics (a few
  // records make poor batch statistics, and the ZO passes keep the running ones current).
  net_.train(whole_batch_training);
  net_.set_gradient_checkpointing(opt_.gradient_checkpointing);
  const int64_t b = whole_batch_training ? x.size(0) : std::min(opt_.bp_batch, x.size(0));
  Tensor loss;
  {
    Phase ph("fo/forward", device, rec);
    MemScope scope(MemTag::activations);
    nn::EcgNetOutput out = net_.forward(x.narrow(0, 0, b));
    loss = loss_of(out, y.narrow(0, 0, b), false, 0).total;
  }
  rec.loss_fo = loss.item<double>();
  AGF_CHECK(std::isfinite(rec.loss_fo), "the training loss is not finite ({}): lower the learning rate", rec.loss_fo);
  {
    Phase ph("fo/backward", device, rec);
    MemScope scope(MemTag::activations);
    backward(loss);
  }
  rec.fo_ran = true;
}

void FusionStep::full_head_gradient(const Tensor& features, const Tensor& y, StepRecord& rec) {
  Phase ph("head/full", features.device(), rec);
  for (size_t i : head_index_) zero_grad(*opt_adamw_.params()[i].second);
  MemScope scope(MemTag::activations);
  nn::EcgNetOutput out = net_.heads(detach(features));
  backward(loss_of(out, y, true, 0).total);
}

void FusionStep::update(const ZoEstimate* zo, double coef, double lr, StepRecord& rec) {
  Phase ph("update", device_, rec);
  const auto& params = opt_adamw_.params();
  opt_adamw_.begin_step();

  // The ZO direction of the update, a combination of the queries' z. zo: g_zo = (1/q) sum p_j z_j. fusion: the same
  // direction rescaled to unit weights (sign(p) for one query, as spec/fusion.md writes it), then norm-matched per
  // tensor to ||g_fo||.
  ops::SpsaDirection direction{{}, opt_.zo_sparsity};
  std::vector<double> d_norm;
  if (zo) {
    double p_norm = 0.0;
    for (double p : zo->p) p_norm += p * p;
    p_norm = std::sqrt(p_norm);
    const double q = static_cast<double>(zo->p.size());
    for (size_t j = 0; j < zo->p.size(); ++j) {
      const double w = opt_.mode == Mode::zo ? zo->p[j] / q : (p_norm > 0 ? zo->p[j] / p_norm : 0.0);
      direction.queries.push_back({zo->seeds[j], static_cast<float>(w)});
    }
    if (opt_.mode == Mode::fusion) {
      for (double s : zo_set_.sqnorms(direction)) d_norm.push_back(std::sqrt(s));
    }
  }

  const auto apply = [&](size_t i, ops::FusedGradient g) {
    Tensor& param = *params[i].second;
    if (opt_.grad_topk > 0 && opt_.grad_topk < 1 && param.numel() > 0) {
      const auto k = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(opt_.grad_topk * param.numel())));
      g.keep_threshold = ops::fused_gradient_kth_abs(param.numel(), g, k, param.device());
    }
    const nn::AdamW::Slot slot = opt_adamw_.prepare(i, lr);
    ops::fused_adamw_(param, slot.m, slot.v, g, slot.args);
  };

  double fo_sq = 0.0;
  std::vector<double> fo_norm(params.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = grad(*params[i].second);
    if (!g.defined()) continue;
    fo_norm[i] = std::sqrt(ops::squared_norm(g).item<double>());
    fo_sq += fo_norm[i] * fo_norm[i];
  }
  rec.grad_fo_norm = std::sqrt(fo_sq);

  for (size_t e = 0; e < zo_index_.size(); ++e) {
    const size_t i = zo_index_[e];
    const Tensor g_fo = grad(*params[i].second);
    ops::FusedGradient g;
    g.offset = zo_set_.entries()[e].offset;
    if (opt_.mode == Mode::zo) {
      g.fo_scale = 0.0;
      g.zo_scale = 1.0;
      g.direction = direction;
    } else if (zo) {  // fusion: coef g_fo + (1 - coef) ||g_fo|| d / (||d|| + 1e-6)
      g.g_fo = g_fo;
      g.fo_scale = coef;
      g.zo_scale = (1.0 - coef) * fo_norm[i] / (d_norm[e] + 1e-6);
      g.direction = direction;
    } else {  // bp, fo_micro, fusion at coef 1
      if (!g_fo.defined()) continue;
      g.g_fo = g_fo;
    }
    apply(i, g);
  }
  for (size_t i : head_index_) {
    const Tensor g_fo = grad(*params[i].second);
    if (!g_fo.defined()) continue;
    ops::FusedGradient g;
    g.g_fo = g_fo;
    apply(i, g);
  }
}

StepRecord FusionStep::run(const Tensor& x, const Tensor& y, double lr, double coef, PhiloxStream& rng) {
  AGF_CHECK(x.dim() == 3 && y.dim() == 2 && x.size(0) == y.size(0) && x.size(0) > 0,
            "training step: batch x {} and labels y {} do not match", x.describe(), y.describe());
  AGF_CHECK(coef >= 0 && coef <= 1, "coef must lie in [0, 1], got {}", coef);
  const auto t0 = Clock::now();
  StepRecord rec;
  rec.lr = lr;
  rec.coef = coef;
  net_.zero_grad();
  if (opt_.teacher) {
    // Once per batch, under NoGrad: the teacher's activations are freed as its forward goes, and only its (B, K)
    // logits stay for the step.
    Phase ph("teacher/forward", device_, rec);
    NoGradGuard no_grad;
    MemScope scope(MemTag::activations);
    opt_.teacher->eval();
    teacher_main_ = opt_.teacher->forward(x).main_logits;
  }
  const bool zo_weighted = opt_.mode == Mode::zo || (opt_.mode == Mode::fusion && coef < 1.0);
  const bool full_heads = opt_.mode == Mode::zo || (zo_weighted && opt_.head_grad == HeadGrad::full);
  std::optional<ZoEstimate> zo;
  if (zo_weighted) zo = zo_estimate(x, y, rng, full_heads, rec);
  if (opt_.mode != Mode::zo) fo_pass(x, y, opt_.mode == Mode::bp, rec);
  if (full_heads) full_head_gradient(zo->features_minus, y, rec);
  if (!zo_weighted) rec.loss = rec.loss_fo;
  update(zo ? &*zo : nullptr, coef, lr, rec);
  net_.zero_grad();
  teacher_main_ = Tensor();
  rec.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return rec;
}

}  // namespace agf::fusion
