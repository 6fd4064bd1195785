#pragma once
// Ranking metrics of one class and their macro means over classes: AUROC and average precision.
// A class whose labels are all 0 or all 1 carries no ranking information: both metrics are undefined (NaN) for it
// and the macro means leave it out, counting how many were left out. (scikit-learn refuses such a class for
// AUROC and gives AP = 1 to an all-positive one whatever the scores; a constant 1 would only inflate mAP.)
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "metrics/matrix.h"

namespace agf::metrics {

inline constexpr double kUndefined = std::numeric_limits<double>::quiet_NaN();

// Area under the ROC curve as the Mann-Whitney statistic: (sum of the positives' ranks - P(P+1)/2) / (P N), ranks
// counted from the lowest score, tied scores sharing their average rank (a tied positive-negative pair counts 1/2).
double auroc(std::span<const double> scores, std::span<const uint8_t> labels);

// Average precision as scikit-learn's average_precision_score: sum over the distinct scores, highest first, of
// (R_n - R_{n-1}) P_n, where R_n and P_n are the recall and precision of calling every record scoring >= the n-th
// distinct score positive (a group of tied scores enters at once).
double average_precision(std::span<const double> scores, std::span<const uint8_t> labels);

// Mean of the defined (non-NaN) values; NaN when none is defined.
struct MacroMean {
  double value = kUndefined;
  int64_t classes_used = 0;
  int64_t classes_left_out = 0;  // undefined per-class values
};
MacroMean macro_mean(std::span<const double> per_class);

struct RankingMetrics {
  std::vector<int64_t> n_positive;  // per class
  std::vector<int64_t> n_negative;
  std::vector<double> auroc;              // per class, NaN when undefined
  std::vector<double> average_precision;  // per class, NaN when undefined
  MacroMean macro_auroc;
  MacroMean mean_average_precision;  // mAP, the early-stopping metric
};

// Every class (column) of an (N, K) label matrix against the scores of the same shape.
RankingMetrics ranking_metrics(const LabelView& labels, const ScoreView& scores);

}  // namespace agf::metrics
