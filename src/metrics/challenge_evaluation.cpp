#include "metrics/challenge_evaluation.h"

namespace agf::metrics {

ChallengeEvaluation evaluate_challenge(const ChallengeClasses& classes, std::span<const ChallengeRecord> records) {
  const size_t k = static_cast<size_t>(classes.size());
  AGF_CHECK(!records.empty(), "challenge evaluation: no records");
  std::vector<uint8_t> labels, binary;
  std::vector<double> scalar;
  for (size_t r = 0; r < records.size(); ++r) {
    const ChallengeRecord& rec = records[r];
    AGF_CHECK(rec.labels.size() == k && rec.binary.size() == k && rec.scalar.size() == k,
              "challenge evaluation: record {} has {} labels, {} binary and {} scalar outputs for {} classes", r,
              rec.labels.size(), rec.binary.size(), rec.scalar.size(), k);
    labels.insert(labels.end(), rec.labels.begin(), rec.labels.end());
    binary.insert(binary.end(), rec.binary.begin(), rec.binary.end());
    scalar.insert(scalar.end(), rec.scalar.begin(), rec.scalar.end());
  }
  const auto n = static_cast<int64_t>(records.size());
  const auto kk = static_cast<int64_t>(k);
  return evaluate_challenge(classes, LabelView(labels, n, kk), LabelView(binary, n, kk), ScoreView(scalar, n, kk));
}

ChallengeEvaluation evaluate_challenge(const ChallengeClasses& classes, const LabelView& labels,
                                       const LabelView& binary_outputs, const ScoreView& scalar_outputs) {
  AGF_CHECK(labels.cols == classes.size(), "challenge evaluation: labels have {} classes, the weights {}",
            labels.cols, classes.size());
  ChallengeEvaluation e;
  e.classes = classes.keys();
  e.records = labels.rows;
  e.score = challenge_score(classes, labels, binary_outputs);
  e.auc = official_auc(labels, scalar_outputs);
  e.accuracy = official_accuracy(labels, binary_outputs);
  e.f_measure = official_f_measure(labels, binary_outputs);
  return e;
}

}  // namespace agf::metrics
