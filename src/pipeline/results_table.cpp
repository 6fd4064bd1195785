#include "pipeline/results_table.h"

#include <fmt/core.h>

#include <cmath>
#include <fstream>

#include "io/atomic_file.h"
#include "plot/chart.h"
#include "tensor/error.h"

namespace agf::pipeline {

namespace fs = std::filesystem;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double number(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : NAN; }
nlohmann::json json_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

double test_macro(const nlohmann::json& report, const char* key) {
  const nlohmann::json v = report.value(nlohmann::json::json_pointer(fmt::format("/test/macro/{}/value", key)),
                                        nlohmann::json());
  return number(v);
}

double challenge_score(const nlohmann::json& report) {
  const nlohmann::json c = report.value(nlohmann::json::json_pointer("/test/challenge"), nlohmann::json::object());
  return c.value("computed", false) ? number(c.value("challenge_score", nlohmann::json())) : NAN;
}

// The highest ledger peak among the phases whose name starts with `prefix` (zo/, fo/, update, teacher/).
double phase_peak(const nlohmann::json& report, const std::string& prefix) {
  double peak = NAN;
  if (!report.contains("phases")) return peak;
  for (const auto& [name, p] : report["phases"].items())
    if (name.starts_with(prefix)) {
      const double v = number(p.value("peak_bytes", nlohmann::json()));
      peak = std::isnan(peak) ? v : std::max(peak, v);
    }
  return peak;
}

std::string f4(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }
std::string mib(double bytes) { return std::isfinite(bytes) ? fmt::format("{:.1f}", bytes / kMiB) : "-"; }

const RunResult* find_run(const DatasetResults& d, const std::string& label) {
  for (const auto& r : d.runs)
    if (r.label == label) return &r;
  return nullptr;
}

std::vector<nlohmann::json> read_lines(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json run_row(const RunResult& r) {
  const auto& rep = r.report;
  return {{"run", r.label},
          {"mode", rep.value("mode", "")},
          {"preset", rep.value("preset", "")},
          {"test_macro_auroc", json_or_null(test_macro(rep, "auroc"))},
          {"test_map", json_or_null(test_macro(rep, "map"))},
          {"challenge_score", json_or_null(challenge_score(rep))},
          {"step_peak_bytes", rep.value("step_peak_bytes", int64_t{0})},
          {"phase_peak_bytes", {{"zo", json_or_null(phase_peak(rep, "zo/"))},
                                {"fo", json_or_null(phase_peak(rep, "fo/"))},
                                {"update", json_or_null(phase_peak(rep, "update"))},
                                {"teacher", json_or_null(phase_peak(rep, "teacher/"))}}},
          {"median_step_seconds", rep.value("median_step_seconds", 0.0)},
          {"steps", rep.value("steps", int64_t{0})},
          {"batch_size", rep["config"].value("batch_size", int64_t{0})},
          {"bp_batch", rep["config"].value("bp_batch", int64_t{0})},
          {"zo_chunk", rep["config"].value("zo_chunk", int64_t{0})},
          {"trainable_parameters", rep.value("trainable_parameters", int64_t{0})},
          {"parameters", rep.value("parameters", int64_t{0})}};
}

std::string dataset_markdown(const DatasetResults& d, const std::vector<std::pair<std::string, bool>>& checks) {
  std::string md = fmt::format("## {} ({})\n\n", d.name, d.data);
  md += "| run | preset | B / b | test macro AUROC | test mAP | Challenge score | step peak MiB | ZO pass MiB | "
        "FO pass MiB | teacher MiB | update MiB | s/step | trainable |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : d.runs) {
    const auto& rep = r.report;
    const std::string mode = rep.value("mode", "");
    const auto& cfg = rep["config"];
    const int64_t B = cfg.value("batch_size", int64_t{0}), b = cfg.value("bp_batch", int64_t{0}),
                  chunk = cfg.value("zo_chunk", int64_t{0});
    std::string batch = mode == "fusion" || mode == "fo_micro" ? fmt::format("{} / {}", B, b) : fmt::format("{}", B);
    if (chunk > 0 && (mode == "fusion" || mode == "zo")) batch += fmt::format(", ZO in chunks of {}", chunk);
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.3f} | {} |\n", r.label,
                      rep.value("preset", ""), batch, f4(test_macro(rep, "auroc")), f4(test_macro(rep, "map")),
                      f4(challenge_score(rep)), mib(number(rep["step_peak_bytes"])), mib(phase_peak(rep, "zo/")),
                      mib(phase_peak(rep, "fo/")), mib(phase_peak(rep, "teacher/")), mib(phase_peak(rep, "update")),
                      rep.value("median_step_seconds", 0.0), rep.value("trainable_parameters", int64_t{0}));
  }
  if (!d.inference.is_null()) {
    md += fmt::format("\nInference, teacher ({}) vs student (NoGrad forward of {} record(s) of {} samples; ledger peak "
                      "with the weights):\n\n| network | preset | leads | parameters | ms / record | peak MiB | "
                      "activations MiB |\n|---|---|---|---|---|---|---|\n",
                      d.teacher_label, d.inference["teacher"].value("batch", 0), d.inference["teacher"].value("length", 0));
    for (const char* who : {"teacher", "student"}) {
      const auto& p = d.inference[who];
      md += fmt::format("| {} | {} | {} | {} | {:.2f} | {} | {} |\n", who, p.value("preset", ""),
                        p.value("input_leads", ""), p.value("parameters", int64_t{0}), p.value("ms_per_record", 0.0),
                        mib(number(p["peak_bytes"])), mib(number(p["activation_peak_bytes"])));
    }
  }
  if (!checks.empty()) {
    md += "\n";
    for (const auto& [line, ok] : checks) md += fmt::format("- {}: {}\n", ok ? "holds" : "does NOT hold", line);
  }
  return md;
}

}  // namespace

std::vector<std::pair<std::string, bool>> dataset_checks(const DatasetResults& d) {
  std::vector<std::pair<std::string, bool>> out;
  const RunResult* fusion = find_run(d, "fusion");
  const RunResult* bp = find_run(d, "bp_lora");
  if (fusion && bp) {
    const double a = test_macro(fusion->report, "auroc"), b = test_macro(bp->report, "auroc");
    out.emplace_back(fmt::format("fusion within 0.01 macro AUROC of bp LoRA ({} vs {}, difference {:+.4f})", f4(a),
                                 f4(b), a - b),
                     a >= b - 0.01);
    const double pf = number(fusion->report["step_peak_bytes"]), pb = number(bp->report["step_peak_bytes"]);
    out.emplace_back(fmt::format("fusion peak memory at most 1/4 of bp LoRA's at the same batch ({} vs {} MiB: 1/{:.2f})",
                                 mib(pf), mib(pb), pb / pf),
                     pf * 4 <= pb);
  }
  const RunResult* student = find_run(d, "student");
  const RunResult* teacher = d.teacher_label.empty() ? nullptr : find_run(d, d.teacher_label);
  if (student && teacher) {
    const double s = test_macro(student->report, "auroc"), t = test_macro(teacher->report, "auroc");
    out.emplace_back(fmt::format("student within 0.03 macro AUROC of its teacher ({}: {} vs {}, difference {:+.4f})",
                                 d.teacher_label, f4(s), f4(t), s - t),
                     s >= t - 0.03);
  }
  return out;
}

ExperimentResult write_results(const fs::path& dir, const std::vector<DatasetResults>& datasets) {
  std::error_code err;
  fs::create_directories(dir, err);
  AGF_CHECK(!err, "cannot create {}: {}", dir.string(), err.message());
  ExperimentResult res;
  std::string summary = "# Experiment results\n\n";
  nlohmann::json all = nlohmann::json::object();
  for (const auto& d : datasets) {
    const auto checks = dataset_checks(d);
    const std::string md = dataset_markdown(d, checks);
    nlohmann::json j = {{"dataset", d.name}, {"data", d.data}, {"runs", nlohmann::json::array()},
                        {"inference", d.inference}, {"checks", nlohmann::json::array()}};
    for (const auto& r : d.runs) j["runs"].push_back(run_row(r));
    for (const auto& [line, ok] : checks) {
      j["checks"].push_back({{"check", line}, {"holds", ok}});
      res.checks.push_back(fmt::format("{}: {}: {}", d.name, ok ? "holds" : "does NOT hold", line));
      res.all_checks_hold = res.all_checks_hold && ok;
    }
    io::write_file_atomically(dir / (d.name + ".md"), md);
    io::write_file_atomically(dir / (d.name + ".json"), j.dump(2) + "\n");
    res.tables.push_back(dir / (d.name + ".md"));
    all[d.name] = j;
    summary += md + "\n";

    plot::BarChart bars;
    bars.title = fmt::format("{}: peak memory of a training step (ledger)", d.name);
    bars.y_label = "MiB";
    for (const auto& r : d.runs) {
      bars.labels.push_back(r.label);
      bars.values.push_back(number(r.report["step_peak_bytes"]) / kMiB);
    }
    plot::write_png(bars, dir / (d.name + "_memory.png"));
    plot::LineChart curves;
    curves.title = fmt::format("{}: validation mAP", d.name);
    curves.x_label = "step";
    curves.y_label = "validation mAP";
    curves.legend_left = true;  // the curves rise to the right: the top-left corner is the free one
    for (const auto& r : d.runs) {
      plot::Series s{r.label, {}, {}};
      for (const auto& v : read_lines(r.dir / "validation.jsonl")) {
        s.x.push_back(v.value("step", 0.0));
        s.y.push_back(v["val_map"].is_number() ? v["val_map"].get<double>() : NAN);
      }
      curves.series.push_back(std::move(s));
    }
    plot::write_png(curves, dir / (d.name + "_val_map.png"));
    res.plots.push_back(dir / (d.name + "_memory.png"));
    res.plots.push_back(dir / (d.name + "_val_map.png"));
  }
  io::write_file_atomically(dir / "summary.md", summary);
  io::write_file_atomically(dir / "summary.json", all.dump(2) + "\n");
  res.summary = dir / "summary.md";
  return res;
}

}  // namespace agf::pipeline
