#include "ecg/csv_table.h"

#include <cmath>

#include "ecg/text_util.h"
#include "tensor/error.h"

namespace agf::ecg {

std::vector<std::string> split_csv_line(std::string_view line, const std::string& where) {
  std::vector<std::string> fields;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields.push_back(was_quoted ? cur : std::string(text::trim(cur)));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  AGF_CHECK(!quoted, "{}: unclosed quote", where);
  fields.push_back(was_quoted ? cur : std::string(text::trim(cur)));
  return fields;
}

CsvTable CsvTable::read(const std::filesystem::path& path, size_t max_bytes) {
  return parse(text::read_file(path, max_bytes), path.string());
}

CsvTable CsvTable::parse(std::string_view text, const std::string& source) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  CsvTable t;
  t.source_ = source;
  int64_t line_no = 0;
  for (std::string_view line : text::split_lines(text)) {
    ++line_no;
    if (text::trim(line).empty()) continue;
    auto fields = split_csv_line(line, fmt::format("{} line {}", source, line_no));
    if (t.header_.empty()) {
      t.header_ = std::move(fields);
      continue;
    }
    AGF_CHECK(fields.size() == t.header_.size(), "{} line {}: {} fields, the header has {}", source, line_no,
              fields.size(), t.header_.size());
    t.rows_.push_back(std::move(fields));
  }
  AGF_CHECK(!t.header_.empty(), "{}: empty CSV file (no header row)", source);
  return t;
}

std::optional<int64_t> CsvTable::find_column(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (text::iequals(text::trim(header_[i]), name)) return static_cast<int64_t>(i);
  return std::nullopt;
}

int64_t CsvTable::column(std::string_view name) const {
  auto c = find_column(name);
  AGF_CHECK(c.has_value(), "{}: no column '{}' (columns: {})", source_, name, fmt::join(header_, ", "));
  return *c;
}

std::string CsvTable::where(int64_t r, int64_t c) const {
  return fmt::format("{} data row {} column '{}'", source_, r + 1, header_[static_cast<size_t>(c)]);
}

int64_t CsvTable::int_cell(int64_t r, int64_t c) const {
  auto v = text::parse_int(cell(r, c));
  if (!v) {
    // pandas writes integer columns holding a missing value as floats ("123.0").
    auto d = text::parse_double(cell(r, c));
    AGF_CHECK(d.has_value(), "{}: '{}' is not an integer", where(r, c), cell(r, c));
    // Range first: converting a double outside int64's range (or NaN) to int64 is undefined behaviour.
    // -2^63 is exact in double; 2^63 is the first value past the top.
    constexpr double lo = -9223372036854775808.0, hi = 9223372036854775808.0;
    AGF_CHECK(*d >= lo && *d < hi, "{}: '{}' is outside the 64-bit integer range", where(r, c), cell(r, c));
    AGF_CHECK(*d == std::trunc(*d), "{}: '{}' is not an integer", where(r, c), cell(r, c));
    return static_cast<int64_t>(*d);
  }
  return *v;
}

double CsvTable::double_cell(int64_t r, int64_t c) const {
  auto v = text::parse_double(cell(r, c));
  AGF_CHECK(v.has_value(), "{}: '{}' is not a finite number", where(r, c), cell(r, c));
  return *v;
}

std::optional<double> CsvTable::optional_double_cell(int64_t r, int64_t c) const {
  const std::string& s = cell(r, c);
  if (s.empty() || text::iequals(s, "nan")) return std::nullopt;
  return double_cell(r, c);
}

bool CsvTable::bool_cell(int64_t r, int64_t c) const {
  auto v = optional_bool_cell(r, c);
  AGF_CHECK(v.has_value(), "{}: empty, expected True or False", where(r, c));
  return *v;
}

std::optional<bool> CsvTable::optional_bool_cell(int64_t r, int64_t c) const {
  const std::string& s = cell(r, c);
  if (s.empty()) return std::nullopt;
  if (text::iequals(s, "true") || s == "1") return true;
  if (text::iequals(s, "false") || s == "0") return false;
  AGF_FAIL("{}: '{}' is not True or False", where(r, c), s);
}

}  // namespace agf::ecg
