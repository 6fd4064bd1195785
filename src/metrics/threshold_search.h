#pragma once
// Per-class decision thresholds chosen on a validation set to maximise F-beta (F2 by default).
//
// Candidates are the class's distinct validation scores; threshold t calls positive every record scoring >= t, so
// records with tied scores always fall on the same side. Among candidates reaching the best F-beta the highest
// threshold wins (the fewest positive calls for the same score). A class with no positive label in validation has
// F-beta 0 or undefined at every threshold: it gets `fallback` (0.5, meant for probabilities) and is flagged.
#include <cstdint>
#include <span>
#include <vector>

#include "metrics/matrix.h"

namespace agf::metrics {

inline constexpr double kDefaultThreshold = 0.5;

struct ThresholdChoice {
  double threshold = kDefaultThreshold;
  double f_beta = 0.0;     // on the validation set at that threshold; NaN when fallen back
  bool fallback = false;   // no positive label: the default threshold was used
};

ThresholdChoice best_threshold(std::span<const double> scores, std::span<const uint8_t> labels, double beta = 2.0,
                               double fallback = kDefaultThreshold);

std::vector<ThresholdChoice> choose_thresholds(const LabelView& labels, const ScoreView& scores, double beta = 2.0,
                                               double fallback = kDefaultThreshold);

// Just the thresholds, in class order (what threshold_metrics takes).
std::vector<double> thresholds_of(const std::vector<ThresholdChoice>& choices);

}  // namespace agf::metrics
