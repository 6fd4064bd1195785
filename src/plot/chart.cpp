#include "plot/chart.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace agf::plot {

namespace {

// PLplot keeps global state and, left alone, calls exit() on its errors: one chart at a time, and its errors
// become ours.
std::mutex g_plplot;
thread_local std::string t_plplot_error;
int on_plplot_error(PLCHAR_VECTOR message) {
  t_plplot_error = message ? message : "unknown PLplot error";
  throw Error("PLplot: " + t_plplot_error);
}

// Opens a PLplot stream drawing a white-background PNG of width x height into `file`, closes it on scope exit.
class PngStream {
 public:
  PngStream(const std::filesystem::path& file, int width, int height) {
    plsexit(on_plplot_error);
    plsdev("pngcairo");
    plsfnam(file.c_str());
    plspage(0, 0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plinit();
    open_ = true;
  }
  ~PngStream() {
    if (open_) plend1();
  }
  void close() {
    plend1();
    open_ = false;
  }

 private:
  bool open_ = false;
};

// Distinct colours on white (PLplot's colour map 0 indices, re-mapped to a readable palette).
void set_palette() {
  // Index 0 is the background (and the legend box's), 1 the axes and text, 2.. the series.
  static const int rgb[][3] = {{255, 255, 255}, {0, 0, 0},    {31, 119, 180}, {214, 39, 40},  {44, 160, 44},
                               {255, 127, 14}, {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127}};
  plscmap0n(16);
  for (int i = 0; i < 10; ++i) plscol0(i, rgb[i][0], rgb[i][1], rgb[i][2]);
}

void check_size(int width, int height) {
  AGF_CHECK(width >= 64 && height >= 64 && width <= 8192 && height <= 8192, "chart size {}x{} outside 64..8192",
            width, height);
}

}  // namespace

void write_png(const LineChart& chart, const std::filesystem::path& path, int width, int height) {
  check_size(width, height);
  AGF_CHECK(!chart.series.empty() && chart.series.size() <= 8, "line chart '{}': {} series (1 to 8)", chart.title,
            chart.series.size());
  // The points that can be drawn, per series, and the box around all of them.
  std::vector<std::vector<PLFLT>> xs(chart.series.size()), ys(chart.series.size());
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const Series& se = chart.series[s];
    AGF_CHECK(se.x.size() == se.y.size(), "line chart '{}': series '{}' has {} x and {} y values", chart.title,
              se.name, se.x.size(), se.y.size());
    for (size_t i = 0; i < se.x.size(); ++i) {
      double x = se.x[i], y = se.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (chart.log_y && y <= 0) || (chart.log_x && x <= 0)) continue;
      if (chart.log_y) y = std::log10(y);
      if (chart.log_x) x = std::log10(x);
      xs[s].push_back(x);
      ys[s].push_back(y);
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  AGF_CHECK(std::isfinite(x0), "line chart '{}': no finite point to draw", chart.title);
  if (x1 <= x0) x0 -= 0.5, x1 += 0.5;
  if (y1 <= y0) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  std::lock_guard lock(g_plplot);
  io::AtomicFile out(path);
  {
    PngStream stream(out.temp_path(), width, height);
    set_palette();
    plcol0(1);
    // 2: a grid; 20: log y; 12 / 32: log x / both, with a grid
    plenv(x0, x1, y0 - pad, y1 + pad, 0, chart.log_x ? (chart.log_y ? 32 : 12) : (chart.log_y ? 20 : 2));
    pllab(chart.x_label.c_str(), chart.y_label.c_str(), chart.title.c_str());
    std::vector<PLINT> colours, line_styles, opts;
    std::vector<PLFLT> widths;
    std::vector<const char*> names;
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const PLINT colour = static_cast<PLINT>(2 + s);
      plcol0(colour);
      plwidth(2.0);
      if (!xs[s].empty()) plline(static_cast<PLINT>(xs[s].size()), xs[s].data(), ys[s].data());
      // A few points (validations) are shown as markers too, so that the line between them is not read as data.
      if (!xs[s].empty() && xs[s].size() <= 40) plpoin(static_cast<PLINT>(xs[s].size()), xs[s].data(), ys[s].data(), 17);
      colours.push_back(colour);
      line_styles.push_back(1);
      widths.push_back(2.0);
      opts.push_back(PL_LEGEND_LINE);
      names.push_back(chart.series[s].name.c_str());
    }
    if (chart.series.size() > 1) {
      PLFLT legend_w, legend_h;
      const auto n = static_cast<PLINT>(names.size());
      std::vector<PLINT> zeros_i(names.size(), 0);
      std::vector<PLFLT> zeros_f(names.size(), 0.0);
      std::vector<const char*> no_symbols(names.size(), "");
      plcol0(1);
      const PLINT corner = PL_POSITION_TOP | (chart.legend_left ? PL_POSITION_LEFT : PL_POSITION_RIGHT);
      pllegend(&legend_w, &legend_h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, corner | PL_POSITION_INSIDE,
               0.02, 0.02, 0.1, 0, 1, 1, 0, 0, n, opts.data(), 1.0, 1.0, 1.5, 1.0,
               colours.data(), names.data(), zeros_i.data(), zeros_i.data(), zeros_f.data(), zeros_f.data(),
               colours.data(), line_styles.data(), widths.data(), zeros_i.data(), zeros_f.data(), zeros_i.data(),
               no_symbols.data());
    }
    stream.close();
  }
  out.commit();
}

void write_png(const BarChart& chart, const std::filesystem::path& path, int width, int height) {
  check_size(width, height);
  AGF_CHECK(!chart.values.empty() && chart.labels.size() == chart.values.size(),
            "bar chart '{}': {} labels for {} values", chart.title, chart.labels.size(), chart.values.size());
  double top = 0.0;
  for (double v : chart.values) {
    AGF_CHECK(std::isfinite(v) && v >= 0, "bar chart '{}': value {} is not a finite non-negative number",
              chart.title, v);
    top = std::max(top, v);
  }
  if (top == 0.0) top = 1.0;
  const auto n = static_cast<double>(chart.values.size());
  std::lock_guard lock(g_plplot);
  io::AtomicFile out(path);
  {
    PngStream stream(out.temp_path(), width, height);
    set_palette();
    plcol0(1);
    plenv(0.0, n, 0.0, top * 1.12, 0, -1);  // no axes drawn by plenv: a y axis with labels below
    plbox("bc", 0, 0, "bcnstv", 0, 0);
    pllab("", chart.y_label.c_str(), chart.title.c_str());
    for (size_t i = 0; i < chart.values.size(); ++i) {
      const double x = static_cast<double>(i);
      PLFLT bx[4] = {x + 0.15, x + 0.15, x + 0.85, x + 0.85}, by[4] = {0.0, chart.values[i], chart.values[i], 0.0};
      plcol0(static_cast<PLINT>(2 + i % 8));
      plfill(4, bx, by);
      plcol0(1);
      plline(4, bx, by);
      plmtex("b", 1.5, (x + 0.5) / n, 0.5, chart.labels[i].c_str());
      // One decimal for every bar of a chart in the tens or more (30.6, 123.9), three digits below; plptex centres
      // the text vertically on y, so y sits half a line above the bar.
      const std::string value =
          top >= 10.0 ? fmt::format("{:.1f}", chart.values[i]) : fmt::format("{:.3g}", chart.values[i]);
      plptex(x + 0.5, chart.values[i] + top * 0.045, 1.0, 0.0, 0.5, value.c_str());
    }
    stream.close();
  }
  out.commit();
}

}  // namespace agf::plot
