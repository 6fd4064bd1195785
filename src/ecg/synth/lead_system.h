#pragma once
// From the heart's electrical dipole (a 3-D vectorcardiogram in Frank's frame) to the standard 12 leads.
//
// The eight independent leads (I, II, V1..V6) are linear in the dipole: each is a row of the Dower transform
// (Dower, Machado, Osborne, "On deriving the electrocardiogram from vectorcardiographic leads", Clin Cardiol 1980),
// the standard map from Frank X, Y, Z to the 12-lead ECG. The other four limb leads are never projected on their
// own: they are computed from I and II by Einthoven's and Goldberger's identities, exactly as an electrocardiograph
// derives them, so III = II - I, aVR = -(I + II)/2, aVL = I - II/2 and aVF = II - I/2 hold for signal and noise alike.
#include <array>
#include <cstdint>
#include <string_view>

#include "ecg/synth/vec3.h"
#include "tensor/random.h"

namespace agf::synth {

enum Lead : int { kI, kII, kIII, kAVR, kAVL, kAVF, kV1, kV2, kV3, kV4, kV5, kV6 };
inline constexpr int kLeadCount = 12;
inline constexpr std::array<std::string_view, kLeadCount> kLeadNames = {"I",  "II", "III", "aVR", "aVL", "aVF",
                                                                       "V1", "V2", "V3",  "V4",  "V5",  "V6"};

// Electrodes whose potentials make the leads: lead I = LA - RA, II = LL - RA, Vk = Vk - WCT with Wilson's central
// terminal WCT = (RA + LA + LL) / 3. Noise is drawn per electrode so that it mixes into the leads as it would.
enum Electrode : int { kRA, kLA, kLL, kEV1, kEV2, kEV3, kEV4, kEV5, kEV6 };
inline constexpr int kElectrodeCount = 9;

// Coefficients of lead `l` (any of the 12) for a lead-space value computed from I and II (Einthoven/Goldberger).
struct LimbDerivation {
  double from_i, from_ii;
};
LimbDerivation limb_derivation(int lead);

class LeadSystem {
 public:
  // The Dower transform as published.
  static LeadSystem dower();
  // Dower with this record's electrode placement and body habitus: precordial rows rotated a few degrees and
  // scaled (electrode position and chest-wall distance differ between patients and recordings), limb rows scaled
  // together (a common factor keeps the frontal geometry, hence the electrical axis, intact).
  static LeadSystem draw(PhiloxStream& rng);

  // Lead-space vector of any of the 12 leads: value = lead_vector(l) . dipole.
  Vec3 lead_vector(int lead) const;
  // Values of all 12 leads for one dipole.
  std::array<double, kLeadCount> project(const Vec3& dipole) const;

  // The rows of the eight independent leads, in the order I, II, V1..V6.
  const std::array<Vec3, 8>& independent_rows() const { return rows_; }

 private:
  std::array<Vec3, 8> rows_{};
};

// Fills rows III, aVR, aVL, aVF of a lead-major (12, n) float buffer from rows I and II.
void derive_limb_leads(float* leads, int64_t n);

// Frontal-plane electrical axis in degrees from values (areas or amplitudes) of leads I and aVF: the angle of the
// frontal vector whose lead-I component is `i` and whose aVF component is `avf`. aVF reads sin(angle) * sqrt(3)/2 of
// a unit frontal vector in Einthoven's triangle, hence the 2/sqrt(3).
double frontal_axis_deg(double lead_i, double lead_avf);

}  // namespace agf::synth
