#pragma once
// Measurements the synth suites make on generated records, written independently of the generator: an R-peak
// detector, per-beat QRS and T measurements, and a minimal reader of the Challenge files (the project's own reader
// is a separate module; these tests check the files against the format, not against that reader).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "ecg/synth/generator.h"

namespace agf::synth::test {

using agf::test::missing_fixture;

// Sample indices of QRS complexes: slope energy summed over the eight independent leads (I, II, V1..V6), a
// +-10 ms central difference (which also cancels 50 Hz exactly), a 50 ms moving average, a threshold at 30% of
// the 98th percentile (then of the median detected peak), the maximum of each supra-threshold run, and a 250 ms
// refractory period.
std::vector<int64_t> detect_qrs(const SynthRecord& rec);

// QRS onset and offset of the complex around a detected peak, from the signal alone: the spatial slope
// (sum over the eight independent leads of |x[s+1] - x[s-1]|, smoothed over 10 ms) falls below 5% of its peak
// and stays there for 20 ms, searched up to 200 ms before and 220 ms after the peak. `settled` is false when that
// quiet was not found within the search (a sloping ST segment running into the T wave, as in LBBB): the span is
// then only a bound, not a measurement.
struct QrsSpan {
  int64_t onset = 0, offset = 0;
  bool settled = false;
};
QrsSpan measure_qrs_span(const SynthRecord& rec, int64_t detected_peak);

// The P wave ahead of a QRS, from lead II alone: the sample of its largest deflection from the level 380 ms before
// the QRS onset, searched in [onset - 380 ms, onset - 20 ms] (clear of the previous T wave when RR >= 800 ms).
int64_t measure_p_peak(const SynthRecord& rec, int64_t qrs_onset);

std::vector<double> rr_intervals_s(const std::vector<int64_t>& peaks, double fs);
double mean(const std::vector<double>& v);
double coefficient_of_variation(const std::vector<double>& v);

// Conducted (non-PVC) beats lying wholly inside the record.
std::vector<BeatAnnotation> whole_beats(const SynthRecord& rec, bool include_ventricular = false);

// Lead `l` over [a, b] relative to its value at sample `ref`: min, max, and area (mV*s).
struct Window {
  double min = 0.0, max = 0.0, area = 0.0;
};
Window measure(const SynthRecord& rec, int lead, int64_t a, int64_t b, int64_t ref);

// Frequency (Hz) in [lo, hi] with the largest DFT magnitude of x (sampled at fs), on a 0.05 Hz grid.
double dominant_frequency(const std::vector<double>& x, double fs, double lo, double hi);

// ---- minimal Challenge 2021 reader ----
struct HeaderLead {
  std::string file, format, gain, adc_res, adc_zero, name;
  int64_t init = 0, checksum = 0, block = 0;
};
struct ParsedHeader {
  std::string record;
  int n_leads = 0, fs = 0;
  int64_t n_samples = 0;
  std::string date, time;
  std::vector<HeaderLead> leads;
  std::vector<std::string> comments;  // whole lines, '#' included
};
ParsedHeader parse_header_file(const std::filesystem::path& path);
struct ParsedMat {
  std::vector<int32_t> head;  // the five int32 of the MAT v4 header
  std::string name;
  std::vector<int16_t> data;  // column-major rows x cols
  size_t file_size = 0;
};
ParsedMat parse_mat_file(const std::filesystem::path& path);

std::string read_text(const std::filesystem::path& path);
std::vector<char> read_bytes(const std::filesystem::path& path);

// A fresh empty folder under the system temp folder, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

SynthConfig config_with_mix(const std::string& mix, double noise = 1.0);

}  // namespace agf::synth::test
