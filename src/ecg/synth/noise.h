#pragma once
// Recording artefacts, drawn per electrode (RA, LA, LL, V1..V6) and mixed into the leads the way an
// electrocardiograph forms them, so that the derived limb leads stay exact Einthoven/Goldberger combinations:
//  - baseline wander: electrode-skin impedance changing with breathing and movement, below 0.5 Hz;
//  - powerline interference: 50 or 60 Hz picked up unequally by the electrodes;
//  - muscle (EMG) noise: broadband, strongest on the limb electrodes, sometimes in bursts.
#include <cstdint>

#include "ecg/synth/rhythm.h"
#include "tensor/random.h"

namespace agf::synth {

struct NoiseLevels {
  double baseline_mv = 0.0;   // typical wander amplitude
  double powerline_mv = 0.0;  // 0: none
  double powerline_hz = 50.0;
  double emg_mv = 0.0;        // standard deviation of the muscle noise
  static NoiseLevels draw(PhiloxStream& rng, double scale);
};

// Adds the artefacts to rows I, II, V1..V6 of a lead-major (12, n) buffer (the other limb rows are derived after).
// Per-sample noise comes from philox::normal(noise_key, electrode * n + sample): a pure function of the key.
void add_recording_noise(float* leads, int64_t n, double fs, const NoiseLevels& levels, const Respiration& resp,
                         uint64_t noise_key, PhiloxStream& rng);

}  // namespace agf::synth
