#include "fusion/challenge_folders.h"

#include <algorithm>
#include <fstream>
#include <system_error>

#include "ecg/challenge_output_file.h"
#include "ecg/scoring_weights.h"
#include "ecg/text_util.h"
#include "metrics/challenge_classes.h"

namespace agf::fusion {

namespace fs = std::filesystem;

namespace {

// The #Dx codes of a header, read as the script reads them: the line starting with "#Dx", after ": ", split at
// commas, each code trimmed (an empty item stays an empty code, which no class holds).
std::vector<std::string> dx_codes(const fs::path& header) {
  std::ifstream in(header);
  AGF_CHECK(in.good(), "label file {} cannot be read", header.string());
  std::vector<std::string> codes;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("#Dx")) continue;
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string_view rest = std::string_view(line).substr(colon + 2);
    size_t start = 0;
    while (true) {
      const size_t comma = rest.find(',', start);
      codes.emplace_back(ecg::text::trim(rest.substr(start, comma == std::string_view::npos ? comma : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return codes;
}

}  // namespace

FolderEvaluation evaluate_challenge_folders(const fs::path& labels_dir, const fs::path& outputs_dir,
                                            const fs::path& weights_csv) {
  std::error_code ec;
  AGF_CHECK(fs::is_directory(labels_dir, ec), "labels folder {} does not exist", labels_dir.string());
  AGF_CHECK(fs::is_directory(outputs_dir, ec), "outputs folder {} does not exist", outputs_dir.string());
  const ecg::ScoringWeights w = weights_csv.empty() ? ecg::ScoringWeights::load_default()
                                                    : ecg::ScoringWeights::load(weights_csv);
  const metrics::ChallengeClasses classes(w.class_keys(), w.values());
  std::vector<fs::path> headers;
  for (const auto& e : fs::directory_iterator(labels_dir, ec)) {
    const std::string name = e.path().filename().string();
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (e.is_regular_file() && lower.ends_with(".hea") && !name.starts_with(".")) headers.push_back(e.path());
  }
  std::sort(headers.begin(), headers.end());
  AGF_CHECK(!headers.empty(), "no label file (.hea) in {}", labels_dir.string());
  FolderEvaluation out;
  std::vector<metrics::ChallengeRecord> records;
  for (const fs::path& h : headers) {
    const fs::path output = outputs_dir / (h.stem().string() + ".csv");
    AGF_CHECK(fs::is_regular_file(output, ec), "output file {} not found for label file {}", output.string(),
              h.string());
    const ecg::ChallengeOutputFile f = ecg::read_challenge_output(output);
    std::vector<metrics::ChallengeOutput> columns;
    if (f.well_formed) {
      for (size_t i = 0; i < f.codes.size(); ++i) columns.push_back({f.codes[i], f.binary[i], f.scalar[i]});
    } else {
      out.malformed_outputs.push_back(h.stem().string());
    }
    const std::vector<std::string> labels = dx_codes(h);
    records.push_back(metrics::challenge_record(classes, labels, columns));
  }
  out.evaluation = metrics::evaluate_challenge(classes, records);
  return out;
}

}  // namespace agf::fusion
