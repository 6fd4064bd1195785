#include "ecg/synth/noise.h"

#include <array>
#include <cstdint>
#include <cmath>
#include <vector>

#include "ecg/synth/lead_system.h"
#include "tensor/philox.h"

namespace agf::synth {

namespace {

double uniform(PhiloxStream& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_uniform(); }
double log_uniform(PhiloxStream& rng, double lo, double hi) { return lo * std::pow(hi / lo, rng.next_uniform()); }

// sin(2 pi f t + phase) at successive samples by rotating a unit phasor: one complex multiply per sample instead of
// a sin() call (in double the rotation drifts by ~1e-16 per step, nothing over a record).
class Oscillator {
 public:
  Oscillator(double hz, double fs, double phase)
      : c_(std::cos(phase)), s_(std::sin(phase)), dc_(std::cos(2.0 * kPi * hz / fs)), ds_(std::sin(2.0 * kPi * hz / fs)) {}
  double next() {
    const double v = s_;
    const double c = c_ * dc_ - s_ * ds_;
    s_ = s_ * dc_ + c_ * ds_;
    c_ = c;
    return v;
  }

 private:
  double c_, s_, dc_, ds_;
};

}  // namespace

NoiseLevels NoiseLevels::draw(PhiloxStream& rng, double scale) {
  NoiseLevels n;
  n.baseline_mv = log_uniform(rng, 0.02, 0.25) * scale;
  const bool mains = rng.next_uniform() < 0.7;
  n.powerline_hz = rng.next_uniform() < 0.5 ? 50.0 : 60.0;
  n.powerline_mv = mains ? log_uniform(rng, 0.004, 0.04) * scale : 0.0;
  n.emg_mv = log_uniform(rng, 0.003, 0.025) * scale;
  return n;
}

void add_recording_noise(float* leads, int64_t n, double fs, const NoiseLevels& levels, const Respiration& resp,
                         uint64_t noise_key, PhiloxStream& rng) {
  // Per-electrode parameters are drawn whether or not a component is on, so the stream never depends on levels.
  struct ElectrodeNoise {
    double resp_gain, resp_lag;
    std::array<double, 2> drift_hz, drift_phase, drift_gain;
    double mains_gain, mains_phase, emg_gain;
  };
  std::array<ElectrodeNoise, kElectrodeCount> e{};
  const double mains_phase = uniform(rng, 0.0, 2.0 * kPi);
  for (int k = 0; k < kElectrodeCount; ++k) {
    ElectrodeNoise& en = e[static_cast<size_t>(k)];
    en.resp_gain = rng.next_normal();
    en.resp_lag = 0.5 * rng.next_normal();
    for (size_t d = 0; d < 2; ++d) {
      en.drift_hz[d] = uniform(rng, 0.03, 0.2);
      en.drift_phase[d] = uniform(rng, 0.0, 2.0 * kPi);
      en.drift_gain[d] = 0.6 * rng.next_normal();
    }
    en.mains_gain = uniform(rng, 0.2, 1.0);
    en.mains_phase = mains_phase + 0.3 * rng.next_normal();
    en.emg_gain = k <= kLL ? uniform(rng, 1.0, 1.6) : uniform(rng, 0.5, 1.0);  // limb muscles vs chest wall
  }
  // An EMG burst (the patient moves or shivers) in a third of the records.
  const bool burst = rng.next_uniform() < 0.33;
  const double burst_at = uniform(rng, 0.0, static_cast<double>(n) / fs), burst_width = uniform(rng, 0.3, 1.2);
  const double burst_gain = uniform(rng, 1.5, 4.0);

  std::vector<float> electrode(static_cast<size_t>(kElectrodeCount * n));
  for (int k = 0; k < kElectrodeCount; ++k) {
    const ElectrodeNoise& en = e[static_cast<size_t>(k)];
    float* out = electrode.data() + k * n;
    const uint64_t base = static_cast<uint64_t>(k) * static_cast<uint64_t>(n);
    // philox::normal(key, i) is lane i % 4 of block i / 4: draw each block once and use its four lanes.
    uint64_t cached_block = UINT64_MAX;
    float lanes[4] = {0.f, 0.f, 0.f, 0.f};
    Oscillator breathing(resp.hz, fs, resp.phase + en.resp_lag), drift0(en.drift_hz[0], fs, en.drift_phase[0]),
        drift1(en.drift_hz[1], fs, en.drift_phase[1]), mains(levels.powerline_hz, fs, en.mains_phase);
    for (int64_t s = 0; s < n; ++s) {
      double v = levels.baseline_mv * (en.resp_gain * breathing.next() + en.drift_gain[0] * drift0.next() +
                                       en.drift_gain[1] * drift1.next());
      if (levels.powerline_mv > 0.0) v += levels.powerline_mv * en.mains_gain * mains.next();
      if (levels.emg_mv > 0.0) {
        double g = en.emg_gain;
        if (burst) {
          const double d = (static_cast<double>(s) / fs - burst_at) / burst_width;
          if (std::abs(d) < 6.0) g *= 1.0 + burst_gain * std::exp(-0.5 * d * d);
        }
        const uint64_t i = base + static_cast<uint64_t>(s);
        if ((i >> 2) != cached_block) {
          cached_block = i >> 2;
          philox::normals_from_block(philox::block(noise_key, cached_block), lanes);
        }
        v += levels.emg_mv * g * lanes[i & 3];
      }
      out[s] = static_cast<float>(v);
    }
  }
  // Lead I = LA - RA, II = LL - RA, Vk = Vk - (RA + LA + LL) / 3.
  const float* ra = electrode.data() + kRA * n;
  const float* la = electrode.data() + kLA * n;
  const float* ll = electrode.data() + kLL * n;
  for (int64_t s = 0; s < n; ++s) {
    leads[kI * n + s] += la[s] - ra[s];
    leads[kII * n + s] += ll[s] - ra[s];
    const float wct = (ra[s] + la[s] + ll[s]) / 3.0f;
    for (int v = 0; v < 6; ++v) leads[(kV1 + v) * n + s] += electrode[static_cast<size_t>((kEV1 + v) * n + s)] - wct;
  }
}

}  // namespace agf::synth
