#pragma once
// A compact per-class text table of a MetricsReport, for logs and the console.
#include <string>

#include "metrics/report.h"

namespace agf::metrics {

// One row per class: class, n_pos, AUROC, AP, threshold, F1, F2, G2 (undefined values shown as "-"), then the
// macro row and, when some classes were left out of the macro means, how many for each metric.
std::string format_class_table(const MetricsReport& report);

}  // namespace agf::metrics
