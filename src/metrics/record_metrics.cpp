#include "metrics/record_metrics.h"

#include <limits>

namespace agf::metrics {

namespace {

void check_binary_pair(const LabelView& labels, const LabelView& predictions, std::string_view what) {
  check_labels(labels, what);
  check_labels(predictions, what);
  check_same_shape(labels, predictions.rows, predictions.cols, what, "predictions");
}

void check_ranked_pair(const LabelView& labels, const ScoreView& scores, std::string_view what) {
  check_labels(labels, what);
  check_scores(scores, what);
  check_same_shape(labels, scores.rows, scores.cols, what, "scores");
}

}  // namespace

double hamming_loss(const LabelView& labels, const LabelView& predictions) {
  check_binary_pair(labels, predictions, "hamming_loss");
  int64_t wrong = 0;
  for (size_t i = 0; i < labels.values.size(); ++i) wrong += labels.values[i] != predictions.values[i];
  return static_cast<double>(wrong) / static_cast<double>(labels.values.size());
}

double subset_accuracy(const LabelView& labels, const LabelView& predictions) {
  check_binary_pair(labels, predictions, "subset_accuracy");
  int64_t exact = 0;
  for (int64_t r = 0; r < labels.rows; ++r) {
    bool same = true;
    for (int64_t k = 0; k < labels.cols && same; ++k) same = labels(r, k) == predictions(r, k);
    exact += same;
  }
  return static_cast<double>(exact) / static_cast<double>(labels.rows);
}

double label_ranking_loss(const LabelView& labels, const ScoreView& scores) {
  check_ranked_pair(labels, scores, "label_ranking_loss");
  double total = 0.0;
  for (int64_t r = 0; r < labels.rows; ++r) {
    int64_t positives = 0;
    int64_t wrong_pairs = 0;
    for (int64_t p = 0; p < labels.cols; ++p) {
      if (!labels(r, p)) continue;
      ++positives;
      for (int64_t n = 0; n < labels.cols; ++n)
        if (!labels(r, n) && scores(r, n) >= scores(r, p)) ++wrong_pairs;
    }
    const int64_t negatives = labels.cols - positives;
    if (positives > 0 && negatives > 0)
      total += static_cast<double>(wrong_pairs) / (static_cast<double>(positives) * static_cast<double>(negatives));
  }
  return total / static_cast<double>(labels.rows);
}

double coverage_error(const LabelView& labels, const ScoreView& scores) {
  check_ranked_pair(labels, scores, "coverage_error");
  double total = 0.0;
  for (int64_t r = 0; r < labels.rows; ++r) {
    double lowest_positive = std::numeric_limits<double>::infinity();
    bool any_positive = false;
    for (int64_t k = 0; k < labels.cols; ++k)
      if (labels(r, k) && scores(r, k) <= lowest_positive) {
        lowest_positive = scores(r, k);
        any_positive = true;
      }
    if (!any_positive) continue;
    int64_t covered = 0;
    for (int64_t k = 0; k < labels.cols; ++k) covered += scores(r, k) >= lowest_positive;
    total += static_cast<double>(covered);
  }
  return total / static_cast<double>(labels.rows);
}

}  // namespace agf::metrics
