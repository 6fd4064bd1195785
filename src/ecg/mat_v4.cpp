#include "ecg/mat_v4.h"

#include <cstring>

#include "ecg/record_error.h"
#include "ecg/text_util.h"

namespace agf::ecg {

namespace {

int32_t le_i32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + static_cast<size_t>(i)]);
  return static_cast<int32_t>(v);
}

int32_t byte_swapped(int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  return static_cast<int32_t>((u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24));
}

// MOPT's thousands digit M is the machine format: 0 little-endian IEEE, 1 big-endian IEEE. A big-endian file read
// as little-endian shows either M = 1 directly (impossible for a valid little-endian file) or a value that is only a
// plausible MOPT code once its bytes are swapped.
bool looks_big_endian(int32_t type) {
  auto plausible = [](int32_t t) { return t >= 0 && t < 5000; };
  if (plausible(type)) return type / 1000 == 1;
  int32_t swapped = byte_swapped(type);
  return plausible(swapped);
}

}  // namespace

MatV4Int16 parse_mat_v4_int16(std::string_view bytes, const std::string& record, const std::string& file_name) {
  auto fail = [&](RecordProblem p, const std::string& why) {
    fail_record(p, record, fmt::format("{}: {}", file_name, why));
  };
  if (bytes.size() < 20) fail(RecordProblem::truncated, fmt::format("{} bytes, shorter than the 20-byte MAT v4 header",
                                                                    bytes.size()));
  int32_t type = le_i32(bytes, 0), rows = le_i32(bytes, 4), cols = le_i32(bytes, 8), imag = le_i32(bytes, 12),
          name_len = le_i32(bytes, 16);
  if (type != kMatV4Int16FullType) {
    if (looks_big_endian(type))
      fail(RecordProblem::bad_data_file,
           fmt::format("big-endian MAT v4 header (type code {} read little-endian); only little-endian is read", type));
    fail(RecordProblem::bad_data_file,
         fmt::format("MAT v4 type code {} is not {} (little-endian int16 full matrix)", type, kMatV4Int16FullType));
  }
  if (imag != 0) fail(RecordProblem::bad_data_file, fmt::format("MAT v4 imaginary flag {} (complex data)", imag));
  if (rows < 1 || cols < 1)
    fail(RecordProblem::bad_data_file, fmt::format("MAT v4 dims {} x {} are not positive", rows, cols));
  if (name_len < 2 || name_len > 64)
    fail(RecordProblem::bad_data_file, fmt::format("MAT v4 name length {} outside 2..64", name_len));
  size_t data_offset = 20 + static_cast<size_t>(name_len);
  if (bytes.size() < data_offset)
    fail(RecordProblem::truncated, fmt::format("{} bytes, shorter than the header and name", bytes.size()));
  std::string_view name = bytes.substr(20, static_cast<size_t>(name_len));
  if (name.back() != '\0' || name.find('\0') != name.size() - 1)
    fail(RecordProblem::bad_data_file, "MAT v4 variable name is not NUL-terminated");
  name.remove_suffix(1);
  if (name != "val")
    fail(RecordProblem::bad_data_file, fmt::format("MAT v4 variable is named '{}', expected 'val'", name));

  const uint64_t n = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  const uint64_t expected = data_offset + 2 * n;
  if (bytes.size() < expected)
    fail(RecordProblem::truncated, fmt::format("{} bytes, but {} x {} int16 need {} bytes", bytes.size(), rows, cols,
                                               expected));
  if (bytes.size() > expected)
    fail(RecordProblem::bad_data_file,
         fmt::format("{} bytes, {} more than {} x {} int16 need (more than one variable?)", bytes.size(),
                     bytes.size() - expected, rows, cols));

  MatV4Int16 m;
  m.name = std::string(name);
  m.rows = rows;
  m.cols = cols;
  m.data_offset = static_cast<int64_t>(data_offset);
  m.col_major.resize(n);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + data_offset);
  for (size_t i = 0; i < n; ++i)
    m.col_major[i] = static_cast<int16_t>(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  return m;
}

MatV4Int16 read_mat_v4_int16(const std::filesystem::path& path, const std::string& record, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail_record(RecordProblem::missing_file, record, fmt::format("data file {} does not exist", path.string()));
  std::string bytes;
  try {
    bytes = text::read_file(path, max_bytes);
  } catch (const Error& e) {
    fail_record(RecordProblem::bad_data_file, record, e.what());
  }
  return parse_mat_v4_int16(bytes, record, path.string());
}

}  // namespace agf::ecg
