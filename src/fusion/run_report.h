#pragma once
// The end of a run: report.json (the run's headline figures, its test and validation metrics, memory and time per
// phase read back from steps.jsonl), report.md (the same for people, with the per-class table), and the PNG plots of
// the training loss and of the validation mAP over the steps.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "fusion/evaluation.h"
#include "fusion/run_folder.h"

namespace agf::fusion {

struct RunSummary {
  nlohmann::json config;
  int64_t steps_done = 0, planned_steps = 0, best_step = -1;
  bool stopped_early = false;
  double best_val_map = 0.0;
  double seconds_this_invocation = 0.0;
  int64_t parameters = 0, trainable = 0, perturbed = 0, param_bytes = 0;
  std::vector<std::string> class_names, notes;
  std::optional<SplitReport> val, test;  // of the best network; thresholds chosen on val
};

// Writes report.json, report.md, loss.png and val_map.png into the folder; returns the report.
nlohmann::json write_run_report(RunFolder& folder, const RunSummary& s);

}  // namespace agf::fusion
