#include "ecg/filtfilt.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace agf::ecg {

namespace {

// b and a padded to one length and divided by a[0], as both lfilter and lfilter_zi start.
struct NormalisedFilter {
  std::vector<double> b, a;
};

NormalisedFilter normalise(const TransferFunction& tf) {
  AGF_CHECK(!tf.a.empty() && !tf.b.empty(), "filter with empty coefficients (len(b) = {}, len(a) = {})", tf.b.size(),
            tf.a.size());
  AGF_CHECK(tf.a[0] != 0.0, "filter denominator a[0] is zero");
  size_t n = std::max(tf.a.size(), tf.b.size());
  NormalisedFilter f{tf.b, tf.a};
  f.b.resize(n, 0.0);
  f.a.resize(n, 0.0);
  const double a0 = tf.a[0];
  for (size_t i = 0; i < n; ++i) {
    f.b[i] /= a0;
    f.a[i] /= a0;
  }
  return f;
}

void lfilter_normalised(const NormalisedFilter& f, const double* x, double* y, int64_t n, double* z) {
  const size_t taps = f.b.size();
  if (taps == 1) {
    for (int64_t k = 0; k < n; ++k) y[k] = x[k] * f.b[0];
    return;
  }
  // The same operation order as scipy's C loop, so results agree to the last bit where the compiler allows.
  for (int64_t k = 0; k < n; ++k) {
    const double xn = x[k];
    const double yn = z[0] + f.b[0] * xn;
    for (size_t i = 1; i + 1 < taps; ++i) z[i - 1] = z[i] + xn * f.b[i] - yn * f.a[i];
    z[taps - 2] = xn * f.b[taps - 1] - yn * f.a[taps - 1];
    y[k] = yn;
  }
}

}  // namespace

void lfilter(const TransferFunction& tf, const double* x, double* y, int64_t n, std::vector<double>& z) {
  NormalisedFilter f = normalise(tf);
  AGF_CHECK(z.size() == f.b.size() - 1, "lfilter state has {} values, the filter needs {}", z.size(), f.b.size() - 1);
  lfilter_normalised(f, x, y, n, z.data());
}

std::vector<double> lfilter_zi(const TransferFunction& tf) {
  NormalisedFilter f = normalise(tf);
  const size_t m = f.b.size() - 1;
  if (m == 0) return {};
  // companion(a)[0, j] = -a[j+1], subdiagonal ones; I - companion^T has -(-a[i+1]) in column 0 and -1 above
  // the diagonal.
  std::vector<double> mat(m * m, 0.0), rhs(m);
  for (size_t i = 0; i < m; ++i) {
    mat[i * m + i] = 1.0;
    mat[i * m + 0] += f.a[i + 1];
    if (i + 1 < m) mat[i * m + i + 1] -= 1.0;
    rhs[i] = f.b[i + 1] - f.a[i + 1] * f.b[0];
  }
  // Gaussian elimination with partial pivoting (LAPACK gesv's algorithm) on this small system.
  std::vector<size_t> perm(m);
  for (size_t i = 0; i < m; ++i) perm[i] = i;
  for (size_t c = 0; c < m; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < m; ++r)
      if (std::abs(mat[r * m + c]) > std::abs(mat[piv * m + c])) piv = r;
    AGF_CHECK(mat[piv * m + c] != 0.0, "lfilter_zi: singular system (the filter has a pole at z = 1)");
    if (piv != c) {
      for (size_t j = 0; j < m; ++j) std::swap(mat[c * m + j], mat[piv * m + j]);
      std::swap(rhs[c], rhs[piv]);
    }
    for (size_t r = c + 1; r < m; ++r) {
      double factor = mat[r * m + c] / mat[c * m + c];
      for (size_t j = c; j < m; ++j) mat[r * m + j] -= factor * mat[c * m + j];
      rhs[r] -= factor * rhs[c];
    }
  }
  std::vector<double> zi(m);
  for (size_t i = m; i-- > 0;) {
    double s = rhs[i];
    for (size_t j = i + 1; j < m; ++j) s -= mat[i * m + j] * zi[j];
    zi[i] = s / mat[i * m + i];
  }
  return zi;
}

int64_t filtfilt_default_padlen(const TransferFunction& tf) {
  return 3 * static_cast<int64_t>(std::max(tf.a.size(), tf.b.size()));
}

void filtfilt(const TransferFunction& tf, double* x, int64_t n, std::optional<int64_t> padlen) {
  const int64_t edge = padlen.value_or(filtfilt_default_padlen(tf));
  AGF_CHECK(edge >= 0, "filtfilt pad length {} is negative", edge);
  AGF_CHECK(n > edge, "filtfilt needs more than {} samples (the pad length), the signal has {}", edge, n);
  NormalisedFilter f = normalise(tf);
  const std::vector<double> zi = lfilter_zi(tf);

  // Odd extension: 2 x[0] - x[edge..1] before, 2 x[n-1] - x[n-2..n-1-edge] after.
  const int64_t len = n + 2 * edge;
  std::vector<double> ext(static_cast<size_t>(len)), y(static_cast<size_t>(len));
  for (int64_t i = 0; i < edge; ++i) ext[static_cast<size_t>(i)] = 2 * x[0] - x[edge - i];
  std::copy(x, x + n, ext.begin() + edge);
  for (int64_t i = 0; i < edge; ++i) ext[static_cast<size_t>(edge + n + i)] = 2 * x[n - 1] - x[n - 2 - i];

  std::vector<double> z(zi.size());
  const double x0 = ext.front();
  for (size_t i = 0; i < zi.size(); ++i) z[i] = zi[i] * x0;
  lfilter_normalised(f, ext.data(), y.data(), len, z.data());

  std::reverse(y.begin(), y.end());
  const double y0 = y.front();
  for (size_t i = 0; i < zi.size(); ++i) z[i] = zi[i] * y0;
  lfilter_normalised(f, y.data(), ext.data(), len, z.data());

  // ext now holds the backward pass in reversed time: sample k of the result sits at len - 1 - (edge + k).
  for (int64_t k = 0; k < n; ++k) x[k] = ext[static_cast<size_t>(len - 1 - edge - k)];
}

}  // namespace agf::ecg
