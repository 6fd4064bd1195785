#include "synth/synth_test_util.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace agf::synth::test {

std::vector<int64_t> detect_qrs(const SynthRecord& rec) {
  const int64_t n = rec.n_samples;
  const auto half = static_cast<int64_t>(std::lround(0.010 * rec.fs));
  std::vector<double> energy(static_cast<size_t>(n), 0.0);
  for (int l : {kI, kII, kV1, kV2, kV3, kV4, kV5, kV6}) {
    const float* x = rec.lead(l);
    for (int64_t s = half; s + half < n; ++s) energy[static_cast<size_t>(s)] += std::abs(x[s + half] - x[s - half]);
  }
  const auto win = static_cast<int64_t>(std::lround(0.050 * rec.fs));
  std::vector<double> smooth(static_cast<size_t>(n), 0.0);
  double acc = 0.0;
  for (int64_t s = 0; s < n; ++s) {
    acc += energy[static_cast<size_t>(s)];
    if (s >= win) acc -= energy[static_cast<size_t>(s - win)];
    if (s >= win) smooth[static_cast<size_t>(s - win / 2)] = acc / static_cast<double>(win);
  }
  std::vector<double> sorted = smooth;
  std::sort(sorted.begin(), sorted.end());
  const auto refractory = static_cast<int64_t>(std::lround(0.25 * rec.fs));
  const auto detect = [&](double threshold) {
    std::vector<int64_t> peaks;
    for (int64_t s = 0; s < n;) {
      if (smooth[static_cast<size_t>(s)] <= threshold) {
        ++s;
        continue;
      }
      int64_t best = s;
      for (; s < n && smooth[static_cast<size_t>(s)] > threshold; ++s)
        if (smooth[static_cast<size_t>(s)] > smooth[static_cast<size_t>(best)]) best = s;
      if (!peaks.empty() && best - peaks.back() < refractory) {
        if (smooth[static_cast<size_t>(best)] > smooth[static_cast<size_t>(peaks.back())]) peaks.back() = best;
      } else {
        peaks.push_back(best);
      }
    }
    return peaks;
  };
  // Large ectopic beats can dominate the percentile: re-threshold at 30% of the median detected peak until the
  // threshold stops falling.
  double threshold = 0.3 * sorted[static_cast<size_t>(0.98 * static_cast<double>(n - 1))];
  std::vector<int64_t> peaks = detect(threshold);
  for (int pass = 0; pass < 4 && !peaks.empty(); ++pass) {
    std::vector<double> heights;
    for (int64_t p : peaks) heights.push_back(smooth[static_cast<size_t>(p)]);
    std::nth_element(heights.begin(), heights.begin() + static_cast<std::ptrdiff_t>(heights.size() / 2), heights.end());
    const double next = 0.3 * heights[heights.size() / 2];
    if (next >= threshold * 0.99) break;
    threshold = next;
    peaks = detect(threshold);
  }
  return peaks;
}

QrsSpan measure_qrs_span(const SynthRecord& rec, int64_t detected_peak) {
  const int64_t n = rec.n_samples;
  auto at = [&](double seconds) { return static_cast<int64_t>(std::lround(seconds * rec.fs)); };
  const int64_t lo = std::max<int64_t>(1, detected_peak - at(0.30)), hi = std::min(n - 2, detected_peak + at(0.30));
  std::vector<double> slope(static_cast<size_t>(hi - lo + 1), 0.0);
  for (int l : {kI, kII, kV1, kV2, kV3, kV4, kV5, kV6}) {
    const float* x = rec.lead(l);
    for (int64_t s = lo; s <= hi; ++s) slope[static_cast<size_t>(s - lo)] += std::abs(x[s + 1] - x[s - 1]);
  }
  const int64_t win = std::max<int64_t>(1, at(0.010));
  std::vector<double> env(slope.size(), 0.0);
  for (size_t i = 0; i < slope.size(); ++i) {
    double acc = 0.0;
    int64_t count = 0;
    for (int64_t k = -win / 2; k <= win / 2; ++k) {
      const auto j = static_cast<int64_t>(i) + k;
      if (j < 0 || j >= static_cast<int64_t>(slope.size())) continue;
      acc += slope[static_cast<size_t>(j)];
      ++count;
    }
    env[i] = acc / static_cast<double>(count);
  }
  auto e = [&](int64_t s) { return env[static_cast<size_t>(s - lo)]; };
  int64_t peak = detected_peak;
  for (int64_t s = std::max(lo, detected_peak - at(0.08)); s <= std::min(hi, detected_peak + at(0.08)); ++s)
    if (e(s) > e(peak)) peak = s;
  const double level = 0.05 * e(peak);
  const int64_t quiet = at(0.020);
  QrsSpan span{peak, peak, false};
  bool onset_settled = false, offset_settled = false;
  for (int64_t s = peak, below = 0; s >= std::max(lo, peak - at(0.20)); --s) {
    below = e(s) < level ? below + 1 : 0;
    if (below == 0) span.onset = s;
    if (below >= quiet) {
      onset_settled = true;
      break;
    }
  }
  for (int64_t s = peak, below = 0; s <= std::min(hi, peak + at(0.22)); ++s) {
    below = e(s) < level ? below + 1 : 0;
    if (below == 0) span.offset = s;
    if (below >= quiet) {
      offset_settled = true;
      break;
    }
  }
  span.settled = onset_settled && offset_settled;
  return span;
}

int64_t measure_p_peak(const SynthRecord& rec, int64_t qrs_onset) {
  const float* x = rec.lead(kII);
  const int64_t a = std::max<int64_t>(0, qrs_onset - static_cast<int64_t>(std::lround(0.38 * rec.fs)));
  const int64_t b = qrs_onset - static_cast<int64_t>(std::lround(0.02 * rec.fs));
  int64_t best = a;
  for (int64_t s = a; s <= b; ++s)
    if (std::abs(x[s] - x[a]) > std::abs(x[best] - x[a])) best = s;
  return best;
}

std::vector<double> rr_intervals_s(const std::vector<int64_t>& peaks, double fs) {
  std::vector<double> rr;
  for (size_t i = 1; i < peaks.size(); ++i) rr.push_back(static_cast<double>(peaks[i] - peaks[i - 1]) / fs);
  return rr;
}

double mean(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double coefficient_of_variation(const std::vector<double>& v) {
  const double m = mean(v);
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  return v.size() < 2 ? 0.0 : std::sqrt(ss / static_cast<double>(v.size() - 1)) / m;
}

std::vector<BeatAnnotation> whole_beats(const SynthRecord& rec, bool include_ventricular) {
  std::vector<BeatAnnotation> out;
  for (const auto& b : rec.beats) {
    const int64_t first = b.has_p() ? b.p_onset : b.qrs_onset;
    if (first < 0 || b.t_end >= rec.n_samples) continue;
    if (!include_ventricular && b.kind == BeatKind::ventricular_premature) continue;
    out.push_back(b);
  }
  return out;
}

Window measure(const SynthRecord& rec, int lead, int64_t a, int64_t b, int64_t ref) {
  const float* x = rec.lead(lead);
  const double base = x[ref];
  Window w{1e9, -1e9, 0.0};
  for (int64_t s = std::max<int64_t>(a, 0); s <= std::min(b, rec.n_samples - 1); ++s) {
    const double v = x[s] - base;
    w.min = std::min(w.min, v);
    w.max = std::max(w.max, v);
    w.area += v / rec.fs;
  }
  return w;
}

double dominant_frequency(const std::vector<double>& x, double fs, double lo, double hi) {
  double best_f = lo, best = -1.0;
  for (double f = lo; f <= hi + 1e-9; f += 0.05) {
    double re = 0.0, im = 0.0;
    for (size_t s = 0; s < x.size(); ++s) {
      const double ph = 2.0 * kPi * f * static_cast<double>(s) / fs;
      re += x[s] * std::cos(ph);
      im -= x[s] * std::sin(ph);
    }
    const double mag = re * re + im * im;
    if (mag > best) best = mag, best_f = f;
  }
  return best_f;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open ", path.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<char> read_bytes(const std::filesystem::path& path) {
  const std::string s = read_text(path);
  return {s.begin(), s.end()};
}

ParsedHeader parse_header_file(const std::filesystem::path& path) {
  std::istringstream in(read_text(path));
  ParsedHeader h;
  std::string line;
  REQUIRE(std::getline(in, line));
  {
    std::istringstream first(line);
    first >> h.record >> h.n_leads >> h.fs >> h.n_samples >> h.date >> h.time;
    REQUIRE_MESSAGE(!first.fail(), "line 1: ", line);
  }
  for (int l = 0; l < h.n_leads; ++l) {
    REQUIRE(std::getline(in, line));
    std::istringstream tok(line);
    HeaderLead lead;
    tok >> lead.file >> lead.format >> lead.gain >> lead.adc_res >> lead.adc_zero >> lead.init >> lead.checksum >>
        lead.block >> lead.name;
    REQUIRE_MESSAGE(!tok.fail(), "lead line: ", line);
    std::string extra;
    CHECK_MESSAGE(!(tok >> extra), "trailing token '", extra, "' in: ", line);
    h.leads.push_back(lead);
  }
  while (std::getline(in, line)) h.comments.push_back(line);
  return h;
}

ParsedMat parse_mat_file(const std::filesystem::path& path) {
  const std::vector<char> bytes = read_bytes(path);
  ParsedMat m;
  m.file_size = bytes.size();
  REQUIRE(bytes.size() >= 20);
  for (int i = 0; i < 5; ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[static_cast<size_t>(4 * i + b)])) << (8 * b);
    m.head.push_back(static_cast<int32_t>(u));
  }
  const auto name_len = static_cast<size_t>(m.head[4]);
  REQUIRE(bytes.size() >= 20 + name_len);
  m.name.assign(bytes.data() + 20, name_len);
  const size_t data_bytes = bytes.size() - 20 - name_len;
  m.data.resize(data_bytes / 2);
  for (size_t i = 0; i < m.data.size(); ++i) {
    const auto lo = static_cast<uint8_t>(bytes[20 + name_len + 2 * i]);
    const auto hi = static_cast<uint8_t>(bytes[20 + name_len + 2 * i + 1]);
    m.data[i] = static_cast<int16_t>(static_cast<uint16_t>(lo | (hi << 8)));
  }
  return m;
}

TempDir::TempDir(const std::string& tag) {
  path_ = std::filesystem::temp_directory_path() / fmt::format("agf_synth_{}_{}", tag, ::getpid());
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

SynthConfig config_with_mix(const std::string& mix, double noise) {
  SynthConfig c;
  c.mix = ClassMix::parse(mix);
  c.noise_scale = noise;
  return c;
}

}  // namespace agf::synth::test
