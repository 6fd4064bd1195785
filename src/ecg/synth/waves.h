#pragma once
// One deflection of the cardiac dipole: a fixed 3-D direction times an asymmetric Gaussian in time. The P wave,
// each phase of ventricular depolarisation (septal, apical, free wall, basal, delayed right or left ventricle) and
// the T and U waves are each one or two such components, the approach of McSharry et al. ("A dynamical model for
// generating synthetic electrocardiogram signals", IEEE TBME 2003) and of its 3-D vectorcardiographic extension
// (Sayadi et al., "Synthetic ECG generation and Bayesian filtering using a Gaussian wave-based dynamical model",
// Physiol Meas 2010).
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "ecg/synth/vec3.h"

namespace agf::synth {

// Where a component counts as started or ended: 2.5 sigma from its peak, where it has fallen to 4.4% of it.
inline constexpr double kWaveExtentSigmas = 2.5;
// How far a component is rendered: 5 sigma, where it is below 4e-6 of its peak (under 0.01 uV for a 2 mV wave).
inline constexpr double kWaveRenderSigmas = 5.0;

struct DipoleWave {
  double center_s = 0.0;       // time of the peak
  double sigma_left_s = 0.01;  // rise
  double sigma_right_s = 0.01; // fall
  Vec3 vector;                 // dipole at the peak, mV

  double onset_s() const { return center_s - kWaveExtentSigmas * sigma_left_s; }
  double offset_s() const { return center_s + kWaveExtentSigmas * sigma_right_s; }
  double shape(double t) const {
    const double d = t - center_s;
    const double s = d < 0.0 ? sigma_left_s : sigma_right_s;
    return std::exp(-0.5 * d * d / (s * s));
  }
  // Time integral of the dipole (mV*s): each half of the asymmetric Gaussian contributes sigma * sqrt(pi/2).
  Vec3 area() const { return vector * (std::sqrt(kPi / 2.0) * (sigma_left_s + sigma_right_s)); }
  DipoleWave shifted(double dt) const {
    DipoleWave w = *this;
    w.center_s += dt;
    return w;
  }
  DipoleWave scaled(double k) const {
    DipoleWave w = *this;
    w.vector = w.vector * k;
    return w;
  }
};

// A 3-D signal sampled at fs: component-major (x then y then z), n samples each, starting at time 0.
struct DipoleSignal {
  double fs = 500.0;
  int64_t n = 0;
  std::vector<double> xyz;  // 3 * n

  DipoleSignal(double fs_hz, int64_t n_samples) : fs(fs_hz), n(n_samples), xyz(static_cast<size_t>(3 * n_samples)) {}
  double* axis(int a) { return xyz.data() + a * n; }
  const double* axis(int a) const { return xyz.data() + a * n; }
  Vec3 at(int64_t s) const { return {xyz[static_cast<size_t>(s)], xyz[static_cast<size_t>(n + s)],
                                     xyz[static_cast<size_t>(2 * n + s)]}; }
  void add(const DipoleWave& w);                      // adds one component where it overlaps [0, n)
  void add(std::span<const DipoleWave> waves) {
    for (const auto& w : waves) add(w);
  }
};

// Earliest onset and latest offset of a group of components.
double onset_of(std::span<const DipoleWave> waves);
double offset_of(std::span<const DipoleWave> waves);
Vec3 area_of(std::span<const DipoleWave> waves);

}  // namespace agf::synth
