#include "metrics/tensor_input.h"

#include <cmath>

namespace agf::metrics {

namespace {

void check_matrix(const Tensor& t, const char* what) {
  AGF_CHECK(t.defined(), "metrics: the {} tensor is undefined", what);
  AGF_CHECK(t.dim() == 2, "metrics: {} must be (records, classes), got {}", what, t.describe());
}

}  // namespace

HostMatrix<uint8_t> labels_from_tensor(const Tensor& labels) {
  check_matrix(labels, "labels");
  const DType dt = labels.dtype();
  AGF_CHECK(dt == DType::u8 || dt == DType::boolean || dt == DType::f32 || dt == DType::f64,
            "metrics: labels must be u8, bool, f32 or f64, got {}", labels.describe());
  const std::vector<double> v = labels.to_vector<double>();
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    AGF_CHECK(v[i] == 0.0 || v[i] == 1.0, "metrics: label {} of {} is {}; labels must be 0 or 1", i,
              labels.describe(), v[i]);
    out[i] = v[i] == 1.0;
  }
  return HostMatrix<uint8_t>(std::move(out), labels.size(0), labels.size(1));
}

HostMatrix<double> scores_from_tensor(const Tensor& scores) {
  check_matrix(scores, "scores");
  AGF_CHECK(scores.dtype() == DType::f32 || scores.dtype() == DType::f64, "metrics: scores must be f32 or f64, got {}",
            scores.describe());
  return HostMatrix<double>(scores.to_vector<double>(), scores.size(0), scores.size(1));
}

RankingMetrics ranking_metrics(const Tensor& labels, const Tensor& scores) {
  const HostMatrix<uint8_t> y = labels_from_tensor(labels);
  const HostMatrix<double> s = scores_from_tensor(scores);
  return ranking_metrics(y.view(), s.view());
}

MetricsReport evaluate(const Tensor& labels, const Tensor& scores, std::span<const double> thresholds,
                       std::vector<std::string> class_names) {
  const HostMatrix<uint8_t> y = labels_from_tensor(labels);
  const HostMatrix<double> s = scores_from_tensor(scores);
  return evaluate(y.view(), s.view(), thresholds, std::move(class_names));
}

}  // namespace agf::metrics
