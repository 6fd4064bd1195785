#pragma once
// Small text helpers shared by the ECG readers (WFDB headers, CSV tables). Every number parser consumes the
// whole token or fails, so "12abc" or "1e400" never slips through as a partial value.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agf::ecg::text {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Splits on any run of spaces/tabs; empty tokens never appear.
std::vector<std::string_view> split_ws(std::string_view s);
// Splits on one delimiter character, keeping empty fields ("a,,b" -> "a", "", "b").
std::vector<std::string_view> split_char(std::string_view s, char delim);
// Lines without their terminator; accepts LF and CRLF (a lone trailing CR is stripped).
std::vector<std::string_view> split_lines(std::string_view s);

std::optional<int64_t> parse_int(std::string_view s);
std::optional<double> parse_double(std::string_view s);  // finite values only

// Reads a whole file (binary). Fails naming the path when it is missing, unreadable or larger than max_bytes.
std::string read_file(const std::filesystem::path& path, size_t max_bytes);

}  // namespace agf::ecg::text
