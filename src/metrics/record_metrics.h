#pragma once
// Metrics taken per record over all its classes, then averaged over records (scikit-learn's definitions).
#include "metrics/matrix.h"

namespace agf::metrics {

// Fraction of (record, class) cells whose prediction differs from the label.
double hamming_loss(const LabelView& labels, const LabelView& predictions);

// Fraction of records whose predictions equal their labels in every class (scikit-learn's accuracy_score on
// multi-label input).
double subset_accuracy(const LabelView& labels, const LabelView& predictions);

// label_ranking_loss: per record, the fraction of (positive class, negative class) pairs ranked wrongly, a tie
// counting as wrong (negative score >= positive score); a record whose labels are all 0 or all 1 scores 0 and
// still counts in the mean.
double label_ranking_loss(const LabelView& labels, const ScoreView& scores);

// coverage_error: per record, how many classes score >= its lowest-scoring positive class (1-based: a perfect
// ranking with one positive scores 1; ties count against); a record with no positive label scores 0.
double coverage_error(const LabelView& labels, const ScoreView& scores);

}  // namespace agf::metrics
