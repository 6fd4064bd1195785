#pragma once
// WFDB header (.hea) of a single-segment record, as the PhysioNet/CinC Challenge 2021 and plain WFDB records write
// it (spec/data.md). Parsing is pure: it takes the text and a name for messages, so quirks are testable from strings.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agf::ecg {

enum class Sex { unknown, male, female };

struct WfdbLead {
  std::string file;              // data file, relative to the header's folder
  int format = 16;               // only 16 is read
  int64_t byte_offset = 0;       // "16+24" -> 24
  double gain = 200.0;           // ADC units per physical unit (WFDB: 0 or absent means 200)
  int64_t baseline = 0;          // "(b)" after the gain; defaults to adc_zero
  std::string units = "mV";      // as written ("mV", "mv", "uV")
  double units_to_mv = 1.0;      // factor from the written unit to mV
  int adc_resolution = 0;        // bits; 0 when absent
  int64_t adc_zero = 0;
  std::optional<int64_t> init_value;  // first sample, when the header gives it
  std::optional<int64_t> checksum;    // signed 16-bit sum of the samples, when given
  int64_t block_size = 0;
  std::string name;              // lead description ("I", "aVR", "V1"); may hold spaces
};

struct WfdbHeader {
  std::string record_name;       // as written on line 1 (Georgia writes "E07500.mat")
  int n_leads = 0;
  double fs = 0.0;               // samples per second per lead
  int64_t n_samples = 0;
  std::string date_time;         // the rest of line 1 ("05-May-2020 09:49:17"), empty when absent
  std::vector<WfdbLead> leads;

  // Challenge comments.
  std::optional<double> age;     // absent for "NaN", "Unknown" or no #Age line
  Sex sex = Sex::unknown;
  std::vector<std::string> dx;   // SNOMED CT codes in the order written; empty items dropped
  std::string rx, hx, sx;        // free text as written (Georgia has no #Sx)
  std::vector<std::string> comments;  // every comment line, without '#', trimmed
};

// Limits beyond which a header is rejected as implausible rather than allocating for it.
inline constexpr int kMaxLeads = 64;
inline constexpr int64_t kMaxSamples = int64_t{1} << 31;

// Parses header text. `record` names the record in messages. Throws RecordError(bad_header | unsupported).
WfdbHeader parse_wfdb_header(std::string_view text, const std::string& record);

// Reads and parses `path` (a .hea file); the record name in messages is the file's stem.
WfdbHeader read_wfdb_header(const std::filesystem::path& path);

}  // namespace agf::ecg
