#include "metrics/challenge_official.h"

#include <algorithm>
#include <numeric>

#include "metrics/record_metrics.h"
#include "metrics/threshold_metrics.h"

namespace agf::metrics {

namespace {

double ratio_or_nan(int64_t num, int64_t den) {
  return den != 0 ? static_cast<double>(num) / static_cast<double>(den) : kUndefined;
}

struct SweepPoint {
  double tpr, tnr, ppv;
};

// The points of the script's sweep for one class: the first with nothing called positive, then one per distinct
// score, highest first, each calling positive every record scoring >= that score.
std::vector<SweepPoint> sweep(const std::vector<double>& scores, const std::vector<uint8_t>& labels) {
  int64_t positives = 0;
  for (uint8_t y : labels) positives += y;
  const int64_t negatives = static_cast<int64_t>(labels.size()) - positives;
  std::vector<size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  int64_t tp = 0, fp = 0;
  const auto point = [&] {
    return SweepPoint{ratio_or_nan(tp, positives), ratio_or_nan(negatives - fp, negatives), ratio_or_nan(tp, tp + fp)};
  };
  std::vector<SweepPoint> points{point()};
  for (size_t i = 0; i < idx.size();) {
    const double t = scores[idx[i]];
    for (; i < idx.size() && scores[idx[i]] == t; ++i) (labels[idx[i]] ? tp : fp) += 1;
    points.push_back(point());
  }
  return points;
}

}  // namespace

OfficialAuc official_auc(const LabelView& labels, const ScoreView& scalar_outputs) {
  check_labels(labels, "official AUROC/AUPRC");
  check_scores(scalar_outputs, "official AUROC/AUPRC");
  check_same_shape(labels, scalar_outputs.rows, scalar_outputs.cols, "official AUROC/AUPRC", "scalar outputs");
  OfficialAuc out;
  for (int64_t k = 0; k < labels.cols; ++k) {
    const std::vector<SweepPoint> p = sweep(scalar_outputs.column(k), labels.column(k));
    double auroc = 0.0, auprc = 0.0;  // NaN terms propagate, as in the script's sums
    for (size_t j = 0; j + 1 < p.size(); ++j) {
      auroc += 0.5 * (p[j + 1].tpr - p[j].tpr) * (p[j + 1].tnr + p[j].tnr);
      auprc += (p[j + 1].tpr - p[j].tpr) * p[j + 1].ppv;
    }
    out.auroc.push_back(auroc);
    out.auprc.push_back(auprc);
  }
  out.macro_auroc = macro_mean(out.auroc);
  out.macro_auprc = macro_mean(out.auprc);
  return out;
}

double official_accuracy(const LabelView& labels, const LabelView& binary_outputs) {
  return subset_accuracy(labels, binary_outputs);
}

OfficialFMeasure official_f_measure(const LabelView& labels, const LabelView& binary_outputs) {
  check_labels(labels, "official F-measure");
  check_labels(binary_outputs, "official F-measure");
  check_same_shape(labels, binary_outputs.rows, binary_outputs.cols, "official F-measure", "binary outputs");
  OfficialFMeasure out;
  for (int64_t k = 0; k < labels.cols; ++k) {
    const Confusion c = confusion(labels.column(k), binary_outputs.column(k));
    out.per_class.push_back(ratio_or_nan(2 * c.tp, 2 * c.tp + c.fp + c.fn));
  }
  out.macro = macro_mean(out.per_class);
  return out;
}

}  // namespace agf::metrics
