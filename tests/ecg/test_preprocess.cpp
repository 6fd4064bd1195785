// The preprocessing pipeline: z-score, flat leads, pad/truncate, lead order, resampling, the full chain on a
// fixture record against the scipy golden data.
#include <doctest/doctest.h>

#include <limits>
#include <numeric>

#include "ecg/leads.h"
#include "ecg/preprocess.h"
#include "ecg/record.h"
#include "ecg/record_error.h"
#include "ecg_test_util.h"

using namespace agf::ecg;
using namespace agf::ecg::test;
using agf::Shape;

namespace {

Signal make_signal(std::vector<std::string> names, int64_t n, double fs = 500.0) {
  Signal s;
  s.id = "synthetic";
  s.fs = fs;
  s.n_samples = n;
  s.lead_names = std::move(names);
  s.mv.resize(static_cast<size_t>(s.n_leads() * n));
  for (int64_t l = 0; l < s.n_leads(); ++l)
    for (int64_t i = 0; i < n; ++i)
      s.lead(l)[i] = (l + 1) * std::sin(2 * M_PI * 7.0 * static_cast<double>(i) / fs) + 0.1 * static_cast<double>(l);
  return s;
}

PreprocessConfig raw_config(int64_t length) {
  PreprocessConfig c;
  c.bandpass = false;
  c.zscore = false;
  c.length = length;
  return c;
}

}  // namespace

TEST_CASE("preprocess: z-score uses the population std; a flat lead becomes zeros, not NaN") {
  std::vector<double> x = {1, 2, 3, 4};
  zscore_lead(x.data(), 4, 1e-6);
  const double sd = std::sqrt(1.25);  // population std of 1..4
  CHECK(x[0] == doctest::Approx(-1.5 / sd));
  CHECK(x[3] == doctest::Approx(1.5 / sd));
  std::vector<double> flat(100, 3.7);
  zscore_lead(flat.data(), 100, 1e-6);
  for (double v : flat) CHECK(v == 0.0);

  // Through the whole pipeline, with the band-pass leaving only rounding noise on a constant lead.
  Signal s = make_signal({"I", "II"}, 1000);
  std::fill(s.lead(1), s.lead(1) + 1000, -0.25);
  PreprocessConfig cfg;
  cfg.length = 1000;
  agf::Tensor t = preprocess(s, cfg);
  auto v = t.to_vector<float>();
  for (int64_t i = 0; i < 1000; ++i) REQUIRE(v[static_cast<size_t>(1000 + i)] == 0.0f);  // II (row 1): flat
  double mean = 0, sq = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    mean += v[static_cast<size_t>(i)];
    sq += double(v[static_cast<size_t>(i)]) * v[static_cast<size_t>(i)];
  }
  CHECK(mean / 1000 == doctest::Approx(0.0).epsilon(1e-6).scale(1));
  CHECK(sq / 1000 == doctest::Approx(1.0).epsilon(1e-5));
}

TEST_CASE("preprocess: zero-pad at the end or truncate to T") {
  Signal s = make_signal({"I"}, 10);
  agf::Tensor padded = preprocess(s, raw_config(16));
  CHECK(padded.shape() == Shape{12, 16});
  auto v = padded.to_vector<float>();
  for (int i = 0; i < 10; ++i) CHECK(v[static_cast<size_t>(i)] == static_cast<float>(s.lead(0)[i]));
  for (int i = 10; i < 16; ++i) CHECK(v[static_cast<size_t>(i)] == 0.0f);
  agf::Tensor cut = preprocess(s, raw_config(4));
  CHECK(cut.shape() == Shape{12, 4});
  auto c = cut.to_vector<float>();
  for (int i = 0; i < 4; ++i) CHECK(c[static_cast<size_t>(i)] == static_cast<float>(s.lead(0)[i]));
  CHECK(PreprocessConfig{}.length == 6144);
}

TEST_CASE("preprocess: leads reordered to I..V6 by name, case-insensitive; missing leads are zero rows") {
  // A 4-lead subset in scrambled order, odd capitalisation, plus a lead outside the standard twelve.
  Signal s = make_signal({"v6", "AVR", "ii", "X", "V1"}, 8);
  agf::Tensor t = preprocess(s, raw_config(8));
  auto v = t.to_vector<float>();
  auto row = [&](int r) { return std::vector<float>(v.begin() + r * 8, v.begin() + (r + 1) * 8); };
  auto lead = [&](int l) {
    std::vector<float> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<float>(s.lead(l)[i]));
    return out;
  };
  CHECK(row(11) == lead(0));  // V6
  CHECK(row(3) == lead(1));   // aVR
  CHECK(row(1) == lead(2));   // II
  CHECK(row(6) == lead(4));   // V1
  for (int r : {0, 2, 4, 5, 7, 8, 9, 10}) CHECK(row(r) == std::vector<float>(8, 0.0f));
  CHECK(standard_lead_index("avf") == 5);
  CHECK_FALSE(standard_lead_index("MLII").has_value());

  Signal dup = make_signal({"I", "i"}, 8);
  CHECK_THROWS_WITH_AS(preprocess(dup, raw_config(8)), doctest::Contains("lead I appears twice"), RecordError);
}

TEST_CASE("preprocess: a record too short for the filter's padding is a too_short record error") {
  Signal s = make_signal({"I"}, 21);
  PreprocessConfig cfg;
  try {
    preprocess(s, cfg);
    FAIL("no error");
  } catch (const RecordError& e) {
    CHECK(e.problem() == RecordProblem::too_short);
    CHECK(std::string(e.what()).find("record synthetic: 21 samples") != std::string::npos);
  }
  s = make_signal({"I"}, 22);
  CHECK_NOTHROW(preprocess(s, cfg));
}

TEST_CASE("preprocess: optional resampling changes rate and length (500 -> 400 Hz)") {
  Signal s = make_signal({"I", "II"}, 5000);
  PreprocessConfig cfg;
  cfg.target_fs = 400;
  Signal work = s;
  filter_resample_normalise(work, cfg);
  CHECK(work.fs == 400.0);
  CHECK(work.n_samples == 4000);
  CHECK(work.mv.size() == 8000);
  CHECK(PreprocessConfig{}.target_fs == 0.0);  // off by default
}

namespace {

// The problem and message of the RecordError that preprocessing `s` with `cfg` raises.
std::pair<RecordProblem, std::string> preprocess_error(const Signal& s, const PreprocessConfig& cfg) {
  try {
    preprocess(s, cfg);
  } catch (const RecordError& e) {
    return {e.problem(), e.what()};
  }
  FAIL("preprocessed although it should not: " << s.id);
  return {RecordProblem::bad_header, ""};
}

}  // namespace

TEST_CASE("preprocess: a rate the filter or the resampler cannot take is an unsupported record, not a run error") {
  // 60 Hz: fs/2 = 30 Hz lies below the band's 47 Hz upper edge.
  Signal slow = make_signal({"I", "II"}, 600, 60.0);
  slow.id = "S60";
  auto [p1, m1] = preprocess_error(slow, PreprocessConfig{});
  CHECK(p1 == RecordProblem::unsupported);
  CHECK(m1 == "record S60: sampled at 60 Hz: the 1-47 Hz band-pass needs a rate above 94 Hz (fs/2 above the upper "
              "edge)");
  // 500.5 Hz filters fine but has no integer ratio to 400 Hz.
  Signal odd = make_signal({"I"}, 5005, 500.5);
  odd.id = "S500.5";
  PreprocessConfig to400;
  to400.target_fs = 400;
  auto [p2, m2] = preprocess_error(odd, to400);
  CHECK(p2 == RecordProblem::unsupported);
  CHECK(m2 == "record S500.5: sampled at 500.5 Hz, not a whole number of Hz: cannot resample it to 400 Hz");
  // 20011 Hz (prime) to 400 Hz needs a ratio beyond the resampler's filter length limit.
  Signal fast = make_signal({"I"}, 2000, 20011.0);
  fast.id = "S20011";
  auto [p3, m3] = preprocess_error(fast, to400);
  CHECK(p3 == RecordProblem::unsupported);
  CHECK(m3.find("ratio 400/20011, beyond the resampler's limit of 10000") != std::string::npos);
  // Without the band-pass, 60 Hz is fine; the same record at 500 Hz resamples.
  PreprocessConfig no_filter = to400;
  no_filter.bandpass = false;
  CHECK(preprocess(slow, no_filter).shape() == Shape{12, 6144});
  CHECK(preprocess(make_signal({"I"}, 5000, 500.0), to400).shape() == Shape{12, 6144});
  // Settings that are wrong whatever the record stay plain errors.
  PreprocessConfig bad_band;
  bad_band.low_hz = 50;
  CHECK_THROWS_WITH_AS(preprocess(make_signal({"I"}, 5000), bad_band),
                       doctest::Contains("band-pass edges 50 - 47 Hz need 0 < low < high"), agf::Error);
  PreprocessConfig bad_target;
  bad_target.target_fs = 400.5;
  CHECK_THROWS_WITH_AS(preprocess(make_signal({"I"}, 5000), bad_target),
                       doctest::Contains("resampling needs positive integer rates"), agf::Error);
}

TEST_CASE("preprocess: a record with none of the twelve standard leads is an unsupported record") {
  Signal s = make_signal({"MLII", "V", "X1"}, 5000);
  s.id = "M100";
  auto [problem, message] = preprocess_error(s, PreprocessConfig{});
  CHECK(problem == RecordProblem::unsupported);
  CHECK(message == "record M100: none of its leads (MLII, V, X1) is one of the twelve standard leads (I, II, III, aVR, "
                   "aVL, aVF, V1, V2, V3, V4, V5, V6)");
  std::vector<float> out(12 * 8);
  CHECK_THROWS_AS(arrange_standard_leads(s, 8, out.data()), RecordError);
  // One standard lead among others is enough.
  CHECK(preprocess(make_signal({"MLII", "v5"}, 5000), PreprocessConfig{}).shape() == Shape{12, 6144});
}

TEST_CASE("preprocess: a value that is not finite is a non_finite record, not a silent row of zeros") {
  // Without the check, filtfilt spreads the inf over the lead as NaN, and the z-score (NaN std) writes zeros.
  Signal s = make_signal({"I", "II"}, 5000);
  s.id = "Inf";
  s.lead(1)[1234] = std::numeric_limits<double>::infinity();
  auto [problem, message] = preprocess_error(s, PreprocessConfig{});
  CHECK(problem == RecordProblem::non_finite);
  CHECK(message == "record Inf: lead 1 (II) is not finite after filtering: its input holds inf or NaN in mV (a gain "
                   "too small for its samples, or damaged data)");
  s.lead(1)[1234] = 0.0;
  s.lead(1)[2000] = std::numeric_limits<double>::quiet_NaN();
  CHECK(preprocess_error(s, PreprocessConfig{}).first == RecordProblem::non_finite);
  // Every stage off: the leads are scanned instead of measured by the z-score.
  CHECK(preprocess_error(s, raw_config(5000)).first == RecordProblem::non_finite);
  s.lead(1)[2000] = -std::numeric_limits<double>::infinity();
  CHECK(preprocess_error(s, raw_config(5000)).second.find("lead 1 (II) is not finite") != std::string::npos);
  std::vector<double> x = {1, std::numeric_limits<double>::infinity(), 3};
  CHECK(std::isnan(zscore_lead(x.data(), 3, 1e-6)));
}

TEST_CASE("preprocess: every lead zero after preprocessing is a flat_signal record; one flat lead is fine") {
  // Constant leads: the band-pass leaves rounding noise far below 1e-6 mV, which the z-score makes zeros.
  Signal flat = make_signal({"I", "II", "V1"}, 5000);
  flat.id = "Flat";
  for (int64_t l = 0; l < 3; ++l) std::fill(flat.lead(l), flat.lead(l) + 5000, 0.1 * static_cast<double>(l + 1));
  auto [problem, message] = preprocess_error(flat, PreprocessConfig{});
  CHECK(problem == RecordProblem::flat_signal);
  CHECK(message == "record Flat: every lead is zero after preprocessing (no standard lead varies by a std of 1e-06 "
                   "mV or more after the band-pass; the largest input value is 0.3 mV): no ECG to learn from");
  // A live signal scaled to ~1e-297 mV (what a gain of 1e300 makes of ADC units) is flat in the same way.
  Signal tiny = make_signal({"I", "II"}, 5000);
  for (double& v : tiny.mv) v *= 1e-297;
  CHECK(preprocess_error(tiny, PreprocessConfig{}).first == RecordProblem::flat_signal);
  // Only the non-standard lead is live: the output holds none of it.
  Signal other = make_signal({"I", "MLII"}, 5000);
  std::fill(other.lead(0), other.lead(0) + 5000, 0.0);
  CHECK(preprocess_error(other, PreprocessConfig{}).first == RecordProblem::flat_signal);
  // One flat lead among live ones: kept, that row zero, the others z-scored.
  Signal one = make_signal({"I", "II", "V1"}, 5000);
  std::fill(one.lead(1), one.lead(1) + 5000, 0.25);
  const auto v = preprocess(one, PreprocessConfig{}).to_vector<float>();
  CHECK(std::all_of(v.begin() + 6144, v.begin() + 2 * 6144, [](float x) { return x == 0.0f; }));
  CHECK(std::any_of(v.begin(), v.begin() + 6144, [](float x) { return x != 0.0f; }));
  CHECK(std::any_of(v.begin() + 6 * 6144, v.begin() + 7 * 6144, [](float x) { return x != 0.0f; }));
}

TEST_CASE("preprocess: the full chain on JS20017 equals scipy's filtfilt, z-scored, padded to 6144" *
          doctest::skip(no_challenge_fixtures())) {
  const Record r = read_challenge_record(challenge_records_dir() / "JS20017");
  agf::Tensor t = preprocess(r.to_signal(), PreprocessConfig{});
  CHECK(t.shape() == Shape{12, 6144});
  CHECK(t.dtype() == agf::DType::f32);
  const auto v = t.to_vector<float>();
  const std::vector<double> golden = read_golden_f64(golden_dir() / "JS20017_filtfilt.f64");
  double worst = 0;
  for (int j = 0; j < 2; ++j) {
    std::vector<double> want(golden.begin() + j * 5000, golden.begin() + (j + 1) * 5000);
    zscore_lead(want.data(), 5000, 1e-6);
    const int row = j == 0 ? 1 : 6;
    for (int i = 0; i < 5000; ++i)
      worst = std::max(worst, std::abs(double(v[static_cast<size_t>(row * 6144 + i)]) - want[static_cast<size_t>(i)]));
    for (int i = 5000; i < 6144; ++i) REQUIRE(v[static_cast<size_t>(row * 6144 + i)] == 0.0f);
  }
  MESSAGE("JS20017 pipeline max abs error vs scipy (z-scored units, float32 output): " << worst);
  CHECK(worst < 1e-5);
}
