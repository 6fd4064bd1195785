#include "metrics/challenge_score.h"

#include <algorithm>
#include <cmath>

namespace agf::metrics {

std::vector<double> modified_confusion(const LabelView& labels, const LabelView& outputs) {
  check_labels(labels, "challenge score");
  check_labels(outputs, "challenge score");
  check_same_shape(labels, outputs.rows, outputs.cols, "challenge score", "outputs");
  const int64_t k = labels.cols;
  std::vector<double> a(static_cast<size_t>(k * k), 0.0);
  for (int64_t r = 0; r < labels.rows; ++r) {
    int64_t in_union = 0;
    for (int64_t c = 0; c < k; ++c) in_union += labels(r, c) || outputs(r, c);
    const double share = 1.0 / static_cast<double>(std::max<int64_t>(in_union, 1));
    for (int64_t j = 0; j < k; ++j) {
      if (!labels(r, j)) continue;
      for (int64_t c = 0; c < k; ++c)
        if (outputs(r, c)) a[static_cast<size_t>(j * k + c)] += share;
    }
  }
  return a;
}

double weighted_score(std::span<const double> weights, const LabelView& labels, const LabelView& outputs) {
  const std::vector<double> a = modified_confusion(labels, outputs);
  AGF_CHECK(weights.size() == a.size(), "challenge score: {} weights for {} classes", weights.size(), labels.cols);
  double sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double product = weights[i] * a[i];
    if (!std::isnan(product)) sum += product;
  }
  return sum;
}

ChallengeScore challenge_score(const ChallengeClasses& classes, const LabelView& labels, const LabelView& outputs) {
  AGF_CHECK(labels.cols == classes.size(), "challenge score: labels have {} classes, the weights {}", labels.cols,
            classes.size());
  ChallengeScore s;
  s.observed = weighted_score(classes.weights(), labels, outputs);
  s.correct = weighted_score(classes.weights(), labels, labels);
  std::vector<uint8_t> normal_only(labels.values.size(), 0);
  for (int64_t r = 0; r < labels.rows; ++r) normal_only[static_cast<size_t>(r * labels.cols + classes.normal_index())] = 1;
  s.inactive = weighted_score(classes.weights(), labels, LabelView(normal_only, labels.rows, labels.cols));
  s.normalized = s.correct != s.inactive ? (s.observed - s.inactive) / (s.correct - s.inactive) : 0.0;
  return s;
}

}  // namespace agf::metrics
