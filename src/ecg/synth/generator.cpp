#include "ecg/synth/generator.h"

#include <algorithm>
#include <cmath>

#include "ecg/synth/atrial.h"
#include "tensor/error.h"
#include "tensor/philox.h"

namespace agf::synth {

namespace {

enum StreamPurpose : uint64_t { kLabels = 1, kDemographics, kLeads, kMorphology, kRhythm, kAtrial, kNoise, kNoiseSamples };

double uniform(PhiloxStream& rng, double lo, double hi) { return lo + (hi - lo) * rng.next_uniform(); }

int64_t to_sample(double t, double fs) { return std::llround(t * fs); }

// Age: adults, older where the diagnosis is one of age (AF, flutter, LBBB, AV block are rare before 50).
int draw_age(const LabelSet& labels, PhiloxStream& rng) {
  const bool older = labels.has(SynthClass::AF) || labels.has(SynthClass::AFL) || labels.has(SynthClass::LBBB) ||
                     labels.has(SynthClass::IAVB);
  const double age = (older ? 68.0 : 55.0) + (older ? 11.0 : 17.0) * rng.next_normal();
  return static_cast<int>(std::lround(std::clamp(age, 18.0, 95.0)));
}

void render_beat(DipoleSignal& heart, const RecordMorphology& m, const ScheduledBeat& b, BeatAnnotation* note) {
  const bool ventricular = b.kind == BeatKind::ventricular_premature;
  const QrsTemplate& qrs = ventricular ? m.ventricular : m.conducted;
  const double fs = heart.fs;
  if (b.has_p()) {
    const auto& p = b.kind == BeatKind::atrial_premature ? m.ectopic_p : m.sinus_p;
    for (const auto& w : p) heart.add(w.shifted(b.p_onset_s));
    note->p_onset = to_sample(b.p_onset_s, fs);
    note->p_offset = to_sample(b.p_onset_s + offset_of(p), fs);
  }
  for (const auto& w : qrs.waves) heart.add(w.shifted(b.r_s).scaled(b.amplitude));
  const double qrs_on = b.r_s + qrs.onset_s(), j_point = b.r_s + qrs.offset_s();

  // Repolarisation: QT from Bazett's formula, QT = QTc * sqrt(RR) (RR in s), measured from QRS onset. After the
  // ST segment the T wave rises slowly and falls a little faster to its end (an asymmetric Gaussian).
  const double qt = m.qtc_s * std::sqrt(b.qt_rr_s) + (ventricular ? m.ventricular_qt_extra_s : 0.0);
  const double t_end = std::max(qrs_on + qt, j_point + 0.12);
  const double t_peak = j_point + m.t_peak_fraction * (t_end - j_point);
  const double t_onset = j_point + (ventricular ? 0.0 : m.t_onset_fraction) * (t_end - j_point);
  DipoleWave t;
  t.center_s = t_peak;
  t.sigma_left_s = (t_peak - t_onset) / kWaveExtentSigmas;
  t.sigma_right_s = (t_end - t_peak) / kWaveExtentSigmas;
  t.vector = (ventricular ? m.t_ventricular : m.t_conducted) * b.amplitude;
  heart.add(t);
  if (m.u_ratio > 0.0 && !ventricular) {
    DipoleWave u;
    u.center_s = t_end + 0.07;
    u.sigma_left_s = u.sigma_right_s = 0.035;
    u.vector = t.vector * m.u_ratio;
    heart.add(u);
  }
  note->kind = b.kind;
  note->qrs_onset = to_sample(qrs_on, fs);
  note->r_peak = to_sample(b.r_s, fs);
  note->qrs_offset = to_sample(j_point, fs);
  note->t_peak = to_sample(t_peak, fs);
  note->t_end = to_sample(t_end, fs);
}

}  // namespace

int64_t SynthConfig::n_samples() const { return std::llround(fs * seconds); }

void SynthConfig::validate() const {
  AGF_CHECK(std::isfinite(fs) && fs >= 100.0 && fs <= 5000.0, "--fs {} Hz: expected 100..5000", fs);
  AGF_CHECK(std::isfinite(seconds) && seconds >= 2.0 && seconds <= 600.0, "--seconds {}: expected 2..600", seconds);
  AGF_CHECK(n_samples() <= 1'000'000, "--fs {} x --seconds {} = {} samples per lead: at most 1000000", fs, seconds,
            n_samples());
  AGF_CHECK(std::isfinite(noise_scale) && noise_scale >= 0.0 && noise_scale <= 10.0,
            "--noise {}: expected 0..10 (1 = typical recording artefacts, 0 = none)", noise_scale);
  mix.validate();
}

Tensor SynthRecord::to_tensor() const { return from_vector(mv, Shape{kLeadCount, n_samples}); }

uint64_t derive_key(uint64_t key, uint64_t purpose) {
  const auto b = philox::block(key, purpose);
  return (static_cast<uint64_t>(b.v[1]) << 32) | b.v[0];
}

uint64_t record_key(uint64_t seed, int64_t index) {
  // A domain constant keeps record keys apart from keys that other parts of the project derive from the same seed.
  return derive_key(seed ^ 0x53594E5448ECull, static_cast<uint64_t>(index));
}

SynthRecord generate_record(const SynthConfig& config, uint64_t seed, int64_t index) {
  const uint64_t key = record_key(seed, index);
  const auto stream = [&](StreamPurpose p) { return PhiloxStream(derive_key(key, p)); };
  SynthRecord rec;
  rec.seed = seed;
  rec.index = index;
  rec.fs = config.fs;
  rec.n_samples = config.n_samples();
  const int64_t n = rec.n_samples;
  const double duration = static_cast<double>(n) / config.fs;

  PhiloxStream label_rng = stream(kLabels);
  rec.labels = draw_labels(config.mix, label_rng);
  PhiloxStream demo_rng = stream(kDemographics);
  rec.age = draw_age(rec.labels, demo_rng);
  rec.male = demo_rng.next_uniform() < 0.53;
  rec.recorded_at = static_cast<int64_t>(uniform(demo_rng, 0.0, 6.0 * 365.25 * 86400.0));

  PhiloxStream lead_rng = stream(kLeads);
  const LeadSystem leads = LeadSystem::draw(lead_rng);
  PhiloxStream morph_rng = stream(kMorphology);
  rec.morphology = draw_morphology(rec.labels, leads, morph_rng);
  PhiloxStream rhythm_rng = stream(kRhythm);
  const Respiration resp = Respiration::draw(rhythm_rng);
  const RhythmPlan plan = schedule_beats(rec.labels, rec.morphology, duration, resp, rhythm_rng);
  rec.ventricular_rate_bpm = plan.ventricular_rate_bpm;
  rec.atrial_rate_bpm = plan.atrial_rate_bpm;

  DipoleSignal heart(config.fs, n);
  for (const ScheduledBeat& b : plan.beats) {
    BeatAnnotation note;
    render_beat(heart, rec.morphology, b, &note);
    if (b.r_s >= 0.0 && note.r_peak < n) rec.beats.push_back(note);
  }
  PhiloxStream atrial_rng = stream(kAtrial);
  if (rec.labels.rhythm() == SynthClass::AF) rec.atrial_rate_bpm = add_fibrillation_waves(heart, atrial_rng);
  if (rec.labels.rhythm() == SynthClass::AFL) add_flutter_waves(heart, plan, atrial_rng);

  rec.mv.assign(static_cast<size_t>(kLeadCount * n), 0.0f);
  const auto& rows = leads.independent_rows();
  const double* x = heart.axis(0);
  const double* y = heart.axis(1);
  const double* z = heart.axis(2);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int lead = r < 2 ? static_cast<int>(r) : kV1 + static_cast<int>(r) - 2;
    float* out = rec.mv.data() + static_cast<int64_t>(lead) * n;
    for (int64_t s = 0; s < n; ++s) out[s] = static_cast<float>(rows[r].x * x[s] + rows[r].y * y[s] + rows[r].z * z[s]);
  }

  PhiloxStream noise_rng = stream(kNoise);
  rec.noise = NoiseLevels::draw(noise_rng, config.noise_scale);
  if (rec.noise.powerline_hz * 2.0 >= config.fs * 0.95) rec.noise.powerline_mv = 0.0;  // would alias
  if (config.noise_scale > 0.0)
    add_recording_noise(rec.mv.data(), n, config.fs, rec.noise, resp, derive_key(key, kNoiseSamples), noise_rng);
  derive_limb_leads(rec.mv.data(), n);
  return rec;
}

}  // namespace agf::synth
