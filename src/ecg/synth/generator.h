#pragma once
// The synthetic 12-lead ECG generator: record `index` of a data set generated with `seed` is a pure function of
// (config, seed, index), so records can be made in any order, on any number of threads, and re-made identically.
//
// A record is built in four steps: diagnoses (classes.h), the heart's beat shapes (morphology.h) and beat times
// (rhythm.h), rendered as a 3-D cardiac dipole with any fibrillation or flutter waves (atrial.h), projected onto
// the 12 leads (lead_system.h) and overlaid with recording artefacts (noise.h).
#include <cstdint>
#include <limits>
#include <vector>

#include "ecg/synth/classes.h"
#include "ecg/synth/lead_system.h"
#include "ecg/synth/morphology.h"
#include "ecg/synth/noise.h"
#include "ecg/synth/rhythm.h"
#include "tensor/tensor.h"

namespace agf::synth {

struct SynthConfig {
  double fs = 500.0;       // Hz
  double seconds = 10.0;
  ClassMix mix = ClassMix::defaults();
  double noise_scale = 1.0;  // multiplies every artefact; 0 gives the heart's signal alone
  int64_t n_samples() const;
  void validate() const;     // throws agf::Error naming the option
};

// Fiducial points of one beat as sample indices of the record. For beats at the record's edges they can lie
// outside [0, n_samples); kAbsent marks a wave the beat does not have (the P of a PVC or of AF).
struct BeatAnnotation {
  static constexpr int64_t kAbsent = std::numeric_limits<int64_t>::min();
  BeatKind kind = BeatKind::sinus;
  int64_t p_onset = kAbsent, p_offset = kAbsent;
  int64_t qrs_onset = 0, r_peak = 0, qrs_offset = 0;
  int64_t t_peak = 0, t_end = 0;
  bool has_p() const { return p_onset != kAbsent; }
};

struct SynthRecord {
  uint64_t seed = 0;
  int64_t index = 0;
  LabelSet labels;
  int age = 60;
  bool male = true;
  int64_t recorded_at = 0;  // seconds since 2015-01-01 00:00:00, for the header's date
  double fs = 500.0;
  int64_t n_samples = 0;
  std::vector<float> mv;    // lead-major (12, n_samples), standard lead order, millivolts
  std::vector<BeatAnnotation> beats;  // beats whose R lies inside the record, in time order
  RecordMorphology morphology;        // the ground truth the beats were drawn from
  double ventricular_rate_bpm = 0.0;
  double atrial_rate_bpm = 0.0;
  NoiseLevels noise;

  const float* lead(int l) const { return mv.data() + static_cast<int64_t>(l) * n_samples; }
  Tensor to_tensor() const;  // f32 (12, n_samples) on the CPU
};

SynthRecord generate_record(const SynthConfig& config, uint64_t seed, int64_t index);

// Keys of the record's independent random streams: every purpose has its own, so a change in how one part draws
// leaves the others' numbers untouched.
uint64_t record_key(uint64_t seed, int64_t index);
uint64_t derive_key(uint64_t key, uint64_t purpose);

}  // namespace agf::synth
