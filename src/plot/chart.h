#pragma once
// PNG charts for run reports and benchmarks: line charts (training loss, validation mAP over steps; memory against
// batch size) and bar charts (peak memory per mode), drawn by PLplot's cairo driver (Debian's libplplot-dev +
// plplot-driver-cairo). The file is written under a temporary name and renamed when complete, like every output.
#include <filesystem>
#include <string>
#include <vector>

namespace agf::plot {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; non-finite points are left out
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;  // up to 8, each its own colour, with a legend when there are several
  bool log_y = false;          // y on a log10 axis (values <= 0 are left out)
  bool log_x = false;          // x on a log10 axis (values <= 0 are left out): batch sweeps 8, 16, ..., 256
  bool legend_left = false;    // the legend in the top-left corner (curves that rise to the right) instead of right
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> labels;
  std::vector<double> values;  // one per label, >= 0
};

void write_png(const LineChart& chart, const std::filesystem::path& path, int width = 960, int height = 600);
void write_png(const BarChart& chart, const std::filesystem::path& path, int width = 960, int height = 600);

}  // namespace agf::plot
