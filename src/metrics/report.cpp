#include "metrics/report.h"

#include "metrics/record_metrics.h"

namespace agf::metrics {

MetricsReport evaluate(const LabelView& labels, const ScoreView& scores, std::span<const double> thresholds,
                       std::vector<std::string> class_names) {
  if (class_names.empty())
    for (int64_t k = 0; k < labels.cols; ++k) class_names.push_back(std::to_string(k));
  AGF_CHECK(static_cast<int64_t>(class_names.size()) == labels.cols, "evaluate: {} class names for {} classes",
            class_names.size(), labels.cols);
  MetricsReport r;
  r.classes = std::move(class_names);
  r.ranking = ranking_metrics(labels, scores);
  r.at_thresholds = threshold_metrics(labels, scores, thresholds);
  r.label_ranking_loss = label_ranking_loss(labels, scores);
  r.coverage_error = coverage_error(labels, scores);
  return r;
}

}  // namespace agf::metrics
