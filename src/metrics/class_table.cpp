#include "metrics/class_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace agf::metrics {

namespace {

std::string cell(double v, int width, int decimals) {
  if (std::isnan(v)) return fmt::format("{:>{}}", "-", width);
  return fmt::format("{:>{}.{}f}", v, width, decimals);
}

}  // namespace

std::string format_class_table(const MetricsReport& r) {
  size_t name_width = 5;
  for (const std::string& c : r.classes) name_width = std::max(name_width, c.size());
  const RankingMetrics& rk = r.ranking;
  const ThresholdMetrics& th = r.at_thresholds;
  std::string out = fmt::format("{:<{}} {:>6} {:>7} {:>7} {:>9} {:>7} {:>7} {:>7}\n", "class", name_width, "n_pos",
                                "AUROC", "AP", "threshold", "F1", "F2", "G2");
  for (size_t k = 0; k < r.classes.size(); ++k)
    out += fmt::format("{:<{}} {:>6} {} {} {} {} {} {}\n", r.classes[k], name_width, rk.n_positive[k],
                       cell(rk.auroc[k], 7, 4), cell(rk.average_precision[k], 7, 4), cell(th.thresholds[k], 9, 4),
                       cell(th.f1[k], 7, 4), cell(th.f2[k], 7, 4), cell(th.g2[k], 7, 4));
  out += fmt::format("{:<{}} {:>6} {} {} {:>9} {} {} {}\n", "macro", name_width, "", cell(rk.macro_auroc.value, 7, 4),
                     cell(rk.mean_average_precision.value, 7, 4), "", cell(th.macro_f1.value, 7, 4),
                     cell(th.macro_f2.value, 7, 4), cell(th.macro_g2.value, 7, 4));
  const int64_t left_out = rk.macro_auroc.classes_left_out + rk.mean_average_precision.classes_left_out +
                           th.macro_f1.classes_left_out + th.macro_f2.classes_left_out + th.macro_g2.classes_left_out;
  if (left_out > 0)
    out += fmt::format("left out of the macro means (undefined): AUROC {}, AP {}, F1 {}, F2 {}, G2 {} of {} classes\n",
                       rk.macro_auroc.classes_left_out, rk.mean_average_precision.classes_left_out,
                       th.macro_f1.classes_left_out, th.macro_f2.classes_left_out, th.macro_g2.classes_left_out,
                       r.classes.size());
  out += fmt::format("hamming loss {:.4f}  subset accuracy {:.4f}  ranking loss {:.4f}  coverage error {:.4f}\n",
                     th.hamming_loss, th.subset_accuracy, r.label_ranking_loss, r.coverage_error);
  return out;
}

}  // namespace agf::metrics
