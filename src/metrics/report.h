#pragma once
// The per-class evaluation of a multi-label classifier in one call: ranking metrics, metrics at the given
// thresholds, and the per-record ranking metrics. Its JSON form is in metrics_json.h, its table in class_table.h.
#include <span>
#include <string>
#include <vector>

#include "metrics/matrix.h"
#include "metrics/ranking.h"
#include "metrics/threshold_metrics.h"

namespace agf::metrics {

struct MetricsReport {
  std::vector<std::string> classes;  // names, in class order
  RankingMetrics ranking;
  ThresholdMetrics at_thresholds;
  double label_ranking_loss = 0.0;
  double coverage_error = 0.0;
};

// class_names: one per class, or empty for "0", "1", ...
MetricsReport evaluate(const LabelView& labels, const ScoreView& scores, std::span<const double> thresholds,
                       std::vector<std::string> class_names = {});

}  // namespace agf::metrics
