#pragma once
// Everything the official Challenge 2021 evaluation script reports, from records in class order.
#include <span>
#include <string>
#include <vector>

#include "metrics/challenge_classes.h"
#include "metrics/challenge_official.h"
#include "metrics/challenge_score.h"

namespace agf::metrics {

struct ChallengeEvaluation {
  std::vector<std::string> classes;  // the class keys
  int64_t records = 0;
  ChallengeScore score;
  OfficialAuc auc;
  double accuracy = 0.0;
  OfficialFMeasure f_measure;
};

ChallengeEvaluation evaluate_challenge(const ChallengeClasses& classes, std::span<const ChallengeRecord> records);

// The same from (N, K) matrices in class order: labels, binary outputs, scalar outputs (finite).
ChallengeEvaluation evaluate_challenge(const ChallengeClasses& classes, const LabelView& labels,
                                       const LabelView& binary_outputs, const ScoreView& scalar_outputs);

}  // namespace agf::metrics
