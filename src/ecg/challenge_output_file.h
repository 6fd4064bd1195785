#pragma once
// The PhysioNet/CinC Challenge 2021 output file of one record (<record>.csv), as the official evaluation script reads
// and the Challenge's example code writes it:
//   #<record>
//   <code>,<code>,...        the classes (SNOMED CT codes, equivalent ones joined by '|' allowed)
//   1,0,...                  binary outputs
//   0.91,0.12,...            scalar outputs (probabilities)
// Lines that are empty or start with '#' are skipped. Read as the script reads it: a file without three lines of one
// field count is "formatting errors, every output negative" (not_well_formed); a binary field counts as 1 only when
// it is 1, True, true, T or t; a scalar that is not a number counts as 0.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace agf::ecg {

struct ChallengeOutputFile {
  std::vector<std::string> codes;
  std::vector<bool> binary;
  std::vector<double> scalar;
  bool well_formed = false;
};

ChallengeOutputFile parse_challenge_output(std::string_view text);
ChallengeOutputFile read_challenge_output(const std::filesystem::path& path);
// The file's text for one record (scalars with 6 significant digits, as the example code's writer).
std::string format_challenge_output(const std::string& record, const std::vector<std::string>& codes,
                                    const std::vector<bool>& binary, const std::vector<double>& scalar);

}  // namespace agf::ecg
