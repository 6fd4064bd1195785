#pragma once
// A record's beat shapes: the P wave of a sinus and of an atrial premature beat, the QRS complex of a conducted
// and of a ventricular premature beat, their T waves, and the intervals that place them (PR, QTc). Drawn once per
// record from its diagnoses, so every beat of a record shares its morphology and records differ in amplitude,
// axis, timing and shape.
#include <cstdint>
#include <vector>

#include "ecg/synth/classes.h"
#include "ecg/synth/lead_system.h"
#include "ecg/synth/waves.h"
#include "tensor/random.h"

namespace agf::synth {

// A QRS complex: dipole components timed relative to the beat's reference instant (0 = the main R wave).
struct QrsTemplate {
  std::vector<DipoleWave> waves;
  double onset_s() const { return onset_of(waves); }
  double offset_s() const { return offset_of(waves); }
  double duration_s() const { return offset_s() - onset_s(); }
};

struct RecordMorphology {
  std::vector<DipoleWave> sinus_p;    // times relative to the P onset
  std::vector<DipoleWave> ectopic_p;  // P of an atrial premature beat, relative to its onset
  QrsTemplate conducted;              // beats through the His-Purkinje system (sinus, PAC, AF, flutter)
  QrsTemplate ventricular;            // premature ventricular beats
  Vec3 t_conducted;                   // T dipole at its peak
  Vec3 t_ventricular;
  double pr_s = 0.16;                 // P onset to QRS onset, sinus beats
  double ectopic_pr_s = 0.15;
  double qtc_s = 0.41;                // Bazett-corrected QT of conducted beats
  double ventricular_qt_extra_s = 0.04;
  double u_ratio = 0.0;               // U wave amplitude as a fraction of T (0: no U wave)
  double t_onset_fraction = 0.25;     // where the T wave starts, as a fraction of J point to T end
  double t_peak_fraction = 0.66;      // where it peaks
  double axis_deg = 60.0;             // frontal QRS axis of conducted beats (net area in I and aVF)
  double limb_qrs_p2p_mv = 1.0;       // largest conducted-QRS peak-to-peak over the six limb leads
  uint16_t t_inverted_leads = 0;      // bit l: conducted T at or below -0.1 mV in lead l
};

// T inversion of at least this depth (mV) counts a lead in t_inverted_leads.
inline constexpr double kTInversionMv = 0.1;
// Low QRS voltage: every limb lead's QRS peak-to-peak below this (mV).
inline constexpr double kLowVoltageMv = 0.5;

RecordMorphology draw_morphology(const LabelSet& labels, const LeadSystem& leads, PhiloxStream& rng);

// Frontal QRS axis of a group of components: net area in leads I and aVF (degrees, -180..180].
double qrs_axis_deg(const std::vector<DipoleWave>& qrs, const LeadSystem& leads);
// Peak-to-peak (mV) of each of the 12 leads over a group of components, evaluated on a 1 ms grid.
std::array<double, kLeadCount> peak_to_peak(const std::vector<DipoleWave>& waves, const LeadSystem& leads);

}  // namespace agf::synth
