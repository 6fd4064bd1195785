#pragma once
// A small CSV reader for the project's label tables and CODE-15's exams.csv: RFC 4180 quoting ("a, b" and ""),
// LF or CRLF, a header row whose column names are looked up by name. Errors name the file, row and column.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agf::ecg {

// Fields of one line; `where` names the file and row in messages (an unclosed quote is an error).
std::vector<std::string> split_csv_line(std::string_view line, const std::string& where);

class CsvTable {
 public:
  // Reads the whole file (up to max_bytes); blank lines are skipped; every row must have the header's width.
  static CsvTable read(const std::filesystem::path& path, size_t max_bytes = size_t{1} << 30);
  static CsvTable parse(std::string_view text, const std::string& source);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& header() const { return header_; }
  int64_t rows() const { return static_cast<int64_t>(rows_.size()); }
  const std::vector<std::string>& row(int64_t r) const { return rows_[static_cast<size_t>(r)]; }
  const std::string& cell(int64_t r, int64_t c) const { return rows_[static_cast<size_t>(r)][static_cast<size_t>(c)]; }

  std::optional<int64_t> find_column(std::string_view name) const;  // case-insensitive
  int64_t column(std::string_view name) const;                      // error naming the file when absent

  // Typed cells; errors name the file, data row (1-based, header excluded) and column.
  int64_t int_cell(int64_t r, int64_t c) const;
  double double_cell(int64_t r, int64_t c) const;
  std::optional<double> optional_double_cell(int64_t r, int64_t c) const;  // empty / NaN -> nullopt
  bool bool_cell(int64_t r, int64_t c) const;                              // True/False, true/false, 1/0
  std::optional<bool> optional_bool_cell(int64_t r, int64_t c) const;      // empty -> nullopt

 private:
  std::string where(int64_t r, int64_t c) const;
  std::string source_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace agf::ecg
