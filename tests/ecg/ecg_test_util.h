#pragma once
// Helpers of the ECG suites: a scratch folder per test, small WFDB/MAT v4 records written from C++, golden files.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "ecg/record.h"
#include "ecg/text_util.h"

namespace agf::ecg::test {

namespace fs = std::filesystem;

inline fs::path source_root() {
#ifdef AGF_SOURCE_ROOT
  return AGF_SOURCE_ROOT;
#else
  return ".";
#endif
}
inline fs::path golden_dir() { return source_root() / "tests" / "golden" / "ecg"; }
inline fs::path challenge_records_dir() { return agf::test::fixtures_dir() / "challenge2021" / "records"; }

inline bool have_fixture(const fs::path& path) { return !agf::test::missing_fixture(path); }
inline bool have_challenge_fixtures() { return have_fixture(challenge_records_dir() / "JS20017.hea"); }
inline bool no_challenge_fixtures() { return !have_challenge_fixtures(); }

// A fresh folder under the system temp dir, removed with everything in it when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("agf_ecg_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  // Every name in the folder, hidden ones (temporaries, locks) included, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void put_i32(std::string& b, int32_t v) {
  for (int i = 0; i < 4; ++i) b += static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff);
}
inline void put_i16(std::string& b, int16_t v) {
  b += static_cast<char>(static_cast<uint16_t>(v) & 0xff);
  b += static_cast<char>(static_cast<uint16_t>(v) >> 8);
}

// A MAT v4 "val" int16 matrix of lead-major samples, written column-major as the Challenge files are.
inline std::string mat_v4_bytes(const std::vector<std::vector<int16_t>>& leads, int32_t type = 30) {
  const int32_t rows = static_cast<int32_t>(leads.size());
  const int32_t cols = static_cast<int32_t>(leads.at(0).size());
  std::string b;
  put_i32(b, type);
  put_i32(b, rows);
  put_i32(b, cols);
  put_i32(b, 0);
  put_i32(b, 4);
  b += std::string("val\0", 4);
  for (int32_t s = 0; s < cols; ++s)
    for (int32_t l = 0; l < rows; ++l) put_i16(b, leads[static_cast<size_t>(l)][static_cast<size_t>(s)]);
  return b;
}

// The header lines a Challenge record of these samples would have (init value and checksum consistent).
inline std::string challenge_header(const std::string& name, const std::vector<std::vector<int16_t>>& leads,
                                    const std::vector<std::string>& lead_names, double fs = 500,
                                    const std::string& gain = "1000/mV", const std::string& eol = "\n",
                                    const std::string& dx = "426783006") {
  std::string h = name + " " + std::to_string(leads.size()) + " " + fmt::format("{}", fs) + " " +
                  std::to_string(leads.at(0).size()) + eol;
  for (size_t l = 0; l < leads.size(); ++l)
    h += fmt::format("{}.mat 16+24 {} 16 0 {} {} 0 {}{}", name, gain, leads[l][0],
                     wfdb_checksum(leads[l].data(), static_cast<int64_t>(leads[l].size())), lead_names[l], eol);
  h += "#Age: 50" + eol + "#Sex: Female" + eol + "#Dx: " + dx + eol + "#Rx: Unknown" + eol + "#Hx: Unknown" + eol +
       "#Sx: Unknown" + eol;
  return h;
}

// Deterministic samples: lead l, sample s -> a few hundred ADC units around zero.
inline std::vector<std::vector<int16_t>> ramp_leads(int n_leads, int n_samples) {
  std::vector<std::vector<int16_t>> leads(static_cast<size_t>(n_leads));
  for (int l = 0; l < n_leads; ++l)
    for (int s = 0; s < n_samples; ++s)
      leads[static_cast<size_t>(l)].push_back(static_cast<int16_t>((s * 37 + l * 101) % 701 - 350));
  return leads;
}

// Golden text files: "<name> <count> v0 v1 ..." per line, '#' comments (see tools/golden/make_ecg_filter_golden.py).
inline std::map<std::string, std::vector<double>> read_golden_text(const fs::path& p) {
  std::map<std::string, std::vector<double>> out;
  std::string text = agf::ecg::text::read_file(p, 1 << 22);
  for (std::string_view line : agf::ecg::text::split_lines(text)) {
    if (line.empty() || line.front() == '#') continue;
    auto tok = agf::ecg::text::split_ws(line);
    REQUIRE(tok.size() >= 2);
    auto n = agf::ecg::text::parse_int(tok[1]);
    REQUIRE(n.has_value());
    REQUIRE(tok.size() == static_cast<size_t>(*n) + 2);
    std::vector<double>& v = out[std::string(tok[0])];
    for (size_t i = 2; i < tok.size(); ++i) v.push_back(agf::ecg::text::parse_double(tok[i]).value());
  }
  return out;
}

inline std::vector<double> read_golden_f64(const fs::path& p) {
  std::string bytes = agf::ecg::text::read_file(p, 1 << 24);
  REQUIRE(bytes.size() % 8 == 0);
  std::vector<double> v(bytes.size() / 8);
  std::memcpy(v.data(), bytes.data(), bytes.size());  // little-endian hosts only, as the project targets
  return v;
}

inline double max_abs_diff(const double* a, const double* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace agf::ecg::test
