#pragma once
// When each beat happens and what kind it is: sinus rhythm with heart-rate variability, atrial fibrillation's
// irregularly irregular ventricular response, atrial flutter's fixed or variable AV block, and premature atrial
// and ventricular beats inserted into any of these.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ecg/synth/classes.h"
#include "ecg/synth/morphology.h"
#include "tensor/random.h"

namespace agf::synth {

enum class BeatKind : uint8_t { sinus, atrial_premature, ventricular_premature, fibrillation, flutter };

// Breathing: the common drive of respiratory sinus arrhythmia, of the QRS amplitude modulation (the heart moves
// with the diaphragm) and of baseline wander. 9-21 breaths per minute.
struct Respiration {
  double hz = 0.25;
  double phase = 0.0;
  double at(double t_s) const { return std::sin(2.0 * kPi * hz * t_s + phase); }
  static Respiration draw(PhiloxStream& rng);
};

struct ScheduledBeat {
  double r_s = 0.0;  // the QRS reference instant (main R wave)
  BeatKind kind = BeatKind::sinus;
  double p_onset_s = std::numeric_limits<double>::quiet_NaN();  // NaN: no P wave of its own
  double rr_before_s = 1.0;  // from the previous QRS (a premature beat's coupling interval)
  double qt_rr_s = 1.0;      // the cycle length that sets its QT (Bazett), smoothed over the preceding beats
  double amplitude = 1.0;    // QRS and T scale (respiration, beat-to-beat variation)
  bool has_p() const { return !std::isnan(p_onset_s); }
};

struct RhythmPlan {
  std::vector<ScheduledBeat> beats;  // in time order, covering [-2 s, duration + 1 s]
  double ventricular_rate_bpm = 0.0; // the rate the rhythm was drawn with
  double atrial_rate_bpm = 0.0;      // flutter wave rate (AFL), dominant f-wave rate (AF), sinus rate otherwise
  double flutter_cycle_s = 0.0;      // AFL: flutter wave period; wave k starts at flutter_start_s + k * cycle
  double flutter_start_s = 0.0;
};

RhythmPlan schedule_beats(const LabelSet& labels, const RecordMorphology& morphology, double duration_s,
                          const Respiration& respiration, PhiloxStream& rng);

}  // namespace agf::synth
