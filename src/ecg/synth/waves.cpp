#include "ecg/synth/waves.h"

#include <algorithm>
#include <limits>

namespace agf::synth {

void DipoleSignal::add(const DipoleWave& w) {
  const auto first = static_cast<int64_t>(std::ceil((w.center_s - kWaveRenderSigmas * w.sigma_left_s) * fs));
  const auto last = static_cast<int64_t>(std::floor((w.center_s + kWaveRenderSigmas * w.sigma_right_s) * fs));
  const int64_t lo = std::max<int64_t>(first, 0), hi = std::min<int64_t>(last, n - 1);
  double* x = axis(0);
  double* y = axis(1);
  double* z = axis(2);
  for (int64_t s = lo; s <= hi; ++s) {
    const double g = w.shape(static_cast<double>(s) / fs);
    x[s] += g * w.vector.x;
    y[s] += g * w.vector.y;
    z[s] += g * w.vector.z;
  }
}

double onset_of(std::span<const DipoleWave> waves) {
  double t = std::numeric_limits<double>::infinity();
  for (const auto& w : waves) t = std::min(t, w.onset_s());
  return t;
}

double offset_of(std::span<const DipoleWave> waves) {
  double t = -std::numeric_limits<double>::infinity();
  for (const auto& w : waves) t = std::max(t, w.offset_s());
  return t;
}

Vec3 area_of(std::span<const DipoleWave> waves) {
  Vec3 a;
  for (const auto& w : waves) a += w.area();
  return a;
}

}  // namespace agf::synth
