#include "metrics/threshold_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "metrics/ranking.h"
#include "metrics/threshold_metrics.h"

namespace agf::metrics {

ThresholdChoice best_threshold(std::span<const double> scores, std::span<const uint8_t> labels, double beta,
                               double fallback) {
  check_class_inputs(scores, labels, "best_threshold");
  AGF_CHECK(beta > 0.0 && std::isfinite(beta), "best_threshold: beta must be positive and finite, got {}", beta);
  AGF_CHECK(std::isfinite(fallback), "best_threshold: the fallback threshold must be finite, got {}", fallback);
  const int64_t positives = std::count(labels.begin(), labels.end(), uint8_t{1});
  if (positives == 0) return ThresholdChoice{fallback, kUndefined, true};

  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  // Lower the threshold one distinct score at a time; each step adds a whole tie group to the positive calls.
  Confusion c;
  c.fn = positives;
  c.tn = static_cast<int64_t>(scores.size()) - positives;
  ThresholdChoice best{fallback, -1.0, false};
  for (size_t begin = 0; begin < idx.size();) {
    const double t = scores[idx[begin]];
    size_t end = begin;
    for (; end < idx.size() && scores[idx[end]] == t; ++end) {
      if (labels[idx[end]]) {
        ++c.tp;
        --c.fn;
      } else {
        ++c.fp;
        --c.tn;
      }
    }
    const double f = f_beta(c, beta);
    if (f > best.f_beta) best = ThresholdChoice{t, f, false};  // strict: a tie keeps the higher threshold
    begin = end;
  }
  return best;
}

std::vector<ThresholdChoice> choose_thresholds(const LabelView& labels, const ScoreView& scores, double beta,
                                               double fallback) {
  check_labels(labels, "choose_thresholds");
  check_scores(scores, "choose_thresholds");
  check_same_shape(labels, scores.rows, scores.cols, "choose_thresholds", "scores");
  std::vector<ThresholdChoice> out;
  for (int64_t k = 0; k < labels.cols; ++k)
    out.push_back(best_threshold(scores.column(k), labels.column(k), beta, fallback));
  return out;
}

std::vector<double> thresholds_of(const std::vector<ThresholdChoice>& choices) {
  std::vector<double> t;
  for (const auto& c : choices) t.push_back(c.threshold);
  return t;
}

}  // namespace agf::metrics
