#include "dataset/cutmix.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "tensor/error.h"

namespace agf::dataset {

double sample_gamma(PhiloxStream& rng, double shape) {
  AGF_CHECK(shape > 0 && std::isfinite(shape), "Gamma shape {} is not a positive number", shape);
  if (shape < 1.0) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a) (Marsaglia & Tsang, section 6). next_uniform is in (0, 1].
    const double g = sample_gamma(rng, shape + 1.0);
    return g * std::pow(rng.next_uniform(), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = rng.next_normal();
    double v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double u = rng.next_uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;  // the cheap squeeze accepts ~98% without logs
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double sample_beta(PhiloxStream& rng, double a, double b) {
  const double x = sample_gamma(rng, a);
  const double y = sample_gamma(rng, b);
  // Both Gammas of small shape can underflow to 0 together; the limit of X / (X + Y) is then a coin flip.
  if (x + y == 0.0) return rng.next_uniform() <= a / (a + b) ? 1.0 : 0.0;
  return x / (x + y);
}

CutMixBox draw_cutmix_box(PhiloxStream& rng, int64_t batch, int64_t leads, int64_t length, double alpha) {
  AGF_CHECK(batch >= 1 && leads >= 1 && length >= 1, "CutMix on a batch of shape ({}, {}, {})", batch, leads, length);
  CutMixBox box;
  box.lambda = sample_beta(rng, alpha, alpha);
  // The CutMix paper's rand_bbox, with time as its width and leads as its height.
  const double cut_ratio = std::sqrt(1.0 - box.lambda);
  const auto cut_t = static_cast<int64_t>(static_cast<double>(length) * cut_ratio);
  const auto cut_l = static_cast<int64_t>(static_cast<double>(leads) * cut_ratio);
  const auto centre_t = static_cast<int64_t>(rng.next_below(static_cast<uint64_t>(length)));
  const auto centre_l = static_cast<int64_t>(rng.next_below(static_cast<uint64_t>(leads)));
  box.time_begin = std::clamp<int64_t>(centre_t - cut_t / 2, 0, length);
  box.time_end = std::clamp<int64_t>(centre_t + cut_t / 2, 0, length);
  box.lead_begin = std::clamp<int64_t>(centre_l - cut_l / 2, 0, leads);
  box.lead_end = std::clamp<int64_t>(centre_l + cut_l / 2, 0, leads);
  box.area_fraction = static_cast<double>((box.time_end - box.time_begin) * (box.lead_end - box.lead_begin)) /
                      static_cast<double>(leads * length);
  box.partner.resize(static_cast<size_t>(batch));
  std::iota(box.partner.begin(), box.partner.end(), int64_t{0});
  for (int64_t i = batch - 1; i > 0; --i)
    std::swap(box.partner[static_cast<size_t>(i)], box.partner[rng.next_below(static_cast<uint64_t>(i + 1))]);
  return box;
}

void apply_cutmix_(Tensor& x, Tensor& y, const CutMixBox& box) {
  AGF_CHECK(x.dim() == 3 && x.dtype() == DType::f32 && x.is_contiguous() && x.device().is_cpu(),
            "CutMix: x must be a contiguous f32 (B, leads, T) CPU tensor, got {}", x.describe());
  AGF_CHECK(y.dim() == 2 && y.dtype() == DType::f32 && y.is_contiguous() && y.device().is_cpu() &&
                y.size(0) == x.size(0),
            "CutMix: y must be a contiguous f32 (B, K) CPU tensor matching x {}, got {}", x.describe(), y.describe());
  const int64_t b = x.size(0), leads = x.size(1), length = x.size(2), k = y.size(1);
  AGF_CHECK(static_cast<int64_t>(box.partner.size()) == b, "CutMix: {} partners for a batch of {}",
            box.partner.size(), b);
  AGF_CHECK(0 <= box.lead_begin && box.lead_begin <= box.lead_end && box.lead_end <= leads && 0 <= box.time_begin &&
                box.time_begin <= box.time_end && box.time_end <= length,
            "CutMix: box leads [{}, {}) x samples [{}, {}) outside ({}, {})", box.lead_begin, box.lead_end,
            box.time_begin, box.time_end, leads, length);
  const int64_t box_leads = box.lead_end - box.lead_begin, box_len = box.time_end - box.time_begin;
  float* xp = x.data<float>();
  // Every record's box before any is overwritten, since a record can be both a target and someone's partner.
  std::vector<float> saved(static_cast<size_t>(b * box_leads * box_len));
  auto row = [&](int64_t i, int64_t l) { return xp + (i * leads + box.lead_begin + l) * length + box.time_begin; };
  for (int64_t i = 0; i < b; ++i)
    for (int64_t l = 0; l < box_leads; ++l)
      std::memcpy(saved.data() + (i * box_leads + l) * box_len, row(i, l), static_cast<size_t>(box_len) * 4);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t p = box.partner[static_cast<size_t>(i)];
    AGF_CHECK(p >= 0 && p < b, "CutMix: partner {} outside the batch of {}", p, b);
    for (int64_t l = 0; l < box_leads; ++l)
      std::memcpy(row(i, l), saved.data() + (p * box_leads + l) * box_len, static_cast<size_t>(box_len) * 4);
  }
  float* yp = y.data<float>();
  const std::vector<float> y_before(yp, yp + b * k);
  const double f = box.area_fraction;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t p = box.partner[static_cast<size_t>(i)];
    for (int64_t j = 0; j < k; ++j)
      yp[i * k + j] = static_cast<float>((1.0 - f) * y_before[static_cast<size_t>(i * k + j)] +
                                         f * y_before[static_cast<size_t>(p * k + j)]);
  }
}

CutMixBox cutmix_(Tensor& x, Tensor& y, PhiloxStream& rng, double alpha) {
  AGF_CHECK(x.dim() == 3, "CutMix: x must be (B, leads, T), got {}", x.describe());
  CutMixBox box = draw_cutmix_box(rng, x.size(0), x.size(1), x.size(2), alpha);
  apply_cutmix_(x, y, box);
  return box;
}

}  // namespace agf::dataset
