#include "metrics/threshold_metrics.h"

#include <cmath>

#include "metrics/record_metrics.h"

namespace agf::metrics {

Confusion confusion(std::span<const uint8_t> labels, std::span<const uint8_t> predictions) {
  AGF_CHECK(labels.size() == predictions.size(), "confusion: {} labels but {} predictions", labels.size(),
            predictions.size());
  Confusion c;
  for (size_t i = 0; i < labels.size(); ++i) {
    AGF_CHECK(labels[i] <= 1 && predictions[i] <= 1, "confusion: record {} has label {} and prediction {}; both must be "
              "0 or 1", i, labels[i], predictions[i]);
    if (labels[i])
      (predictions[i] ? c.tp : c.fn) += 1;
    else
      (predictions[i] ? c.fp : c.tn) += 1;
  }
  return c;
}

double f_beta(const Confusion& c, double beta) {
  AGF_CHECK(beta > 0.0 && std::isfinite(beta), "f_beta: beta must be positive and finite, got {}", beta);
  if (c.tp + c.fp + c.fn == 0) return kUndefined;
  const double b2 = beta * beta;
  const double tp = static_cast<double>(c.tp);
  return (1.0 + b2) * tp / ((1.0 + b2) * tp + b2 * static_cast<double>(c.fn) + static_cast<double>(c.fp));
}

double g_beta(const Confusion& c, double beta) {
  AGF_CHECK(beta > 0.0 && std::isfinite(beta), "g_beta: beta must be positive and finite, got {}", beta);
  if (c.tp + c.fp + c.fn == 0) return kUndefined;
  const double tp = static_cast<double>(c.tp);
  return tp / (tp + static_cast<double>(c.fp) + beta * static_cast<double>(c.fn));
}

HostMatrix<uint8_t> binarize(const ScoreView& scores, std::span<const double> thresholds) {
  AGF_CHECK(static_cast<int64_t>(thresholds.size()) == scores.cols, "binarize: {} thresholds for {} classes",
            thresholds.size(), scores.cols);
  for (size_t k = 0; k < thresholds.size(); ++k)
    AGF_CHECK(!std::isnan(thresholds[k]), "binarize: the threshold of class {} is NaN", k);
  std::vector<uint8_t> out(scores.values.size());
  for (int64_t r = 0; r < scores.rows; ++r)
    for (int64_t k = 0; k < scores.cols; ++k)
      out[static_cast<size_t>(r * scores.cols + k)] = scores(r, k) >= thresholds[static_cast<size_t>(k)];
  return HostMatrix<uint8_t>(std::move(out), scores.rows, scores.cols);
}

ThresholdMetrics threshold_metrics(const LabelView& labels, const ScoreView& scores,
                                   std::span<const double> thresholds) {
  check_labels(labels, "threshold_metrics");
  check_scores(scores, "threshold_metrics");
  check_same_shape(labels, scores.rows, scores.cols, "threshold_metrics", "scores");
  const HostMatrix<uint8_t> predicted = binarize(scores, thresholds);
  const LabelView calls = predicted.view();
  ThresholdMetrics m;
  m.thresholds.assign(thresholds.begin(), thresholds.end());
  for (int64_t k = 0; k < labels.cols; ++k) {
    const Confusion c = confusion(labels.column(k), calls.column(k));
    m.confusion.push_back(c);
    m.f1.push_back(f_beta(c, 1.0));
    m.f2.push_back(f_beta(c, 2.0));
    m.g2.push_back(g_beta(c, 2.0));
  }
  m.macro_f1 = macro_mean(m.f1);
  m.macro_f2 = macro_mean(m.f2);
  m.macro_g2 = macro_mean(m.g2);
  m.hamming_loss = hamming_loss(labels, calls);
  m.subset_accuracy = subset_accuracy(labels, calls);
  return m;
}

}  // namespace agf::metrics
