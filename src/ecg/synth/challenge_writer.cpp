#include "ecg/synth/challenge_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace agf::synth {

namespace {

// "05-May-2020 09:49:17", the date format of the Challenge headers (English month names, whatever the locale).
std::string header_date(int64_t seconds_since_2015) {
  using namespace std::chrono;
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const sys_days epoch = year_month_day{year{2015}, month{1}, day{1}};
  const auto day_index = seconds_since_2015 / 86400, second_of_day = seconds_since_2015 % 86400;
  const year_month_day ymd{epoch + days{day_index}};
  return fmt::format("{:02d}-{}-{:04d} {:02d}:{:02d}:{:02d}", static_cast<unsigned>(ymd.day()),
                     kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                     second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
}

void put_i32(std::string& out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((u >> (8 * b)) & 0xFF));
}

}  // namespace

std::string challenge_record_name(int64_t index) { return fmt::format("SY{:06d}", index + 1); }

std::vector<int16_t> quantize_interleaved(const SynthRecord& rec, double gain) {
  const int64_t n = rec.n_samples;
  std::vector<int16_t> out(static_cast<size_t>(n * kLeadCount));
  for (int l = 0; l < kLeadCount; ++l) {
    const float* src = rec.lead(l);
    for (int64_t s = 0; s < n; ++s) {
      const double v = std::nearbyint(static_cast<double>(src[s]) * gain);
      out[static_cast<size_t>(s * kLeadCount + l)] = static_cast<int16_t>(std::clamp(v, -32768.0, 32767.0));
    }
  }
  return out;
}

int16_t wfdb_checksum(std::span<const int16_t> interleaved, int lead, int n_leads) {
  uint16_t sum = 0;  // unsigned arithmetic wraps modulo 2^16 without overflow
  for (size_t i = static_cast<size_t>(lead); i < interleaved.size(); i += static_cast<size_t>(n_leads))
    sum = static_cast<uint16_t>(sum + static_cast<uint16_t>(interleaved[i]));
  return static_cast<int16_t>(sum);
}

std::string format_challenge_header(const SynthRecord& rec, const std::string& name,
                                    std::span<const int16_t> interleaved, double gain) {
  AGF_CHECK(interleaved.size() == static_cast<size_t>(rec.n_samples * kLeadCount),
            "record {}: {} samples given for 12 leads x {}", name, interleaved.size(), rec.n_samples);
  std::string h = fmt::format("{} {} {:g} {} {}\n", name, kLeadCount, rec.fs, rec.n_samples, header_date(rec.recorded_at));
  for (int l = 0; l < kLeadCount; ++l) {
    const int16_t init = rec.n_samples > 0 ? interleaved[static_cast<size_t>(l)] : int16_t{0};
    h += fmt::format("{}.mat 16+24 {:g}/mV 16 0 {} {} 0 {}\n", name, gain, init,
                     wfdb_checksum(interleaved, l, kLeadCount), kLeadNames[static_cast<size_t>(l)]);
  }
  h += fmt::format("#Age: {}\n#Sex: {}\n#Dx: {}\n#Rx: Unknown\n#Hx: Unknown\n#Sx: Unknown\n", rec.age,
                   rec.male ? "Male" : "Female", rec.labels.snomed_codes());
  return h;
}

std::string format_mat_v4(std::span<const int16_t> interleaved, int32_t rows, int32_t cols) {
  AGF_CHECK(interleaved.size() == static_cast<size_t>(rows) * static_cast<size_t>(cols),
            "MAT v4 'val': {} values for a {} x {} matrix", interleaved.size(), rows, cols);
  std::string out;
  out.reserve(24 + 2 * interleaved.size());
  for (int32_t v : {kMatV4Int16Type, rows, cols, int32_t{0}, int32_t{4}}) put_i32(out, v);
  out.append("val", 4);  // includes the terminating NUL: the name length 4 counts it
  for (int16_t v : interleaved) {
    const auto u = static_cast<uint16_t>(v);
    out.push_back(static_cast<char>(u & 0xFF));
    out.push_back(static_cast<char>(u >> 8));
  }
  return out;
}

ChallengeFiles write_challenge_record(const SynthRecord& rec, const std::filesystem::path& dir, const std::string& name) {
  const std::vector<int16_t> q = quantize_interleaved(rec);
  ChallengeFiles files{dir / (name + ".hea"), dir / (name + ".mat")};
  // Column-major 12 x n is exactly the sample-interleaved order. Not synced one by one: write_challenge_set syncs the
  // whole set once at its end.
  io::write_file_atomically(files.data, format_mat_v4(q, kLeadCount, static_cast<int32_t>(rec.n_samples)),
                            io::Durability::rename_only);
  io::write_file_atomically(files.header, format_challenge_header(rec, name, q), io::Durability::rename_only);
  return files;
}

}  // namespace agf::synth
