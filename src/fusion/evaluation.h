#pragma once
// A network's predictions over the rows of a prepared dataset and their metrics: the trainer's validations, the
// final report's test figures, agf-eval.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dataset/dataset_format.h"
#include "metrics/report.h"
#include "metrics/threshold_search.h"
#include "nn/ecgnet.h"

namespace agf::fusion {

// sigmoid(main logits) of every row, in row order: eval mode (BatchNorm on running statistics), NoGrad, batches of
// `batch` streamed by the loader. The network's mode is restored afterwards.
struct Predictions {
  std::vector<double> scores;   // (rows, classes) row-major
  std::vector<uint8_t> labels;  // (rows, classes), the dataset's labels
  int64_t rows = 0, classes = 0;
  metrics::ScoreView score_view() const { return {scores, rows, classes}; }
  metrics::LabelView label_view() const { return {labels, rows, classes}; }
};
Predictions predict(nn::EcgNet& net, const std::filesystem::path& data, const std::vector<int64_t>& rows,
                    int64_t batch);

// Every metric of spec/data.md on one split, with per-class thresholds chosen on another split (validation) to
// maximise F2; and, when the classes are Challenge SNOMED codes among the scoring weights and NSR is one of them,
// the official Challenge 2021 evaluation restricted to the dataset's classes.
struct SplitReport {
  std::string split;
  metrics::MetricsReport report;
  std::vector<metrics::ThresholdChoice> thresholds;
  std::optional<nlohmann::json> challenge;  // metrics::to_json(ChallengeEvaluation), or why it was not computed
  nlohmann::json to_json() const;
};
SplitReport evaluate_split(const Predictions& eval, const Predictions& threshold_source,
                           const std::vector<dataset::DatasetClass>& classes, const std::string& split_name);

}  // namespace agf::fusion
