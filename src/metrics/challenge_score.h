#pragma once
// The Challenge 2021 score, computed as the official evaluation script computes it.
#include <span>
#include <vector>

#include "metrics/challenge_classes.h"
#include "metrics/matrix.h"

namespace agf::metrics {

// The script's "modified confusion matrix" (K x K row-major): for each record, with n = max(1, |labels ∪ outputs|)
// over the scored classes, A[j][k] += 1/n for every labelled class j and every output class k.
std::vector<double> modified_confusion(const LabelView& labels, const LabelView& outputs);

// sum over (j, k) of W[j][k] * A[j][k], NaN products skipped (the script's nansum).
double weighted_score(std::span<const double> weights, const LabelView& labels, const LabelView& outputs);

struct ChallengeScore {
  double observed = 0.0;  // the outputs
  double correct = 0.0;   // outputs equal to the labels
  double inactive = 0.0;  // every record outputs the normal class alone
  // (observed - inactive) / (correct - inactive); 0 when correct == inactive, as the script.
  double normalized = 0.0;
};

ChallengeScore challenge_score(const ChallengeClasses& classes, const LabelView& labels, const LabelView& outputs);

}  // namespace agf::metrics
