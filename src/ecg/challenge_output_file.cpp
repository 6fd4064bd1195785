#include "ecg/challenge_output_file.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "ecg/text_util.h"
#include "tensor/error.h"

namespace agf::ecg {

namespace {

std::vector<std::string> fields(std::string_view line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    out.emplace_back(text::trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                                    : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// Python's float(): the whole (trimmed) field must be a number; nan and inf are numbers.
double scalar_field(const std::string& s) {
  if (s.empty()) return 0.0;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return 0.0;
  return v;
}

}  // namespace

ChallengeOutputFile parse_challenge_output(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    const std::string_view t = text::trim(line);
    if (!t.empty() && t.front() != '#') lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  ChallengeOutputFile f;
  if (lines.size() < 3) return f;
  const size_t n = fields(lines[0]).size();
  for (const auto& l : lines)
    if (fields(l).size() != n) return f;
  f.codes = fields(lines[0]);
  for (const auto& b : fields(lines[1])) f.binary.push_back(b == "1" || b == "True" || b == "true" || b == "T" || b == "t");
  for (const auto& s : fields(lines[2])) f.scalar.push_back(scalar_field(s));
  f.well_formed = true;
  return f;
}

ChallengeOutputFile read_challenge_output(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  AGF_CHECK(in.good(), "Challenge output file {} cannot be read", path.string());
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  AGF_CHECK(text.size() <= (size_t{1} << 20), "Challenge output file {} is {} bytes: not an output file",
            path.string(), text.size());
  return parse_challenge_output(text);
}

std::string format_challenge_output(const std::string& record, const std::vector<std::string>& codes,
                                    const std::vector<bool>& binary, const std::vector<double>& scalar) {
  AGF_CHECK(codes.size() == binary.size() && codes.size() == scalar.size(),
            "Challenge output of {}: {} codes, {} binary and {} scalar outputs", record, codes.size(), binary.size(),
            scalar.size());
  std::string s = "#" + record + "\n";
  for (size_t i = 0; i < codes.size(); ++i) s += (i ? "," : "") + codes[i];
  s += "\n";
  for (size_t i = 0; i < binary.size(); ++i) s += std::string(i ? "," : "") + (binary[i] ? "1" : "0");
  s += "\n";
  for (size_t i = 0; i < scalar.size(); ++i) s += fmt::format("{}{:.6g}", i ? "," : "", scalar[i]);
  return s + "\n";
}

}  // namespace agf::ecg
