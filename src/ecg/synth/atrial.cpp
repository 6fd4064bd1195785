#include "ecg/synth/atrial.h"

#include <algorithm>
#include <array>
#include <vector>

namespace agf::synth {

namespace {

double uniform(PhiloxStream& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_uniform(); }

// Values on knots every `step_s` over the record, linearly interpolated between them.
struct KnotTrack {
  double step_s;
  std::vector<double> knots;
  double at(double t) const {
    const double x = std::max(0.0, t / step_s);
    const auto i = std::min(static_cast<size_t>(x), knots.size() - 2);
    const double f = std::min(x - static_cast<double>(i), 1.0);
    return knots[i] * (1.0 - f) + knots[i + 1] * f;
  }
};

}  // namespace

double add_fibrillation_waves(DipoleSignal& heart, PhiloxStream& rng) {
  const double duration = static_cast<double>(heart.n) / heart.fs;
  const double dominant_hz = uniform(rng, 4.5, 8.0);
  // Fine to coarse fibrillation: up to ~0.05 mV (fine) and 0.1-0.2 mV (coarse) in V1 once projected.
  const double amplitude = uniform(rng, 0.025, 0.09);
  constexpr double kKnotStep = 0.2;
  const size_t n_knots = static_cast<size_t>(duration / kKnotStep) + 3;
  const std::array<Vec3, 2> directions = {Vec3{-0.35, 0.45, -0.75}.normalized(), Vec3{0.15, 0.85, -0.35}.normalized()};
  for (int osc = 0; osc < 2; ++osc) {
    KnotTrack freq{kKnotStep, {}}, amp{kKnotStep, {}};
    const double base = dominant_hz * (osc == 0 ? 1.0 : uniform(rng, 0.85, 1.2));
    double drift = 0.0;
    for (size_t k = 0; k < n_knots; ++k) {
      drift = 0.7 * drift + 0.35 * rng.next_normal();  // Hz: the cycle length wanders beat to beat
      freq.knots.push_back(std::clamp(base + drift, 4.0, 9.0));
      amp.knots.push_back(amplitude * (osc == 0 ? 1.0 : 0.6) * uniform(rng, 0.45, 1.0));
    }
    const double harmonic = uniform(rng, 0.15, 0.4);
    const Vec3 dir = directions[static_cast<size_t>(osc)];
    double phase = uniform(rng, 0.0, 2.0 * kPi);
    double* x = heart.axis(0);
    double* y = heart.axis(1);
    double* z = heart.axis(2);
    for (int64_t s = 0; s < heart.n; ++s) {
      const double t = static_cast<double>(s) / heart.fs;
      phase += 2.0 * kPi * freq.at(t) / heart.fs;
      const double v = amp.at(t) * (std::sin(phase) + harmonic * std::sin(2.0 * phase + 0.7));
      x[s] += v * dir.x;
      y[s] += v * dir.y;
      z[s] += v * dir.z;
    }
  }
  return dominant_hz * 60.0;
}

void add_flutter_waves(DipoleSignal& heart, const RhythmPlan& plan, PhiloxStream& rng) {
  // One cycle as seen in lead II, on a 256-point table: a slow descent, a sharp negative fall, a quicker rise;
  // circularly smoothed (so there are no corners) and made zero-mean (so the baseline stays where it is).
  constexpr int kTable = 256;
  const double slow_end = uniform(rng, 0.45, 0.6), fall_end = slow_end + uniform(rng, 0.12, 0.18);
  std::array<double, kTable> raw{}, table{};
  for (int i = 0; i < kTable; ++i) {
    const double p = static_cast<double>(i) / kTable;
    if (p < slow_end)
      raw[static_cast<size_t>(i)] = 0.3 - 0.4 * p / slow_end;
    else if (p < fall_end)
      raw[static_cast<size_t>(i)] = -0.1 - 0.9 * (p - slow_end) / (fall_end - slow_end);
    else
      raw[static_cast<size_t>(i)] = -1.0 + 1.3 * (p - fall_end) / (1.0 - fall_end);
  }
  constexpr int kHalf = 20;
  constexpr double kSigma = 7.0;  // table points: about 5 ms at 300/min
  double mean = 0.0;
  for (int i = 0; i < kTable; ++i) {
    double acc = 0.0, wsum = 0.0;
    for (int d = -kHalf; d <= kHalf; ++d) {
      const double w = std::exp(-0.5 * d * d / (kSigma * kSigma));
      acc += w * raw[static_cast<size_t>((i + d + kTable) % kTable)];
      wsum += w;
    }
    table[static_cast<size_t>(i)] = acc / wsum;
    mean += table[static_cast<size_t>(i)] / kTable;
  }
  for (double& v : table) v -= mean;

  const Vec3 dir = Vec3{uniform(rng, -0.2, 0.05), 1.0, uniform(rng, 0.35, 0.65)}.normalized();
  const double amplitude = uniform(rng, 0.12, 0.28);
  double* x = heart.axis(0);
  double* y = heart.axis(1);
  double* z = heart.axis(2);
  for (int64_t s = 0; s < heart.n; ++s) {
    const double t = static_cast<double>(s) / heart.fs;
    double p = (t - plan.flutter_start_s) / plan.flutter_cycle_s;
    p -= std::floor(p);
    const double pos = p * kTable;
    const auto i = static_cast<size_t>(pos) % kTable;
    const double f = pos - std::floor(pos);
    const double v = amplitude * (table[i] * (1.0 - f) + table[(i + 1) % kTable] * f);
    x[s] += v * dir.x;
    y[s] += v * dir.y;
    z[s] += v * dir.z;
  }
}

}  // namespace agf::synth
