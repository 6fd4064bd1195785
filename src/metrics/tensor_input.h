#pragma once
// The metrics on agf::Tensor inputs: (N, K) labels (u8, bool, f32 or f64 holding 0/1) and scores (f32 or f64), on
// any device; they are copied to the host as the plain matrices the metrics take.
#include <span>
#include <string>
#include <vector>

#include "metrics/matrix.h"
#include "metrics/ranking.h"
#include "metrics/report.h"
#include "tensor/tensor.h"

namespace agf::metrics {

HostMatrix<uint8_t> labels_from_tensor(const Tensor& labels);
HostMatrix<double> scores_from_tensor(const Tensor& scores);

RankingMetrics ranking_metrics(const Tensor& labels, const Tensor& scores);
MetricsReport evaluate(const Tensor& labels, const Tensor& scores, std::span<const double> thresholds,
                       std::vector<std::string> class_names = {});

}  // namespace agf::metrics
