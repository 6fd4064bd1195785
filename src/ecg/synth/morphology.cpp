#include "ecg/synth/morphology.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "tensor/error.h"

namespace agf::synth {

namespace {

double uniform(PhiloxStream& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_uniform(); }
double lognormal(PhiloxStream& rng, double sd) { return std::exp(sd * rng.next_normal()); }
double wrap_deg(double d) { return std::fmod(std::fmod(d + 180.0, 360.0) + 360.0, 360.0) - 180.0; }

// A component as written in the tables below: peak time and rise/fall sigmas in ms, dipole in mV (Frank frame).
struct Canonical {
  double t_ms, sigma_left_ms, sigma_right_ms;
  Vec3 v;
};

// Normal ventricular activation (Durrer et al., "Total excitation of the isolated human heart", Circulation 1970):
// the septum first, left to right; then apex and anterior wall; then the bulk of the left ventricular free wall;
// last the posterobasal left ventricle and the right ventricular outflow tract, 60-80 ms after onset.
constexpr Canonical kNormalQrs[] = {
    {-28, 7, 7, {-0.15, 0.03, -0.20}},   // septal: rightward, anterior -> q in I, V5-V6; r in V1
    {-12, 9, 8, {0.60, 0.55, -0.15}},    // apical-anterior: left, inferior, a little anterior -> R in V3-V5
    {3, 9, 10, {0.80, 0.55, 0.70}},      // LV free wall: left, inferior, posterior -> R in I, II, V5-V6; S in V1-V2
    {25, 8, 8, {-0.20, -0.15, 0.45}},    // posterobasal: rightward, superior, posterior -> s in II, V6
};
// Right bundle branch block: the left ventricle activates on time; the right ventricle late and slowly, cell to
// cell, as a rightward-anterior force after the left one -> rsR' in V1, broad terminal S in I, aVL and V6.
constexpr Canonical kRbbbQrs[] = {
    {-28, 7, 7, {-0.15, 0.03, -0.20}},
    {-12, 9, 8, {0.60, 0.55, -0.15}},
    {3, 9, 10, {0.80, 0.55, 0.70}},
    {50, 18, 16, {-0.55, 0.00, -0.50}},
};
// Left bundle branch block: the septum activates from the right (no septal q in I, aVL, V5-V6, no r in V1), then
// the left ventricle slowly, across the septum, as two broad leftward-posterior fronts -> a broad R in I, aVL,
// V5-V6, slurred or notched (the fronts are 1.7-2.5 sigma apart), and a deep QS or rS in V1-V3.
constexpr Canonical kLbbbQrs[] = {
    {-38, 14, 14, {0.35, 0.10, 0.25}},
    {-5, 20, 20, {0.80, 0.30, 0.95}},
    {40, 20, 18, {0.75, -0.10, 1.00}},
};
// Premature ventricular beats spread cell to cell from their focus: broad, large, and shaped by where they start.
// Right ventricular outflow tract: LBBB-like with an inferior axis. Left ventricle: RBBB-like, negative in I and V6.
constexpr Canonical kPvcRightOutflow[] = {{-32, 24, 22, {0.7, 0.9, 0.6}}, {28, 24, 28, {0.5, 0.6, 0.9}}};
constexpr Canonical kPvcLeftVentricle[] = {{-28, 24, 22, {-0.5, 0.6, -0.8}}, {28, 24, 26, {-0.7, -0.2, -0.6}}};

Vec3 jitter_direction(const Vec3& v, double sd_deg, PhiloxStream& rng) {
  return rotate_frontal(rotate_longitudinal(v, deg2rad(sd_deg * rng.next_normal())), deg2rad(sd_deg * rng.next_normal()));
}

template <size_t N>
std::vector<DipoleWave> draw_components(const Canonical (&table)[N], double time_scale, PhiloxStream& rng) {
  std::vector<DipoleWave> out;
  for (const Canonical& c : table) {
    DipoleWave w;
    w.center_s = c.t_ms * 1e-3 * time_scale + 0.0015 * rng.next_normal();
    w.sigma_left_s = c.sigma_left_ms * 1e-3 * time_scale * lognormal(rng, 0.08);
    w.sigma_right_s = c.sigma_right_ms * 1e-3 * time_scale * lognormal(rng, 0.08);
    w.vector = jitter_direction(c.v, 8.0, rng) * lognormal(rng, 0.15);
    out.push_back(w);
  }
  return out;
}

// Stretches the complex in time about its reference instant so that its duration lies in [lo, hi].
void clamp_duration(QrsTemplate& q, double lo, double hi) {
  const double d = q.duration_s();
  const double k = std::clamp(d, lo, hi) / d;
  for (auto& w : q.waves) {
    w.center_s *= k;
    w.sigma_left_s *= k;
    w.sigma_right_s *= k;
  }
}

void scale(QrsTemplate& q, double k) {
  for (auto& w : q.waves) w.vector = w.vector * k;
}

// Turns the first `turning` components of the complex in the frontal plane until the whole complex's net-area
// axis in leads I and aVF is `target_deg`: a coarse scan over the circle, then bisection on the sign of the error
// around the best degree. (In RBBB the late right-ventricular force keeps its direction: the axis deviations that
// come with it, e.g. RBBB + left anterior fascicular block, turn the left ventricle's forces.)
void set_frontal_axis(QrsTemplate& q, size_t turning, const LeadSystem& leads, double target_deg) {
  const Vec3 turned = area_of(std::span<const DipoleWave>(q.waves).first(turning));
  const Vec3 fixed = area_of(q.waves) - turned;
  const Vec3 li = leads.lead_vector(kI), lavf = leads.lead_vector(kAVF);
  const auto error = [&](double phi) {
    const Vec3 a = rotate_frontal(turned, phi) + fixed;
    return wrap_deg(frontal_axis_deg(li.dot(a), lavf.dot(a)) - target_deg);
  };
  double best = 0.0, best_err = 1e9;
  for (int d = 0; d < 360; ++d) {
    const double e = std::abs(error(deg2rad(d)));
    if (e < best_err) best_err = e, best = deg2rad(d);
  }
  double lo = best - deg2rad(1.0), hi = best + deg2rad(1.0);
  if (error(lo) < 0.0 && error(hi) > 0.0) {
    for (int it = 0; it < 40; ++it) {
      const double mid = 0.5 * (lo + hi);
      (error(mid) < 0.0 ? lo : hi) = mid;
    }
    best = 0.5 * (lo + hi);
  }
  for (size_t k = 0; k < turning; ++k) q.waves[k].vector = rotate_frontal(q.waves[k].vector, best);
}

std::vector<DipoleWave> draw_sinus_p(PhiloxStream& rng) {
  // Right atrium first (inferior, anterior), left atrium ~20-30 ms later (leftward, posterior): an upright P in
  // II of 80-110 ms and the biphasic (+/-) P of V1.
  const double axis = deg2rad(uniform(rng, 35.0, 70.0));
  const double size = uniform(rng, 0.10, 0.19);
  const double sigma_ra = uniform(rng, 0.012, 0.015), sigma_la = uniform(rng, 0.012, 0.016);
  DipoleWave ra, la;
  ra.sigma_left_s = ra.sigma_right_s = sigma_ra;
  la.sigma_left_s = la.sigma_right_s = sigma_la;
  ra.center_s = kWaveExtentSigmas * sigma_ra;
  la.center_s = ra.center_s + uniform(rng, 0.018, 0.028);
  const Vec3 ra_dir{std::cos(axis - deg2rad(12.0)), std::sin(axis - deg2rad(12.0)), -0.45};
  const Vec3 la_dir{std::cos(axis + deg2rad(12.0)), std::sin(axis + deg2rad(12.0)), 0.55};
  ra.vector = ra_dir.normalized() * (size * uniform(rng, 0.8, 1.1));
  la.vector = la_dir.normalized() * (size * uniform(rng, 0.7, 1.0));
  return {ra, la};
}

std::vector<DipoleWave> draw_ectopic_p(const std::vector<DipoleWave>& sinus, PhiloxStream& rng) {
  // An atrial focus away from the sinus node activates the atria in another order: the P vector turns, most often
  // upwards (a low atrial focus gives negative P in II, III, aVF), and its size and width change.
  const double turn = deg2rad(uniform(rng, 110.0, 180.0)) * (rng.next_uniform() < 0.5 ? -1.0 : 1.0);
  const double size = uniform(rng, 0.7, 1.2), width = uniform(rng, 0.85, 1.1);
  std::vector<DipoleWave> p = sinus;
  for (auto& w : p) {
    w.vector = rotate_frontal(w.vector, turn) * size;
    w.center_s *= width;
    w.sigma_left_s *= width;
    w.sigma_right_s *= width;
  }
  return p;
}

bool signs_ok(const std::array<double, kLeadCount>& t, std::span<const int> positive, std::span<const int> negative) {
  for (int l : positive)
    if (t[static_cast<size_t>(l)] < 0.05) return false;
  for (int l : negative)
    if (t[static_cast<size_t>(l)] > -kTInversionMv * 1.5) return false;
  return true;
}

// Normal repolarisation runs opposite to depolarisation in space and time, so the T vector lies near the QRS axis
// (within ~45 degrees frontally), leftward and anterior: upright T in I, II, V3-V6, inverted in aVR.
Vec3 draw_concordant_t(double qrs_axis_deg, double magnitude, double z_lo, double z_hi, PhiloxStream& rng) {
  const double frontal = deg2rad(std::clamp(qrs_axis_deg, 10.0, 65.0) + 8.0 * rng.next_normal());
  const Vec3 dir{std::cos(frontal), std::sin(frontal), uniform(rng, z_lo, z_hi)};
  return dir.normalized() * magnitude;
}

Vec3 draw_t(const LabelSet& labels, const QrsTemplate& qrs, double axis_deg, double magnitude, const LeadSystem& leads,
            PhiloxStream& rng) {
  if (labels.has(SynthClass::LBBB)) {
    // Secondary repolarisation change: T discordant to the broad QRS (inverted in I, aVL, V5-V6, upright in V1-V3).
    const Vec3 qrs_dir = area_of(qrs.waves).normalized();
    return -jitter_direction(qrs_dir, 10.0, rng) * (magnitude * uniform(rng, 0.9, 1.3));
  }
  const bool rbbb = labels.has(SynthClass::RBBB);
  // RBBB: T opposite to the late rightward-anterior force, so posterior: inverted in V1 (and often V2).
  const double z_lo = rbbb ? 0.15 : -0.8, z_hi = rbbb ? 0.5 : -0.3;
  Vec3 t;
  for (int attempt = 0; attempt < 32; ++attempt) {
    t = draw_concordant_t(axis_deg, magnitude, z_lo, z_hi, rng);
    const auto p = leads.project(t);
    static constexpr int kRbbbUpright[] = {kI, kII, kV5, kV6};
    static constexpr int kNormalUpright[] = {kI, kII, kV3, kV4, kV5, kV6};
    if (signs_ok(p, rbbb ? std::span<const int>(kRbbbUpright) : std::span<const int>(kNormalUpright), {})) break;
  }
  if (!labels.has(SynthClass::TInv)) return t;

  // Primary T inversion (ischaemia, cardiomyopathy, ...), confined to one territory: the T vector turns away from
  // that territory's leads, keeping a share of the normal direction elsewhere.
  static constexpr int kAnterior[] = {kV1, kV2, kV3, kV4};
  static constexpr int kInferior[] = {kII, kIII, kAVF};
  static constexpr int kLateral[] = {kI, kAVL, kV5, kV6};
  const double u = rng.next_uniform();
  const std::span<const int> region = u < 1.0 / 3.0 ? std::span<const int>(kAnterior)
                                      : u < 2.0 / 3.0 ? std::span<const int>(kInferior)
                                                      : std::span<const int>(kLateral);
  Vec3 toward;
  for (int l : region) toward += leads.lead_vector(l).normalized();
  const Vec3 away = -toward.normalized();
  const Vec3 normal_dir = t.normalized();
  double keep = uniform(rng, 0.2, 0.8);
  const double inv_magnitude = magnitude * uniform(rng, 0.8, 1.2);
  for (int attempt = 0; attempt < 8; ++attempt, keep *= 0.5) {
    const Vec3 candidate = (away + normal_dir * keep).normalized() * inv_magnitude;
    if (signs_ok(leads.project(candidate), {}, region)) return candidate;
  }
  return away * inv_magnitude;
}

}  // namespace

double qrs_axis_deg(const std::vector<DipoleWave>& qrs, const LeadSystem& leads) {
  const Vec3 a = area_of(qrs);
  return frontal_axis_deg(leads.lead_vector(kI).dot(a), leads.lead_vector(kAVF).dot(a));
}

std::array<double, kLeadCount> peak_to_peak(const std::vector<DipoleWave>& waves, const LeadSystem& leads) {
  std::array<double, kLeadCount> lo{}, hi{};
  lo.fill(0.0);
  hi.fill(0.0);
  const double t0 = onset_of(waves) - 0.005, t1 = offset_of(waves) + 0.005;
  for (double t = t0; t <= t1; t += 0.001) {
    Vec3 v;
    for (const auto& w : waves) v += w.vector * w.shape(t);
    const auto p = leads.project(v);
    for (size_t l = 0; l < p.size(); ++l) lo[l] = std::min(lo[l], p[l]), hi[l] = std::max(hi[l], p[l]);
  }
  std::array<double, kLeadCount> out{};
  for (size_t l = 0; l < out.size(); ++l) out[l] = hi[l] - lo[l];
  return out;
}

RecordMorphology draw_morphology(const LabelSet& labels, const LeadSystem& leads, PhiloxStream& rng) {
  RecordMorphology m;
  const bool rbbb = labels.has(SynthClass::RBBB), lbbb = labels.has(SynthClass::LBBB);

  // ---- conducted QRS: class shape, timing and size variation, heart position, frontal axis ----
  if (lbbb) {
    m.conducted.waves = draw_components(kLbbbQrs, uniform(rng, 0.95, 1.12), rng);
    clamp_duration(m.conducted, 0.125, 0.175);  // complete LBBB: QRS >= 120 ms
  } else if (rbbb) {
    m.conducted.waves = draw_components(kRbbbQrs, uniform(rng, 0.95, 1.12), rng);
    clamp_duration(m.conducted, 0.125, 0.165);  // complete RBBB: QRS >= 120 ms
  } else {
    m.conducted.waves = draw_components(kNormalQrs, uniform(rng, 0.9, 1.12), rng);
    clamp_duration(m.conducted, 0.080, 0.108);
  }
  // The heart's rotation about its long axis and tilt differ between people: they move the precordial R/S
  // transition between V2 and V5 and change the limb-lead amplitudes.
  const double turn = deg2rad(uniform(rng, -20.0, 20.0)), tilt = deg2rad(uniform(rng, -10.0, 10.0));
  for (auto& w : m.conducted.waves) w.vector = rotate_transverse(rotate_longitudinal(w.vector, turn), tilt);

  double target_axis = uniform(rng, -15.0, 80.0);                                 // normal: -30..+90
  if (labels.has(SynthClass::LAD)) target_axis = uniform(rng, -75.0, -40.0);      // LAD: < -30
  if (labels.has(SynthClass::RAD)) target_axis = uniform(rng, 100.0, 150.0);      // RAD: > +90
  set_frontal_axis(m.conducted, rbbb ? m.conducted.waves.size() - 1 : m.conducted.waves.size(), leads, target_axis);
  m.axis_deg = qrs_axis_deg(m.conducted.waves, leads);

  // ---- premature ventricular beat (drawn for every record so that the stream does not depend on the class) ----
  const bool right_outflow = rng.next_uniform() < 0.6;
  m.ventricular.waves = right_outflow ? draw_components(kPvcRightOutflow, uniform(rng, 0.95, 1.15), rng)
                                      : draw_components(kPvcLeftVentricle, uniform(rng, 0.95, 1.15), rng);
  const double pvc_turn = deg2rad(uniform(rng, -25.0, 25.0)), pvc_tilt = deg2rad(uniform(rng, -20.0, 20.0));
  for (auto& w : m.ventricular.waves)
    w.vector = rotate_frontal(rotate_longitudinal(w.vector, pvc_turn), pvc_tilt);
  clamp_duration(m.ventricular, 0.140, 0.200);

  // ---- voltage: body habitus, then the low-voltage criterion on the limb leads ----
  const double body_gain = lognormal(rng, 0.18);
  scale(m.conducted, body_gain);
  scale(m.ventricular, body_gain);
  const auto limb_max = [&]() {
    const auto p2p = peak_to_peak(m.conducted.waves, leads);
    return *std::max_element(p2p.begin(), p2p.begin() + 6);
  };
  const double lqrsv_target = uniform(rng, 0.20, 0.36), normal_floor = uniform(rng, 0.75, 1.0);
  double voltage_scale = 1.0;
  const double limb = limb_max();
  if (labels.has(SynthClass::LQRSV)) {
    voltage_scale = lqrsv_target / limb;
  } else if (limb < normal_floor) {
    voltage_scale = normal_floor / limb;  // keep records without the label well clear of the criterion
  } else if (limb > 3.0) {
    voltage_scale = 3.0 / limb;
  }
  scale(m.conducted, voltage_scale);
  scale(m.ventricular, voltage_scale);
  m.limb_qrs_p2p_mv = limb_max();
  // Ectopic ventricular beats are larger than conducted ones (activation spreads unopposed): 1.2-1.8 times the
  // conducted beat's largest deflection.
  const auto largest = [&](const QrsTemplate& q) {
    const auto p2p = peak_to_peak(q.waves, leads);
    return *std::max_element(p2p.begin(), p2p.end());
  };
  scale(m.ventricular, uniform(rng, 1.2, 1.8) * largest(m.conducted) / largest(m.ventricular));

  // ---- repolarisation ----
  const double t_magnitude = uniform(rng, 0.35, 0.6) * std::clamp(body_gain * voltage_scale, 0.6, 1.3);
  m.t_conducted = draw_t(labels, m.conducted, m.axis_deg, t_magnitude, leads, rng);
  m.t_ventricular = -area_of(m.ventricular.waves).normalized() * (t_magnitude * uniform(rng, 1.1, 1.6));
  const auto t_leads = leads.project(m.t_conducted);
  for (int l = 0; l < kLeadCount; ++l)
    if (t_leads[static_cast<size_t>(l)] <= -kTInversionMv) m.t_inverted_leads |= static_cast<uint16_t>(1u << l);
  m.t_peak_fraction = uniform(rng, 0.62, 0.70);
  // An isoelectric ST segment before the T wave, except where repolarisation starts abnormally early (bundle
  // branch block: the ST segment is displaced, discordant to the QRS).
  m.t_onset_fraction = rbbb || lbbb ? uniform(rng, 0.0, 0.08) : uniform(rng, 0.18, 0.32);
  const double u_draw = rng.next_uniform();
  m.u_ratio = u_draw < 0.3 ? uniform(rng, 0.06, 0.15) : 0.0;
  // QTc (Bazett) 390-440 ms; conduction block prolongs QT by its wider QRS.
  m.qtc_s = uniform(rng, 0.390, 0.440) + (rbbb || lbbb ? 0.035 : 0.0);
  m.ventricular_qt_extra_s = uniform(rng, 0.03, 0.06);

  // ---- atria ----
  m.sinus_p = draw_sinus_p(rng);
  m.ectopic_p = draw_ectopic_p(m.sinus_p, rng);
  const SynthClass rhythm = labels.rhythm();
  if (labels.has(SynthClass::IAVB))
    m.pr_s = uniform(rng, 0.220, 0.340);  // first-degree AV block: PR > 200 ms
  else if (rhythm == SynthClass::STach)
    m.pr_s = uniform(rng, 0.120, 0.160);  // sympathetic tone shortens AV conduction
  else
    m.pr_s = uniform(rng, 0.130, 0.190);
  m.ectopic_pr_s = std::max(0.12, m.pr_s * uniform(rng, 0.85, 1.05));
  return m;
}

}  // namespace agf::synth
