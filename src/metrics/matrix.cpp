#include "metrics/matrix.h"

#include <cmath>

namespace agf::metrics {

void check_labels(const LabelView& labels, std::string_view what) {
  AGF_CHECK(labels.rows > 0, "{}: no records", what);
  for (size_t i = 0; i < labels.values.size(); ++i) {
    const uint8_t v = labels.values[i];
    AGF_CHECK(v <= 1, "{}: label of record {} class {} is {}; labels must be 0 or 1", what,
              static_cast<int64_t>(i) / labels.cols, static_cast<int64_t>(i) % labels.cols, v);
  }
}

void check_scores(const ScoreView& scores, std::string_view what) {
  AGF_CHECK(scores.rows > 0, "{}: no records", what);
  for (size_t i = 0; i < scores.values.size(); ++i)
    AGF_CHECK(std::isfinite(scores.values[i]), "{}: score of record {} class {} is {}; scores must be finite", what,
              static_cast<int64_t>(i) / scores.cols, static_cast<int64_t>(i) % scores.cols, scores.values[i]);
}

void check_same_shape(const LabelView& labels, int64_t rows, int64_t cols, std::string_view what,
                      std::string_view other) {
  AGF_CHECK(labels.rows == rows && labels.cols == cols, "{}: labels are ({}, {}) but {} are ({}, {})", what,
            labels.rows, labels.cols, other, rows, cols);
}

void check_class_inputs(std::span<const double> scores, std::span<const uint8_t> labels, std::string_view what) {
  AGF_CHECK(scores.size() == labels.size(), "{}: {} scores but {} labels", what, scores.size(), labels.size());
  AGF_CHECK(!scores.empty(), "{}: no records", what);
  for (size_t i = 0; i < scores.size(); ++i) {
    AGF_CHECK(labels[i] <= 1, "{}: label of record {} is {}; labels must be 0 or 1", what, i, labels[i]);
    AGF_CHECK(std::isfinite(scores[i]), "{}: score of record {} is {}; scores must be finite", what, i, scores[i]);
  }
}

}  // namespace agf::metrics
