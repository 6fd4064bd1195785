#include "ecg/synth/lead_system.h"

#include <cmath>

#include "tensor/error.h"

namespace agf::synth {

namespace {

// Dower et al. 1980, rows I, II, V1..V6, columns Frank X, Y, Z (z posterior: the precordial rows read the anterior
// direction as negative z).
constexpr std::array<Vec3, 8> kDower = {{
    {0.632, -0.235, 0.059},   // I
    {0.235, 1.066, -0.132},   // II
    {-0.515, 0.157, -0.917},  // V1
    {0.044, 0.164, -1.387},   // V2
    {0.882, 0.098, -1.277},   // V3
    {1.213, 0.127, -0.601},   // V4
    {1.125, 0.127, -0.086},   // V5
    {0.831, 0.076, 0.230},    // V6
}};

}  // namespace

LimbDerivation limb_derivation(int lead) {
  switch (lead) {
    case kI: return {1.0, 0.0};
    case kII: return {0.0, 1.0};
    case kIII: return {-1.0, 1.0};
    case kAVR: return {-0.5, -0.5};
    case kAVL: return {1.0, -0.5};
    case kAVF: return {-0.5, 1.0};
    default: AGF_FAIL("limb_derivation: lead {} is not a limb lead", lead);
  }
}

LeadSystem LeadSystem::dower() {
  LeadSystem s;
  s.rows_ = kDower;
  return s;
}

LeadSystem LeadSystem::draw(PhiloxStream& rng) {
  LeadSystem s = dower();
  // Limb leads: one gain for I and II, log-normal with ~10% spread (body size and conductivity).
  const double limb_gain = std::exp(0.10 * rng.next_normal());
  s.rows_[0] = s.rows_[0] * limb_gain;
  s.rows_[1] = s.rows_[1] * limb_gain;
  // Chest electrodes: the whole strip is placed a little higher or lower and further round the chest (a common
  // rotation), each electrode additionally off by a couple of degrees and closer or further from the heart.
  const double strip_turn = deg2rad(6.0 * rng.next_normal()), strip_tilt = deg2rad(5.0 * rng.next_normal());
  const double chest_gain = std::exp(0.12 * rng.next_normal());
  for (size_t r = 2; r < 8; ++r) {
    Vec3 v = rotate_longitudinal(s.rows_[r], strip_turn + deg2rad(2.5 * rng.next_normal()));
    v = rotate_transverse(v, strip_tilt);
    s.rows_[r] = v * (chest_gain * std::exp(0.08 * rng.next_normal()));
  }
  return s;
}

Vec3 LeadSystem::lead_vector(int lead) const {
  AGF_CHECK(lead >= 0 && lead < kLeadCount, "lead index {} outside 0..11", lead);
  if (lead >= kV1) return rows_[static_cast<size_t>(lead - kV1 + 2)];
  const LimbDerivation d = limb_derivation(lead);
  return rows_[0] * d.from_i + rows_[1] * d.from_ii;
}

std::array<double, kLeadCount> LeadSystem::project(const Vec3& dipole) const {
  std::array<double, kLeadCount> out{};
  for (int l = 0; l < kLeadCount; ++l) out[static_cast<size_t>(l)] = lead_vector(l).dot(dipole);
  return out;
}

void derive_limb_leads(float* leads, int64_t n) {
  const float* lead_i = leads + kI * n;
  const float* lead_ii = leads + kII * n;
  float* iii = leads + kIII * n;
  float* avr = leads + kAVR * n;
  float* avl = leads + kAVL * n;
  float* avf = leads + kAVF * n;
  for (int64_t s = 0; s < n; ++s) {
    const float a = lead_i[s], b = lead_ii[s];
    iii[s] = b - a;
    avr[s] = -0.5f * (a + b);
    avl[s] = a - 0.5f * b;
    avf[s] = b - 0.5f * a;
  }
}

double frontal_axis_deg(double lead_i, double lead_avf) {
  return rad2deg(std::atan2(lead_avf * 2.0 / std::sqrt(3.0), lead_i));
}

}  // namespace agf::synth
