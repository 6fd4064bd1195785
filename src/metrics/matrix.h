#pragma once
// The one input shape of every metric here: a row-major (records x classes) matrix on the host, read through a
// span so that callers keep their own storage. Labels are 0/1 bytes, scores float64.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tensor/error.h"

namespace agf::metrics {

template <typename T>
struct MatrixView {
  std::span<const T> values;  // row-major, rows * cols
  int64_t rows = 0;
  int64_t cols = 0;

  MatrixView() = default;
  MatrixView(std::span<const T> v, int64_t r, int64_t c) : values(v), rows(r), cols(c) {
    AGF_CHECK(r >= 0 && c >= 0 && static_cast<int64_t>(v.size()) == r * c,
              "metrics: a ({}, {}) matrix needs {} values, got {}", r, c, r * c, v.size());
  }
  T operator()(int64_t r, int64_t c) const { return values[static_cast<size_t>(r * cols + c)]; }
  std::span<const T> row(int64_t r) const { return values.subspan(static_cast<size_t>(r * cols), cols); }
  std::vector<T> column(int64_t c) const {
    std::vector<T> out(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) out[static_cast<size_t>(r)] = (*this)(r, c);
    return out;
  }
};

// An owning matrix, for results (binarised predictions) and converted inputs (tensors).
template <typename T>
struct HostMatrix {
  std::vector<T> values;
  int64_t rows = 0;
  int64_t cols = 0;

  HostMatrix() = default;
  HostMatrix(std::vector<T> v, int64_t r, int64_t c) : values(std::move(v)), rows(r), cols(c) {
    view();  // checks the size
  }
  MatrixView<T> view() const { return MatrixView<T>(std::span<const T>(values), rows, cols); }
};

using LabelView = MatrixView<uint8_t>;
using ScoreView = MatrixView<double>;

// Input checks shared by every metric; `what` names the metric in the message. Labels must be 0 or 1 (soft
// CutMix targets are a training device, never an evaluation label); scores must be finite; at least one record.
void check_labels(const LabelView& labels, std::string_view what);
void check_scores(const ScoreView& scores, std::string_view what);
void check_same_shape(const LabelView& labels, int64_t rows, int64_t cols, std::string_view what,
                      std::string_view other);
// One column's labels and scores, as used by the per-class metrics.
void check_class_inputs(std::span<const double> scores, std::span<const uint8_t> labels, std::string_view what);

}  // namespace agf::metrics
