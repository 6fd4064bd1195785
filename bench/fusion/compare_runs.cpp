// agf-compare-runs: several training runs side by side, read from their run folders: a Markdown table of their
// reports (test macro AUROC and mAP, ledger peak, median step time, trainable parameters) and one chart of a curve.
//   agf-compare-runs --metric loss --smooth 10 --out curves.png fusion=runs/fusion bp=runs/bp zo=runs/zo
// loss: each step's training loss (steps.jsonl), as a moving average over --smooth steps; val_map / val_auroc: the
// validations (validation.jsonl).
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <deque>
#include <fstream>

#include "app_main.h"
#include "plot/chart.h"

using namespace agf;

namespace {

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  AGF_CHECK(in.good(), "{} cannot be read (is it a run folder?)", path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

plot::Series series_of(const std::string& label, const std::string& dir, const std::string& metric, int64_t smooth) {
  plot::Series s{label, {}, {}};
  if (metric == "loss") {
    std::deque<double> window;
    double sum = 0.0;
    for (const auto& j : read_lines(dir + "/steps.jsonl")) {
      const double v = j.value("loss", NAN);
      window.push_back(v);
      sum += v;
      if (static_cast<int64_t>(window.size()) > smooth) {
        sum -= window.front();
        window.pop_front();
      }
      s.x.push_back(j.value("step", 0.0) + 1.0);
      s.y.push_back(sum / static_cast<double>(window.size()));
    }
    return s;
  }
  const char* key = metric == "val_map" ? "val_map" : "val_macro_auroc";
  for (const auto& j : read_lines(dir + "/validation.jsonl")) {
    s.x.push_back(j.value("step", 0.0));
    s.y.push_back(j[key].is_number() ? j[key].get<double>() : NAN);
  }
  return s;
}

double macro(const nlohmann::json& report, const char* split, const char* key) {
  if (!report.contains(split)) return NAN;
  const auto& v = report[split]["macro"][key]["value"];
  return v.is_number() ? v.get<double>() : NAN;
}

std::string table(const std::vector<std::pair<std::string, std::string>>& runs) {
  std::string t =
      "| run | mode | steps | test macro AUROC | test mAP | step peak (ledger) | median s/step | trainable |\n"
      "|---|---|---|---|---|---|---|---|\n";
  for (const auto& [label, dir] : runs) {
    std::ifstream in(dir + "/report.json");
    AGF_CHECK(in.good(), "{}/report.json cannot be read (has the run finished?)", dir);
    const nlohmann::json r = nlohmann::json::parse(in);
    t += fmt::format("| {} | {} | {} | {:.4f} | {:.4f} | {:.1f} MiB | {:.3f} | {} |\n", label,
                     r.value("mode", ""), r.value("steps", 0), macro(r, "test", "auroc"), macro(r, "test", "map"),
                     r.value("step_peak_bytes", 0.0) / 1048576.0, r.value("median_step_seconds", 0.0),
                     r.value("trainable_parameters", 0));
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"agf-compare-runs: training runs side by side: a Markdown table of their reports and a PNG chart",
               "agf-compare-runs"};
  app::configure(cli);
  std::string metric = "loss", out, title;
  int64_t smooth = 1;
  std::vector<std::string> runs;
  cli.add_option("--metric", metric, "loss (training loss per step), val_map or val_auroc")
      ->check(CLI::IsMember({"loss", "val_map", "val_auroc"}));
  cli.add_option("--smooth", smooth, "moving average over this many steps (loss)")->check(app::integer_in(1, 100000));
  cli.add_option("--title", title, "chart title");
  cli.add_option("--out", out, "the PNG chart to write");
  cli.add_option("runs", runs, "LABEL=RUN_FOLDER, one per curve")->required();
  return app::run_app(cli, argc, argv, [&] {
    std::vector<std::pair<std::string, std::string>> labelled;
    for (const std::string& r : runs) {
      const auto eq = r.find('=');
      app::usage_check(eq != std::string::npos && eq > 0, "'{}': give runs as LABEL=RUN_FOLDER", r);
      labelled.emplace_back(r.substr(0, eq), r.substr(eq + 1));
    }
    fmt::print("{}", table(labelled));
    if (out.empty()) return;
    plot::LineChart chart{title.empty() ? metric : title, "step",
                          metric == "loss" ? fmt::format("training loss ({}-step mean)", smooth) : metric, {}, false};
    for (const auto& [label, dir] : labelled) chart.series.push_back(series_of(label, dir, metric, smooth));
    plot::write_png(chart, out);
    fmt::print("chart: {}\n", out);
  });
}
