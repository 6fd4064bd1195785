#pragma once
// The other quantities of the official Challenge 2021 evaluation script, computed its way (which is not always
// scikit-learn's): AUROC and AUPRC from its own threshold sweep, record accuracy and macro F-measure.
#include <vector>

#include "metrics/matrix.h"
#include "metrics/ranking.h"

namespace agf::metrics {

// Per class, the script sweeps the class's distinct scalar outputs from the highest down, starting from "nothing
// called positive"; at each point TPR = TP/(TP+FN), TNR = TN/(TN+FP), PPV = TP/(TP+FP), each NaN where its
// denominator is 0. AUROC = sum of 0.5 (TPR[j+1] - TPR[j]) (TNR[j+1] + TNR[j]) (trapezoids of TNR over TPR) and
// AUPRC = sum of (TPR[j+1] - TPR[j]) PPV[j+1]. So a class with no positive label has NaN AUROC and AUPRC, a class
// with no negative label NaN AUROC (its AUPRC is 1); the macro values are the mean over the non-NaN classes (NaN
// when there is none), the script's nanmean.
struct OfficialAuc {
  std::vector<double> auroc;  // per class
  std::vector<double> auprc;
  MacroMean macro_auroc;
  MacroMean macro_auprc;
};
OfficialAuc official_auc(const LabelView& labels, const ScoreView& scalar_outputs);

// Fraction of records whose binary outputs equal their labels over every scored class.
double official_accuracy(const LabelView& labels, const LabelView& binary_outputs);

// Per class 2 TP / (2 TP + FP + FN), NaN when that denominator is 0 (no label and no output in the class); the
// macro F-measure is the nanmean.
struct OfficialFMeasure {
  std::vector<double> per_class;
  MacroMean macro;
};
OfficialFMeasure official_f_measure(const LabelView& labels, const LabelView& binary_outputs);

}  // namespace agf::metrics
