#include "fusion/run_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "metrics/class_table.h"
#include "metrics/metrics_json.h"
#include "plot/chart.h"

namespace agf::fusion {

namespace {

double mib(double bytes) { return bytes / 1048576.0; }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Per phase over every step: the highest ledger peak and the median seconds.
nlohmann::json phase_figures(const std::vector<nlohmann::json>& steps, int64_t* step_peak) {
  std::map<std::string, std::pair<int64_t, std::vector<double>>> per;
  for (const auto& s : steps) {
    *step_peak = std::max<int64_t>(*step_peak, s.value("peak_bytes", int64_t{0}));
    if (!s.contains("phases")) continue;
    for (const auto& [name, p] : s["phases"].items()) {
      auto& e = per[name];
      e.first = std::max<int64_t>(e.first, p.value("peak", int64_t{0}));
      e.second.push_back(p.value("s", 0.0));
    }
  }
  nlohmann::json out = nlohmann::json::object();
  for (auto& [name, e] : per) out[name] = {{"peak_bytes", e.first}, {"median_seconds", median(e.second)}};
  return out;
}

double macro_value(const nlohmann::json& report, const char* key) {
  if (!report.contains("macro") || !report["macro"].contains(key)) return NAN;
  const auto& v = report["macro"][key];
  if (v.is_object()) return v.contains("value") && v["value"].is_number() ? v["value"].get<double>() : NAN;
  return v.is_number() ? v.get<double>() : NAN;
}

std::string fmt_metric(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : std::string("-"); }

}  // namespace

nlohmann::json write_run_report(RunFolder& folder, const RunSummary& s) {
  const std::vector<nlohmann::json> steps = folder.read_log("steps.jsonl");
  const std::vector<nlohmann::json> vals = folder.read_log("validation.jsonl");
  int64_t step_peak = 0;
  std::vector<double> seconds;
  for (const auto& st : steps) seconds.push_back(st.value("seconds", 0.0));
  nlohmann::json report = {
      {"mode", s.config.value("mode", "")},
      {"preset", s.config.value("preset", "")},
      {"steps", s.steps_done},
      {"planned_steps", s.planned_steps},
      {"stopped_early", s.stopped_early},
      {"best_step", s.best_step},
      {"best_val_map", metrics::json_number(s.best_step >= 0 ? s.best_val_map : NAN)},
      {"parameters", s.parameters},
      {"trainable_parameters", s.trainable},
      {"perturbed_parameters", s.perturbed},
      {"param_bytes", s.param_bytes},
      {"median_step_seconds", median(seconds)},
      {"seconds_this_invocation", s.seconds_this_invocation},
      {"phases", phase_figures(steps, &step_peak)},
      {"step_peak_bytes", step_peak},
      {"notes", s.notes},
      {"config", s.config},
  };
  if (s.val) report["val"] = s.val->to_json();
  if (s.test) report["test"] = s.test->to_json();
  folder.write_json("report.json", report);

  // report.md: the figures a reader looks for first, then the per-class test table.
  std::string md = fmt::format("# Run report: {} {}\n\n", report["mode"].get<std::string>(),
                               report["preset"].get<std::string>());
  md += "| figure | value |\n|---|---|\n";
  md += fmt::format("| steps | {} of {}{} |\n", s.steps_done, s.planned_steps,
                    s.stopped_early ? " (stopped early)" : "");
  md += fmt::format("| best validation mAP | {} (step {}) |\n", fmt_metric(s.best_step >= 0 ? s.best_val_map : NAN),
                    s.best_step);
  if (s.test) {
    const nlohmann::json t = s.test->to_json();
    md += fmt::format("| test macro AUROC | {} |\n| test mAP | {} |\n| test macro F2 | {} |\n",
                      fmt_metric(macro_value(t, "auroc")), fmt_metric(macro_value(t, "map")),
                      fmt_metric(macro_value(t, "f2")));
    if (t.contains("challenge") && t["challenge"].value("computed", false))
      md += fmt::format("| test Challenge score (dataset's classes) | {} |\n",
                        fmt_metric(t["challenge"].value("challenge_score", NAN)));
  }
  md += fmt::format("| parameters / trainable / perturbed | {} / {} / {} |\n", s.parameters, s.trainable, s.perturbed);
  md += fmt::format("| step peak memory (ledger) | {:.1f} MiB |\n", mib(static_cast<double>(step_peak)));
  md += fmt::format("| median step time | {:.3f} s |\n\n", median(seconds));
  md += "Peak memory and median time per phase (ledger, all tags):\n\n| phase | peak MiB | median s |\n|---|---|---|\n";
  // In the order a step runs them.
  for (const char* name : {"zo/perturb+", "zo/forward+", "zo/perturb-", "zo/forward-", "zo/restore", "fo/forward",
                           "fo/backward", "head/full", "update"}) {
    if (!report["phases"].contains(name)) continue;
    const auto& p = report["phases"][name];
    md += fmt::format("| {} | {:.1f} | {:.4f} |\n", name, mib(p["peak_bytes"].get<double>()),
                      p["median_seconds"].get<double>());
  }
  if (s.test) md += "\nTest split, thresholds chosen on validation to maximise F2:\n\n```\n" +
                    metrics::format_class_table(s.test->report) + "```\n";
  for (const auto& n : s.notes) md += "\nNote: " + n + "\n";
  md += "\nPlots: loss.png (training loss), val_map.png (validation mAP and macro AUROC).\n";
  folder.write_text("report.md", md);

  plot::LineChart loss{"training loss", "step", "loss", {}, false};
  plot::Series batch_loss{"loss", {}, {}};
  for (const auto& st : steps) {
    batch_loss.x.push_back(st.value("step", 0.0));
    batch_loss.y.push_back(st.value("loss", NAN));
  }
  loss.series.push_back(batch_loss);
  if (!steps.empty()) plot::write_png(loss, folder.file("loss.png"));
  plot::LineChart map{"validation", "step", "", {}, false};
  plot::Series m{"mAP", {}, {}}, a{"macro AUROC", {}, {}};
  for (const auto& v : vals) {
    const double x = v.value("step", 0.0);
    m.x.push_back(x);
    m.y.push_back(v["val_map"].is_number() ? v["val_map"].get<double>() : NAN);
    a.x.push_back(x);
    a.y.push_back(v["val_macro_auroc"].is_number() ? v["val_macro_auroc"].get<double>() : NAN);
  }
  map.series = {m, a};
  if (!vals.empty()) plot::write_png(map, folder.file("val_map.png"));
  return report;
}

}  // namespace agf::fusion
