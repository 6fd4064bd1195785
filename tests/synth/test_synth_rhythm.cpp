// Rhythm classes, measured from the generated signal: rates and RR variability from detected QRS complexes,
// atrial activity from the signal between ventricular complexes, premature beats from the RR sequence.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "synth/synth_test_util.h"

using namespace agf::synth;
using namespace agf::synth::test;

namespace {

constexpr int kRecords = 12;  // records per class and check
constexpr uint64_t kSeed = 20240601;

// The detector finds every annotated beat (inside its QRS, give or take 20 ms) and nothing else.
void check_detection(const SynthRecord& rec, const std::vector<int64_t>& peaks) {
  int64_t matched = 0;
  const auto slack = static_cast<int64_t>(0.02 * rec.fs);
  for (const auto& b : rec.beats) {
    if (b.qrs_onset < slack || b.qrs_offset > rec.n_samples - slack) continue;
    const bool found = std::any_of(peaks.begin(), peaks.end(),
                                   [&](int64_t p) { return p >= b.qrs_onset - slack && p <= b.qrs_offset + slack; });
    CHECK_MESSAGE(found, "record ", rec.index, " beat at sample ", b.r_peak, " not detected");
    matched += found ? 1 : 0;
  }
  CHECK_MESSAGE(static_cast<int64_t>(peaks.size()) <= static_cast<int64_t>(rec.beats.size()) + 1,
                "record ", rec.index, ": ", peaks.size(), " detections for ", rec.beats.size(), " beats");
  CHECK(matched >= static_cast<int64_t>(rec.beats.size()) - 2);
}

double detected_rate_bpm(const SynthRecord& rec) {
  const auto peaks = detect_qrs(rec);
  check_detection(rec, peaks);
  return 60.0 / mean(rr_intervals_s(peaks, rec.fs));
}

// Stretches of lead `lead` between ventricular complexes (QRS onset - 30 ms .. T end + 30 ms cut out), at least
// 150 ms long, each made zero-mean: atrial activity and the isoelectric line.
std::vector<std::vector<double>> gap_segments(const SynthRecord& rec, int lead) {
  std::vector<bool> masked(static_cast<size_t>(rec.n_samples), false);
  const auto pad = static_cast<int64_t>(0.03 * rec.fs);
  for (const auto& b : rec.beats)
    for (int64_t s = std::max<int64_t>(0, b.qrs_onset - pad); s <= std::min(rec.n_samples - 1, b.t_end + pad); ++s)
      masked[static_cast<size_t>(s)] = true;
  // Beats just outside the record still reach into it.
  for (int64_t s = 0; s < static_cast<int64_t>(0.4 * rec.fs); ++s) masked[static_cast<size_t>(s)] = true;
  std::vector<std::vector<double>> out;
  const float* x = rec.lead(lead);
  for (int64_t s = 0; s < rec.n_samples;) {
    if (masked[static_cast<size_t>(s)]) {
      ++s;
      continue;
    }
    const int64_t a = s;
    while (s < rec.n_samples && !masked[static_cast<size_t>(s)]) ++s;
    if (s - a < static_cast<int64_t>(0.15 * rec.fs)) continue;
    std::vector<double> seg(x + a, x + s);
    const double m = mean(seg);
    for (double& v : seg) v -= m;
    out.push_back(std::move(seg));
  }
  return out;
}

std::vector<double> between_complexes(const SynthRecord& rec, int lead) {
  std::vector<double> out;
  for (const auto& seg : gap_segments(rec, lead)) out.insert(out.end(), seg.begin(), seg.end());
  return out;
}

double rms(const std::vector<double>& v) {
  double ss = 0.0;
  for (double x : v) ss += x * x;
  return v.empty() ? 0.0 : std::sqrt(ss / static_cast<double>(v.size()));
}

// Mean correlation between the 200 ms before each QRS and the same stretch before the next beat (lead II): a P
// wave locked to the QRS makes these segments alike; fibrillation makes them unrelated.
double pre_qrs_correlation(const SynthRecord& rec) {
  const auto len = static_cast<int64_t>(0.2 * rec.fs);
  std::vector<std::vector<double>> segs;
  for (const auto& b : rec.beats) {
    const int64_t a = b.qrs_onset - len;
    if (a < 0 || b.kind == BeatKind::ventricular_premature) continue;
    std::vector<double> s(rec.lead(kII) + a, rec.lead(kII) + b.qrs_onset);
    const double m = mean(s);
    for (double& v : s) v -= m;
    segs.push_back(s);
  }
  double total = 0.0;
  for (size_t i = 1; i < segs.size(); ++i) {
    double xy = 0.0, xx = 0.0, yy = 0.0;
    for (size_t k = 0; k < segs[i].size(); ++k) {
      xy += segs[i][k] * segs[i - 1][k];
      xx += segs[i][k] * segs[i][k];
      yy += segs[i - 1][k] * segs[i - 1][k];
    }
    total += xy / std::sqrt(xx * yy + 1e-30);
  }
  return total / static_cast<double>(segs.size() - 1);
}

}  // namespace

TEST_CASE("synth rhythm: NSR, SB and STach rates from detected QRS complexes") {
  struct Case {
    std::string mix;
    double lo, hi;
  };
  for (const Case& c : {Case{"NSR=1", 60.0, 100.0}, Case{"SB=1", 30.0, 60.0}, Case{"STach=1", 100.0, 180.0}}) {
    CAPTURE(c.mix);
    const SynthConfig cfg = config_with_mix(c.mix);
    double lowest = 1e9, highest = 0.0;
    for (int i = 0; i < kRecords; ++i) {
      const SynthRecord rec = generate_record(cfg, kSeed, i);
      const double rate = detected_rate_bpm(rec);
      CAPTURE(i);
      CHECK(rate > c.lo);
      CHECK(rate < c.hi);
      // The detected rate is the rate the rhythm was drawn with (RSA and HRV average out over 10 s).
      CHECK(rate == doctest::Approx(rec.ventricular_rate_bpm).epsilon(0.06));
      lowest = std::min(lowest, rate);
      highest = std::max(highest, rate);
    }
    MESSAGE(c.mix, ": detected rates ", lowest, " .. ", highest, " bpm");
  }
}

TEST_CASE("synth rhythm: AF is irregularly irregular, sinus rhythm is not") {
  double af_min_cv = 1e9, nsr_max_cv = 0.0;
  for (int i = 0; i < kRecords; ++i) {
    const SynthRecord af = generate_record(config_with_mix("AF=1"), kSeed, i);
    const SynthRecord nsr = generate_record(config_with_mix("NSR=1"), kSeed, i);
    const auto af_peaks = detect_qrs(af), nsr_peaks = detect_qrs(nsr);
    check_detection(af, af_peaks);
    check_detection(nsr, nsr_peaks);
    const double af_cv = coefficient_of_variation(rr_intervals_s(af_peaks, af.fs));
    const double nsr_cv = coefficient_of_variation(rr_intervals_s(nsr_peaks, nsr.fs));
    CAPTURE(i);
    CHECK(af_cv > 0.08);
    CHECK(nsr_cv < 0.05);
    af_min_cv = std::min(af_min_cv, af_cv);
    nsr_max_cv = std::max(nsr_max_cv, nsr_cv);
  }
  MESSAGE("RR coefficient of variation: AF min ", af_min_cv, ", NSR max ", nsr_max_cv);
  CHECK(af_min_cv > 2.0 * nsr_max_cv);
}

TEST_CASE("synth rhythm: AF has no P waves but 4-9 Hz fibrillatory waves") {
  double max_af_corr = -1.0, min_nsr_corr = 2.0, f_lo = 1e9, f_hi = 0.0;
  for (int i = 0; i < kRecords; ++i) {
    CAPTURE(i);
    const SynthRecord af = generate_record(config_with_mix("AF=1", 0.0), kSeed, i);
    const SynthRecord nsr = generate_record(config_with_mix("NSR=1", 0.0), kSeed, i);
    for (const auto& b : af.beats) CHECK_FALSE(b.has_p());
    for (const auto& b : nsr.beats) CHECK(b.has_p());
    // Nothing atrial is locked to the QRS in AF; the sinus P wave is.
    const double af_corr = pre_qrs_correlation(af), nsr_corr = pre_qrs_correlation(nsr);
    CHECK(af_corr < 0.6);
    CHECK(nsr_corr > 0.85);
    max_af_corr = std::max(max_af_corr, af_corr);
    min_nsr_corr = std::min(min_nsr_corr, nsr_corr);
    // Between the ventricular complexes V1 carries the f-waves: their dominant frequency is 4-9 Hz and it is the
    // rate the generator reports.
    const auto gaps = between_complexes(af, kV1);
    REQUIRE(gaps.size() > static_cast<size_t>(af.fs));
    const double f = dominant_frequency(gaps, af.fs, 2.0, 12.0);
    CHECK(f >= 4.0);
    CHECK(f <= 9.0);
    f_lo = std::min(f_lo, f);
    f_hi = std::max(f_hi, f);
    CHECK(rms(gaps) > 0.01);
  }
  MESSAGE("pre-QRS correlation: AF max ", max_af_corr, ", NSR min ", min_nsr_corr, "; f-wave frequency ", f_lo, "..",
          f_hi, " Hz");
}

TEST_CASE("synth rhythm: AFL flutter waves at 250-350/min and QRS locked to them") {
  int measured = 0;
  for (int i = 0; i < kRecords; ++i) {
    CAPTURE(i);
    const SynthRecord rec = generate_record(config_with_mix("AFL=1", 0.0), kSeed, i);
    for (const auto& b : rec.beats) CHECK_FALSE(b.has_p());
    // Flutter cycle length from the sawtooth itself: in lead II each cycle has one steep negative fall. Between
    // ventricular complexes, successive steepest falls are one cycle apart. (With 2:1 block the flutter waves hide
    // in the T waves and there is no gap to measure in.)
    const auto gaps = gap_segments(rec, kII);
    std::vector<double> cycles;
    const auto min_sep = static_cast<int64_t>(0.12 * rec.fs);
    for (const auto& g : gaps) {
      std::vector<double> d(g.size(), 0.0);
      double steepest = 0.0;
      for (size_t k = 1; k + 1 < g.size(); ++k) steepest = std::min(steepest, d[k] = g[k + 1] - g[k - 1]);
      int64_t last = -1;
      for (size_t k = 1; k + 1 < g.size(); ++k) {
        if (d[k] > 0.5 * steepest || d[k] > d[k - 1] || d[k] > d[k + 1]) continue;
        const auto kk = static_cast<int64_t>(k);
        if (last >= 0 && kk - last >= min_sep) cycles.push_back(static_cast<double>(kk - last) / rec.fs);
        last = kk;
      }
    }
    if (cycles.size() >= 2) {
      ++measured;
      std::sort(cycles.begin(), cycles.end());
      const double rate = 60.0 / cycles[cycles.size() / 2];
      CHECK(rate >= 250.0);
      CHECK(rate <= 350.0);
      CHECK(rate == doctest::Approx(rec.atrial_rate_bpm).epsilon(0.03));
    }
    // Each RR is a whole number (2, 3 or 4) of flutter cycles: the AV node conducts every n-th flutter wave.
    check_detection(rec, detect_qrs(rec));
    const double cycle = 60.0 / rec.atrial_rate_bpm;
    for (size_t k = 1; k < rec.beats.size(); ++k) {
      const double ratio = static_cast<double>(rec.beats[k].r_peak - rec.beats[k - 1].r_peak) / rec.fs / cycle;
      CAPTURE(ratio);
      CHECK(std::abs(ratio - std::round(ratio)) < 0.1);
      CHECK(std::round(ratio) >= 2.0);
      CHECK(std::round(ratio) <= 4.0);
    }
  }
  MESSAGE("flutter rate measured from the sawtooth in ", measured, " of ", kRecords, " records (the rest 2:1)");
  CHECK(measured >= kRecords / 3);
}

TEST_CASE("synth rhythm: PR interval of NSR 120-200 ms, of IAVB above 200 ms, and a P wave where annotated") {
  double nsr_max = 0.0, iavb_min = 1e9, nsr_measured_max = 0.0, iavb_measured_min = 1e9;
  for (const std::string mix : {"NSR=1", "NSR=1,IAVB=1", "SB=1,IAVB=1"}) {
    const bool iavb = mix.find("IAVB") != std::string::npos;
    for (int i = 0; i < kRecords; ++i) {
      CAPTURE(mix);
      CAPTURE(i);
      const SynthRecord rec = generate_record(config_with_mix(mix, 0.0), kSeed, i);
      CHECK(rec.labels.has(SynthClass::IAVB) == iavb);
      // From the signal alone: P-wave peak (lead II) to QRS onset, on beats after an RR of at least 800 ms (the
      // previous T wave is then over before the search window opens). PR = this + P onset-to-peak (~40-60 ms).
      const auto peaks = detect_qrs(rec);
      for (size_t k = 1; k < peaks.size(); ++k) {
        if (peaks[k] - peaks[k - 1] < 0.8 * rec.fs || peaks[k] > rec.n_samples - 0.4 * rec.fs) continue;
        const QrsSpan span = measure_qrs_span(rec, peaks[k]);
        if (!span.settled) continue;
        const int64_t onset = span.onset;
        const double p_to_qrs_ms = 1000.0 * static_cast<double>(onset - measure_p_peak(rec, onset)) / rec.fs;
        if (iavb) {
          CHECK(p_to_qrs_ms >= 175.0);
          iavb_measured_min = std::min(iavb_measured_min, p_to_qrs_ms);
        } else {
          CHECK(p_to_qrs_ms <= 160.0);
          nsr_measured_max = std::max(nsr_measured_max, p_to_qrs_ms);
        }
      }
      for (const auto& b : whole_beats(rec)) {
        const double pr_ms = 1000.0 * static_cast<double>(b.qrs_onset - b.p_onset) / rec.fs;
        if (iavb) {
          CHECK(pr_ms > 200.0);
          iavb_min = std::min(iavb_min, pr_ms);
        } else {
          CHECK(pr_ms >= 120.0);
          CHECK(pr_ms <= 200.0);
          nsr_max = std::max(nsr_max, pr_ms);
        }
        // The P wave is in the signal at its annotation: a deflection of at least 0.04 mV in lead II, and the PR
        // segment after it is nearly flat.
        const Window p = measure(rec, kII, b.p_onset, b.p_offset, b.p_onset);
        CHECK(std::max(p.max, -p.min) > 0.04);
      }
    }
  }
  MESSAGE("PR: NSR max ", nsr_max, " ms, IAVB min ", iavb_min, " ms; P peak to QRS onset measured from the signal: "
          "NSR max ", nsr_measured_max, " ms, IAVB min ", iavb_measured_min, " ms");
  CHECK(iavb_measured_min < 1e9);  // beats of both kinds were measured
  CHECK(nsr_measured_max > 0.0);
}

TEST_CASE("synth rhythm: PAC and PVC are premature; a PVC is wide, has no P, and is followed by a full pause") {
  int pac_seen = 0, pvc_seen = 0;
  for (const std::string mix : {"NSR=1,PAC=1", "NSR=1,PVC=1", "SB=1,PVC=1"}) {
    const bool pvc = mix.find("PVC") != std::string::npos;
    for (int i = 0; i < kRecords; ++i) {
      CAPTURE(mix);
      CAPTURE(i);
      const SynthRecord rec = generate_record(config_with_mix(mix), kSeed, i);
      const auto peaks = detect_qrs(rec);
      check_detection(rec, peaks);
      const auto rr = rr_intervals_s(peaks, rec.fs);
      const BeatKind kind = pvc ? BeatKind::ventricular_premature : BeatKind::atrial_premature;
      int premature = 0;
      for (const auto& b : rec.beats) {
        if (b.kind != kind) continue;
        // The detection of this beat, and the intervals into and out of it.
        const auto it = std::min_element(peaks.begin(), peaks.end(),
                                         [&](int64_t a, int64_t c) { return std::abs(a - b.r_peak) < std::abs(c - b.r_peak); });
        const auto k = static_cast<size_t>(it - peaks.begin());
        REQUIRE(k >= 2);  // the generator places premature beats after two whole cycles
        if (k >= rr.size()) continue;  // the record ends before the pause after it
        const double before = rr[k - 2], into = rr[k - 1], after = rr[k];
        CAPTURE(before);
        CAPTURE(into);
        CAPTURE(after);
        CHECK(into < 0.85 * before);  // premature: > 15% shorter than the preceding cycle
        ++premature;
        const double qrs_ms = 1000.0 * static_cast<double>(b.qrs_offset - b.qrs_onset) / rec.fs;
        if (pvc) {
          CHECK_FALSE(b.has_p());
          CHECK(qrs_ms >= 120.0);
          // Full compensatory pause: the two intervals around the PVC span two sinus cycles.
          CHECK((into + after) == doctest::Approx(2.0 * before).epsilon(0.12));
          // Larger than the conducted beats: its biggest deflection against the preceding beat's.
          const auto biggest = [&](const BeatAnnotation& x) {
            double p2p = 0.0;
            for (int l = 0; l < kLeadCount; ++l) {
              const Window w = measure(rec, l, x.qrs_onset, x.qrs_offset, x.qrs_onset);
              p2p = std::max(p2p, w.max - w.min);
            }
            return p2p;
          };
          const auto prev = std::find_if(rec.beats.begin(), rec.beats.end(),
                                         [&](const BeatAnnotation& x) { return x.r_peak == b.r_peak; }) - 1;
          CHECK(biggest(b) > 1.1 * biggest(*prev));
        } else {
          CHECK(b.has_p());
          CHECK(qrs_ms < 120.0);
          CHECK(into + after < 1.92 * before);  // non-compensatory: the sinus node was reset
        }
      }
      CHECK(premature >= 1);
      (pvc ? pvc_seen : pac_seen) += premature;
    }
  }
  MESSAGE("premature beats checked: ", pac_seen, " PAC, ", pvc_seen, " PVC");
}

TEST_CASE("synth rhythm: a PAC's P wave comes from another focus") {
  for (int i = 0; i < kRecords; ++i) {
    const SynthRecord rec = generate_record(config_with_mix("NSR=1,PAC=1"), kSeed, i);
    const Vec3 sinus = area_of(rec.morphology.sinus_p), ectopic = area_of(rec.morphology.ectopic_p);
    const double turn = std::abs(rad2deg(std::remainder(std::atan2(ectopic.y, ectopic.x) - std::atan2(sinus.y, sinus.x),
                                                        2.0 * kPi)));
    CAPTURE(i);
    CHECK(turn >= 100.0);
  }
}
