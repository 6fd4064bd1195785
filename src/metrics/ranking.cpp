#include "metrics/ranking.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace agf::metrics {

namespace {

struct ClassCounts {
  int64_t positive = 0;
  int64_t negative = 0;
  bool defined() const { return positive > 0 && negative > 0; }
};

ClassCounts count_labels(std::span<const uint8_t> labels) {
  ClassCounts c;
  for (uint8_t v : labels) (v ? c.positive : c.negative) += 1;
  return c;
}

// Record indices ordered by score, highest first; ties keep their record order (irrelevant to the results, which
// treat a tie group as one).
std::vector<size_t> order_by_score_descending(std::span<const double> scores) {
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return idx;
}

}  // namespace

double auroc(std::span<const double> scores, std::span<const uint8_t> labels) {
  check_class_inputs(scores, labels, "auroc");
  const ClassCounts c = count_labels(labels);
  if (!c.defined()) return kUndefined;
  std::vector<size_t> idx = order_by_score_descending(scores);
  std::reverse(idx.begin(), idx.end());  // lowest first: rank 1 is the lowest score
  double positive_rank_sum = 0.0;
  for (size_t begin = 0; begin < idx.size();) {
    size_t end = begin;
    int64_t positives_in_group = 0;
    while (end < idx.size() && scores[idx[end]] == scores[idx[begin]]) positives_in_group += labels[idx[end++]];
    // Ranks begin+1 .. end share their mean.
    const double average_rank = 0.5 * static_cast<double>(begin + 1 + end);
    positive_rank_sum += average_rank * static_cast<double>(positives_in_group);
    begin = end;
  }
  const double p = static_cast<double>(c.positive);
  const double n = static_cast<double>(c.negative);
  return (positive_rank_sum - 0.5 * p * (p + 1.0)) / (p * n);
}

double average_precision(std::span<const double> scores, std::span<const uint8_t> labels) {
  check_class_inputs(scores, labels, "average_precision");
  const ClassCounts c = count_labels(labels);
  if (!c.defined()) return kUndefined;
  const std::vector<size_t> idx = order_by_score_descending(scores);
  int64_t tp = 0;
  double previous_recall = 0.0;
  double ap = 0.0;
  for (size_t begin = 0; begin < idx.size();) {
    size_t end = begin;
    while (end < idx.size() && scores[idx[end]] == scores[idx[begin]]) tp += labels[idx[end++]];
    const double recall = static_cast<double>(tp) / static_cast<double>(c.positive);
    const double precision = static_cast<double>(tp) / static_cast<double>(end);
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
    begin = end;
  }
  return ap;
}

MacroMean macro_mean(std::span<const double> per_class) {
  MacroMean m;
  double sum = 0.0;
  for (double v : per_class) {
    if (std::isnan(v)) {
      ++m.classes_left_out;
    } else {
      sum += v;
      ++m.classes_used;
    }
  }
  if (m.classes_used > 0) m.value = sum / static_cast<double>(m.classes_used);
  return m;
}

RankingMetrics ranking_metrics(const LabelView& labels, const ScoreView& scores) {
  check_labels(labels, "ranking_metrics");
  check_scores(scores, "ranking_metrics");
  check_same_shape(labels, scores.rows, scores.cols, "ranking_metrics", "scores");
  RankingMetrics m;
  for (int64_t k = 0; k < labels.cols; ++k) {
    const std::vector<uint8_t> y = labels.column(k);
    const std::vector<double> s = scores.column(k);
    const ClassCounts c = count_labels(y);
    m.n_positive.push_back(c.positive);
    m.n_negative.push_back(c.negative);
    m.auroc.push_back(auroc(s, y));
    m.average_precision.push_back(average_precision(s, y));
  }
  m.macro_auroc = macro_mean(m.auroc);
  m.mean_average_precision = macro_mean(m.average_precision);
  return m;
}

}  // namespace agf::metrics
