#include "autograd/gradcheck.h"

#include <cmath>
#include <limits>

#include "autograd/functions.h"
#include "tensor/random.h"

namespace agf {

namespace {
// sum(out * w), and the sum of the magnitudes of its terms, which bounds the rounding error of the difference.
std::pair<double, double> weighted_sum(const Tensor& out, const Tensor& w) {
  Tensor terms = ops::mul(out, w);
  return {ops::sum(terms).item<double>(), ops::sum(ops::abs(terms)).item<double>()};
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor()>& f, const std::vector<Tensor>& inputs,
                          const std::vector<std::string>& names, const GradcheckOptions& opt) {
  for (const auto& t : inputs) {
    AGF_CHECK(t.dtype() == DType::f64 && t.device().is_cpu() && t.is_contiguous() && requires_grad(t) && is_leaf(t),
              "gradcheck: inputs must be contiguous float64 CPU leaves that require grad, got {}", t.describe());
  }
  GradcheckResult res;
  // Analytic gradients.
  Tensor out = f();
  Tensor w = empty(out.shape(), DType::f64);
  fill_uniform_(w, opt.seed, 0, -1.0, 1.0);
  for (auto t : inputs) zero_grad(t);
  backward(ag::sum(ag::mul(out, w)));
  out = Tensor();

  NoGradGuard no_grad;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    const Tensor g = grad(x);
    const int64_t n = x.numel();
    const int64_t samples = opt.max_samples < 0 ? n : std::min(n, opt.max_samples);
    double* xp = x.data<double>();
    std::vector<double> analytic(samples), numeric(samples);
    std::vector<int64_t> where(samples);
    const auto gv = g.defined() ? g.to_vector<double>() : std::vector<double>(n, 0.0);
    double max_num = 0, noise = 0;
    for (int64_t s = 0; s < samples; ++s) {
      const int64_t e = samples == n ? s : (s * 7919 + 13) % n;
      const double x0 = xp[e];
      const double h = opt.eps * std::max(1.0, std::fabs(x0));
      xp[e] = x0 + h;
      const auto [fp, mag] = weighted_sum(f(), w);
      xp[e] = x0 - h;
      const double fm = weighted_sum(f(), w).first;
      xp[e] = x0;
      numeric[s] = (fp - fm) / (2 * h);
      // A float64 evaluation of f is good to ~eps * mag (times the depth of the computation), so a difference
      // quotient cannot resolve gradients below ~eps * mag / h; those compare against that floor instead.
      noise = std::max(noise, 64 * std::numeric_limits<double>::epsilon() * mag / (2 * h));
      analytic[s] = gv[e];
      where[s] = e;
      max_num = std::max(max_num, std::fabs(numeric[s]));
    }
    double worst = 0;
    int64_t worst_s = 0;
    for (int64_t s = 0; s < samples; ++s) {
      const double tol = opt.rtol * (std::fabs(numeric[s]) + opt.atol_frac * max_num) + noise + 1e-300;
      const double ratio = std::fabs(analytic[s] - numeric[s]) / tol;
      if (!(ratio <= worst)) {
        worst = std::isnan(ratio) ? INFINITY : ratio;
        worst_s = s;
      }
    }
    res.checked += samples;
    res.worst_ratio = std::max(res.worst_ratio, worst);
    if (worst > 1.0) res.ok = false;
    const std::string name = i < names.size() ? names[i] : fmt::format("input {}", i);
    res.report += fmt::format("{} {}: {} elements, worst err/tol {:.3g} (at {}: analytic {:.10g} numeric {:.10g})\n",
                              worst > 1.0 ? "FAIL" : "ok  ", name, samples, worst,
                              samples ? where[worst_s] : -1, samples ? analytic[worst_s] : 0.0,
                              samples ? numeric[worst_s] : 0.0);
  }
  return res;
}

}  // namespace agf
