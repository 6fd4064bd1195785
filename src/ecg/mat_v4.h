#pragma once
// MATLAB v4 (Level 4) file holding one int16 full matrix named "val", as the Challenge 2021 .mat files are.
// Layout: five little-endian int32 (type = 30, rows, cols, imag = 0, name length), the NUL-terminated name, then
// rows*cols int16 in column-major order. Nothing else is accepted.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace agf::ecg {

struct MatV4Int16 {
  std::string name;
  int64_t rows = 0;                 // leads
  int64_t cols = 0;                 // samples
  int64_t data_offset = 0;          // byte where the data starts (24 for "val")
  std::vector<int16_t> col_major;   // element (r, c) at c * rows + r
  int16_t at(int64_t r, int64_t c) const { return col_major[static_cast<size_t>(c * rows + r)]; }
};

inline constexpr int32_t kMatV4Int16FullType = 30;  // MOPT: little-endian IEEE, int16, full matrix

// `bytes` is the whole file; `record` and `file_name` name it in messages. Throws RecordError
// (truncated | bad_data_file).
MatV4Int16 parse_mat_v4_int16(std::string_view bytes, const std::string& record, const std::string& file_name);

// Reads `path` (missing -> RecordError missing_file). `max_bytes` bounds what is read for an implausible file.
MatV4Int16 read_mat_v4_int16(const std::filesystem::path& path, const std::string& record,
                             size_t max_bytes = size_t{1} << 31);

}  // namespace agf::ecg
