#include "ecg/synth/rhythm.h"

#include <algorithm>

namespace agf::synth {

namespace {

double uniform(PhiloxStream& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_uniform(); }

constexpr double kScheduleStart = -2.0;  // beats before t = 0 so the record opens mid-rhythm
constexpr double kScheduleTail = 1.5;    // and after the end so the last T waves are whole

// Sinus node: a mean rate for the class, respiratory sinus arrhythmia (RR lengthens on expiration, a few % of the
// cycle) and slower random fluctuation (an AR(1) process, the sympathovagal "LF" component), both smaller at
// high rates. Sinus arrhythmia as a diagnosis (RR varying by > 120 ms) is a separate class, so RSA stays below it.
std::vector<double> sinus_times(SynthClass rhythm, double duration_s, const Respiration& resp, PhiloxStream& rng,
                                double* rate_bpm) {
  double rate = uniform(rng, 62.0, 97.0);                      // NSR: 60-100 bpm
  if (rhythm == SynthClass::SB) rate = uniform(rng, 40.0, 57.0);      // SB: < 60
  if (rhythm == SynthClass::STach) rate = uniform(rng, 104.0, 150.0); // STach: > 100
  *rate_bpm = rate;
  const double rr0 = 60.0 / rate;
  const double damp = rhythm == SynthClass::STach ? 0.5 : 1.0;
  const double rsa = uniform(rng, 0.01, 0.035) * damp, lf_sd = uniform(rng, 0.006, 0.018) * damp;
  constexpr double kLfPole = 0.85;
  std::vector<double> t{kScheduleStart - uniform(rng, 0.0, rr0)};
  double lf = lf_sd * rng.next_normal();
  while (t.back() < duration_s + kScheduleTail) {
    lf = kLfPole * lf + lf_sd * std::sqrt(1.0 - kLfPole * kLfPole) * rng.next_normal();
    t.push_back(t.back() + rr0 * (1.0 + rsa * resp.at(t.back()) + lf));
  }
  return t;
}

// Atrial fibrillation: the AV node is bombarded at 350-600/min and conducts at random, so successive RR intervals
// are nearly independent (irregularly irregular), log-normal around the mean with a 14-28% coefficient of
// variation, never shorter than the node's refractory period.
std::vector<double> fibrillation_times(double duration_s, PhiloxStream& rng, double* rate_bpm) {
  *rate_bpm = uniform(rng, 65.0, 135.0);
  const double rr0 = 60.0 / *rate_bpm, cv = uniform(rng, 0.14, 0.28);
  std::vector<double> t{kScheduleStart - uniform(rng, 0.0, rr0)};
  while (t.back() < duration_s + kScheduleTail) {
    const double rr = rr0 * std::exp(cv * rng.next_normal() - 0.5 * cv * cv);
    t.push_back(t.back() + std::max(rr, 0.28));
  }
  return t;
}

// Atrial flutter: a macro-reentrant circuit at 250-330/min; the AV node conducts every 2nd, 3rd or 4th wave
// (fixed block, a regular ventricular rhythm) or a varying ratio (variable block), each QRS a fixed AV delay after
// the flutter wave it conducts.
std::vector<double> flutter_times(double duration_s, PhiloxStream& rng, RhythmPlan& plan) {
  plan.atrial_rate_bpm = uniform(rng, 250.0, 330.0);
  plan.flutter_cycle_s = 60.0 / plan.atrial_rate_bpm;
  plan.flutter_start_s = kScheduleStart - 1.0 - uniform(rng, 0.0, plan.flutter_cycle_s);
  const double u = rng.next_uniform();
  const int fixed_ratio = u < 0.35 ? 2 : u < 0.60 ? 4 : u < 0.70 ? 3 : 0;  // 0: variable block
  const double av_delay = uniform(rng, 0.20, 0.30);
  std::vector<double> t;
  int64_t wave = static_cast<int64_t>(rng.next_below(4));
  int64_t conducted = 0, waves_spanned = 0;
  for (;;) {
    const double r = plan.flutter_start_s + static_cast<double>(wave) * plan.flutter_cycle_s + av_delay;
    if (r > duration_s + kScheduleTail) break;
    t.push_back(r);
    int ratio = fixed_ratio;
    if (ratio == 0) {
      const double v = rng.next_uniform();
      ratio = v < 0.45 ? 2 : v < 0.65 ? 3 : 4;
    }
    wave += ratio;
    waves_spanned += ratio;
    ++conducted;
  }
  plan.ventricular_rate_bpm = plan.atrial_rate_bpm * static_cast<double>(conducted) / static_cast<double>(waves_spanned);
  return t;
}

// Indices of beats to turn premature: late enough that two normal cycles precede them in the record and early
// enough that the pause after them is recorded, at least three beats apart.
std::vector<size_t> pick_ectopic(const std::vector<ScheduledBeat>& beats, double duration_s, int count,
                                 const std::vector<size_t>& taken, PhiloxStream& rng) {
  std::vector<size_t> eligible;
  for (size_t i = 2; i + 2 < beats.size(); ++i)
    if (beats[i - 2].r_s >= 0.1 && beats[i + 1].r_s <= duration_s - 0.1) eligible.push_back(i);
  if (eligible.empty())  // a record too short for the rule above still gets its premature beat
    for (size_t i = 1; i + 1 < beats.size(); ++i)
      if (beats[i].r_s >= 0.3 && beats[i].r_s <= duration_s - 0.3) eligible.push_back(i);
  std::vector<size_t> picked;
  for (int attempt = 0; attempt < 64 && static_cast<int>(picked.size()) < count && !eligible.empty(); ++attempt) {
    const size_t i = eligible[rng.next_below(eligible.size())];
    bool clear = true;
    for (size_t j : picked) clear &= (i > j ? i - j : j - i) >= 3;
    for (size_t j : taken) clear &= (i > j ? i - j : j - i) >= 3;
    if (clear) picked.push_back(i);
  }
  std::sort(picked.begin(), picked.end());
  return picked;
}

int ectopic_count(PhiloxStream& rng) {
  const double u = rng.next_uniform();
  return 1 + (u < 0.45 ? 1 : 0) + (u < 0.15 ? 1 : 0);
}

}  // namespace

Respiration Respiration::draw(PhiloxStream& rng) {
  Respiration r;
  r.hz = uniform(rng, 0.15, 0.35);
  r.phase = uniform(rng, 0.0, 2.0 * kPi);
  return r;
}

RhythmPlan schedule_beats(const LabelSet& labels, const RecordMorphology& morphology, double duration_s,
                          const Respiration& respiration, PhiloxStream& rng) {
  RhythmPlan plan;
  const SynthClass rhythm = labels.rhythm();
  std::vector<double> times;
  BeatKind base_kind = BeatKind::sinus;
  if (rhythm == SynthClass::AF) {
    times = fibrillation_times(duration_s, rng, &plan.ventricular_rate_bpm);
    base_kind = BeatKind::fibrillation;
  } else if (rhythm == SynthClass::AFL) {
    times = flutter_times(duration_s, rng, plan);
    base_kind = BeatKind::flutter;
  } else {
    times = sinus_times(rhythm, duration_s, respiration, rng, &plan.ventricular_rate_bpm);
    plan.atrial_rate_bpm = plan.ventricular_rate_bpm;
  }
  const double qrs_onset = morphology.conducted.onset_s();
  for (double r : times) {
    ScheduledBeat b;
    b.r_s = r;
    b.kind = base_kind;
    if (base_kind == BeatKind::sinus) b.p_onset_s = r + qrs_onset - morphology.pr_s + 0.004 * rng.next_normal();
    plan.beats.push_back(b);
  }

  // Premature beats. A PVC leaves the sinus node undisturbed: the next sinus beat comes on time, so the two RR
  // intervals around the PVC sum to two sinus cycles (the full compensatory pause). A PAC discharges and resets
  // the sinus node: the next sinus beat comes one cycle (slightly more) after the PAC, a non-compensatory pause.
  std::vector<size_t> pvc_at, pac_at;
  const int n_pac = ectopic_count(rng), n_pvc = ectopic_count(rng);
  if (labels.has(SynthClass::PAC)) pac_at = pick_ectopic(plan.beats, duration_s, n_pac, {}, rng);
  if (labels.has(SynthClass::PVC)) pvc_at = pick_ectopic(plan.beats, duration_s, n_pvc, pac_at, rng);
  for (size_t j : pvc_at) {
    ScheduledBeat& b = plan.beats[j];
    const double prev = plan.beats[j - 1].r_s, cycle = b.r_s - prev;
    b.r_s = prev + std::max(0.30, uniform(rng, 0.55, 0.72) * cycle);
    b.kind = BeatKind::ventricular_premature;
    b.p_onset_s = std::numeric_limits<double>::quiet_NaN();
  }
  // PACs last and from the latest back, so that each reset shifts only beats after it.
  for (auto it = pac_at.rbegin(); it != pac_at.rend(); ++it) {
    const size_t j = *it;
    const double prev = plan.beats[j - 1].r_s, cycle = plan.beats[j].r_s - prev;
    const double next_cycle = plan.beats[j + 1].r_s - plan.beats[j].r_s;
    ScheduledBeat& b = plan.beats[j];
    b.r_s = prev + uniform(rng, 0.58, 0.74) * cycle;
    b.kind = BeatKind::atrial_premature;
    b.p_onset_s = b.r_s + qrs_onset - morphology.ectopic_pr_s;
    const double shift = b.r_s + next_cycle * uniform(rng, 1.0, 1.08) - plan.beats[j + 1].r_s;
    for (size_t k = j + 1; k < plan.beats.size(); ++k) {
      plan.beats[k].r_s += shift;
      if (plan.beats[k].has_p()) plan.beats[k].p_onset_s += shift;
    }
  }

  // QT follows the cycle length with a lag (QT/RR hysteresis): use an exponentially smoothed RR.
  double smoothed = 60.0 / std::max(plan.ventricular_rate_bpm, 1.0);
  const double resp_depth = uniform(rng, 0.02, 0.07);
  for (size_t i = 0; i < plan.beats.size(); ++i) {
    ScheduledBeat& b = plan.beats[i];
    b.rr_before_s = i == 0 ? smoothed : b.r_s - plan.beats[i - 1].r_s;
    b.qt_rr_s = 0.6 * smoothed + 0.4 * b.rr_before_s;
    smoothed = 0.75 * smoothed + 0.25 * b.rr_before_s;
    b.amplitude = (1.0 + resp_depth * respiration.at(b.r_s)) * (1.0 + 0.01 * rng.next_normal());
  }
  return plan;
}

}  // namespace agf::synth
