#include "ecg/iir_design.h"

#include <cmath>
#include <complex>
#include <numbers>

#include "tensor/error.h"

namespace agf::ecg {

namespace {

using cplx = std::complex<double>;

// numpy.poly: coefficients of prod (x - r), built by convolving with [1, -r] root by root in the given order.
std::vector<cplx> poly(const std::vector<cplx>& roots) {
  std::vector<cplx> c{1.0};
  for (const cplx& r : roots) {
    std::vector<cplx> next(c.size() + 1, 0.0);
    for (size_t i = 0; i < c.size(); ++i) {
      next[i] += c[i];
      next[i + 1] += c[i] * (-r);
    }
    c = std::move(next);
  }
  return c;
}

}  // namespace

TransferFunction butter_bandpass(int order, double low_hz, double high_hz, double fs) {
  AGF_CHECK(order >= 1 && order <= 20, "Butterworth order {} outside 1..20", order);
  AGF_CHECK(fs > 0, "sampling frequency {} Hz is not positive", fs);
  AGF_CHECK(low_hz > 0 && low_hz < high_hz && high_hz < fs / 2,
            "band-pass edges {} - {} Hz need 0 < low < high < fs/2 = {} Hz", low_hz, high_hz, fs / 2);
  constexpr double pi = std::numbers::pi;

  // iirfilter: normalise to Nyquist, then prewarp with the bilinear constant of fs = 2.
  const double wn[2] = {low_hz / (fs / 2), high_hz / (fs / 2)};
  const double fs_design = 2.0;
  double warped[2];
  for (int i = 0; i < 2; ++i) warped[i] = 2 * fs_design * std::tan(pi * wn[i] / fs_design);
  const double bw = warped[1] - warped[0];
  const double wo = std::sqrt(warped[0] * warped[1]);

  // buttap: p = -exp(j pi m / (2N)), m = -N+1, -N+3, ..., N-1; no zeros, gain 1.
  std::vector<cplx> p_proto;
  for (int m = -order + 1; m < order; m += 2) p_proto.push_back(-std::exp(cplx(0.0, pi * m / (2.0 * order))));

  // lp2bp_zpk: each pole splits into p_lp +/- sqrt(p_lp^2 - wo^2); `order` zeros land at the origin.
  std::vector<cplx> p_bp;
  std::vector<cplx> p_lp;
  for (const cplx& p : p_proto) p_lp.push_back(p * bw / 2.0);
  for (const cplx& p : p_lp) p_bp.push_back(p + std::sqrt(p * p - wo * wo));
  for (const cplx& p : p_lp) p_bp.push_back(p - std::sqrt(p * p - wo * wo));
  std::vector<cplx> z_bp(static_cast<size_t>(order), 0.0);
  double k_bp = std::pow(bw, order);

  // bilinear_zpk with fs2 = 2 * fs_design; zeros at infinity (degree = len(p) - len(z)) move to z = -1.
  const double fs2 = 2.0 * fs_design;
  std::vector<cplx> z_z, p_z;
  for (const cplx& z : z_bp) z_z.push_back((fs2 + z) / (fs2 - z));
  for (const cplx& p : p_bp) p_z.push_back((fs2 + p) / (fs2 - p));
  const size_t degree = p_bp.size() - z_bp.size();
  for (size_t i = 0; i < degree; ++i) z_z.push_back(-1.0);
  cplx num = 1.0, den = 1.0;
  for (const cplx& z : z_bp) num *= (fs2 - z);
  for (const cplx& p : p_bp) den *= (fs2 - p);
  const double k_z = k_bp * (num / den).real();

  // zpk2tf: b = k poly(z), a = poly(p); conjugate-paired roots make both real.
  TransferFunction tf;
  for (const cplx& c : poly(z_z)) tf.b.push_back(k_z * c.real());
  for (const cplx& c : poly(p_z)) tf.a.push_back(c.real());
  return tf;
}

}  // namespace agf::ecg
