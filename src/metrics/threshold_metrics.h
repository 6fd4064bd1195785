#pragma once
// Metrics of binary calls made at one threshold per class (a record is called positive for class k when its score
// is >= threshold[k]): per-class F1, F2 and G2 with their macro means, Hamming loss and subset accuracy.
// Convention for an empty class (no positive label and no positive call: TP + FP + FN = 0): F-beta and G-beta are
// undefined (NaN, as scikit-learn with zero_division=nan and the Challenge script) and the macro means leave the
// class out, counting it.
#include <cstdint>
#include <span>
#include <vector>

#include "metrics/matrix.h"
#include "metrics/ranking.h"

namespace agf::metrics {

struct Confusion {
  int64_t tp = 0;
  int64_t fp = 0;
  int64_t fn = 0;
  int64_t tn = 0;
};

Confusion confusion(std::span<const uint8_t> labels, std::span<const uint8_t> predictions);

// (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP); NaN when TP + FP + FN = 0.
double f_beta(const Confusion& c, double beta);
// The Challenge 2020 G-measure: TP / (TP + FP + b FN); NaN when TP + FP + FN = 0.
double g_beta(const Confusion& c, double beta);

// predictions(r, k) = scores(r, k) >= thresholds[k].
HostMatrix<uint8_t> binarize(const ScoreView& scores, std::span<const double> thresholds);

struct ThresholdMetrics {
  std::vector<double> thresholds;  // per class
  std::vector<Confusion> confusion;
  std::vector<double> f1, f2, g2;  // per class, NaN for an empty class
  MacroMean macro_f1, macro_f2, macro_g2;
  double hamming_loss = 0.0;
  double subset_accuracy = 0.0;
};

ThresholdMetrics threshold_metrics(const LabelView& labels, const ScoreView& scores,
                                   std::span<const double> thresholds);

}  // namespace agf::metrics
