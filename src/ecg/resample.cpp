#include "ecg/resample.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "tensor/error.h"

namespace agf::ecg {

namespace {

double sinc(double x) {
  if (x == 0.0) return 1.0;
  const double y = std::numbers::pi * x;
  return std::sin(y) / y;
}

}  // namespace

std::vector<double> kaiser_window(int64_t m, double beta) {
  AGF_CHECK(m >= 1, "Kaiser window length {} is not positive", m);
  if (m == 1) return {1.0};
  std::vector<double> w(static_cast<size_t>(m));
  const double alpha = (static_cast<double>(m) - 1) / 2.0;
  const double denom = std::cyl_bessel_i(0.0, beta);
  for (int64_t n = 0; n < m; ++n) {
    const double r = (static_cast<double>(n) - alpha) / alpha;
    w[static_cast<size_t>(n)] = std::cyl_bessel_i(0.0, beta * std::sqrt(std::max(0.0, 1 - r * r))) / denom;
  }
  return w;
}

std::vector<double> firwin_kaiser_lowpass(int64_t numtaps, double cutoff, double beta) {
  AGF_CHECK(numtaps >= 1 && numtaps % 2 == 1, "firwin low-pass needs an odd number of taps, got {}", numtaps);
  AGF_CHECK(cutoff > 0 && cutoff < 1, "firwin cutoff {} must lie in (0, 1) of Nyquist", cutoff);
  const double alpha = 0.5 * static_cast<double>(numtaps - 1);
  std::vector<double> h(static_cast<size_t>(numtaps));
  const std::vector<double> win = kaiser_window(numtaps, beta);
  for (int64_t i = 0; i < numtaps; ++i) {
    const double m = static_cast<double>(i) - alpha;
    // The single band [0, cutoff] of a windowed ideal low-pass.
    h[static_cast<size_t>(i)] = cutoff * sinc(cutoff * m) * win[static_cast<size_t>(i)];
  }
  // scale=True with a band starting at 0: normalise the DC gain (cos(0) = 1) to one.
  double s = 0.0;
  for (double v : h) s += v;
  for (double& v : h) v /= s;
  return h;
}

ResampleRatio resample_ratio(double from_fs, double to_fs) {
  AGF_CHECK(from_fs > 0 && to_fs > 0 && from_fs == std::round(from_fs) && to_fs == std::round(to_fs),
            "resampling needs positive integer rates, got {} Hz -> {} Hz", from_fs, to_fs);
  const auto from = static_cast<int64_t>(from_fs), to = static_cast<int64_t>(to_fs);
  const int64_t g = std::gcd(from, to);
  return {to / g, from / g};
}

int64_t resample_poly_length(int64_t n, int64_t up, int64_t down) {
  const int64_t g = std::gcd(up, down);
  up /= g;
  down /= g;
  const int64_t prod = n * up;
  return prod / down + (prod % down != 0 ? 1 : 0);
}

std::vector<double> resample_poly(const double* x, int64_t n, int64_t up, int64_t down) {
  AGF_CHECK(up >= 1 && down >= 1, "resample_poly: up {} and down {} must be >= 1", up, down);
  AGF_CHECK(n >= 1, "resample_poly of an empty signal");
  const int64_t g = std::gcd(up, down);
  up /= g;
  down /= g;
  if (up == 1 && down == 1) return std::vector<double>(x, x + n);
  AGF_CHECK(std::max(up, down) <= kMaxResampleFactor, "resample_poly ratio {}/{} needs an implausibly long filter", up, down);

  const int64_t n_out = resample_poly_length(n, up, down);
  const int64_t max_rate = std::max(up, down);
  const int64_t half_len = 10 * max_rate;
  std::vector<double> taps = firwin_kaiser_lowpass(2 * half_len + 1, 1.0 / static_cast<double>(max_rate), 5.0);
  for (double& v : taps) v *= static_cast<double>(up);

  // Pre-pad so the kept outputs are centred; scipy's post-pad only lengthens upfirdn's output with samples that
  // read zeros, so computing each kept output directly needs just the pre-pad.
  const int64_t n_pre_pad = down - half_len % down;
  const int64_t n_pre_remove = (half_len + n_pre_pad) / down;
  std::vector<double> h(static_cast<size_t>(n_pre_pad), 0.0);
  h.insert(h.end(), taps.begin(), taps.end());
  const int64_t len_h = static_cast<int64_t>(h.size());

  // upfirdn output i = sum_k h[k] * xup[i*down - k], xup[j*up] = x[j], zero elsewhere.
  std::vector<double> y(static_cast<size_t>(n_out));
  for (int64_t o = 0; o < n_out; ++o) {
    const int64_t pos = (n_pre_remove + o) * down;
    int64_t j_lo = pos - len_h + 1 <= 0 ? 0 : (pos - len_h + 1 + up - 1) / up;
    int64_t j_hi = std::min(pos / up, n - 1);
    double acc = 0.0;
    for (int64_t j = j_lo; j <= j_hi; ++j) acc += h[static_cast<size_t>(pos - j * up)] * x[j];
    y[static_cast<size_t>(o)] = acc;
  }
  return y;
}

}  // namespace agf::ecg
