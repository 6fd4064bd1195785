#pragma once
// The experiment's results folder: per dataset a Markdown and a JSON table of its runs (test macro AUROC, mAP,
// Challenge score, ledger peaks per phase, s/step, trainable parameters) and of teacher vs student at inference, a bar
// chart of the peak memory per run and a chart of the validation mAP over steps; summary.md with every dataset and
// the targets' verdicts.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/experiment.h"

namespace agf::pipeline {

struct RunResult {
  std::string label;             // fusion, bp_lora, zo, fo_micro, student, ...
  std::filesystem::path dir;     // its run folder (validation.jsonl for the chart)
  nlohmann::json report;         // its report.json
};

struct DatasetResults {
  std::string name, data;
  std::vector<RunResult> runs;
  std::string teacher_label;     // the run the student learnt from (empty: no student)
  nlohmann::json inference;      // {"teacher": probe, "student": probe} (null: no student)
};

// The targets of the pipeline, each a line saying whether it holds (fusion within 0.01 macro AUROC of bp LoRA, fusion
// peak at most 1/4 of bp LoRA's, student within 0.03 of its teacher), for the runs a dataset has.
std::vector<std::pair<std::string, bool>> dataset_checks(const DatasetResults& d);

// Writes results/<name>.md, .json, <name>_memory.png, <name>_val_map.png and results/summary.md (atomically).
ExperimentResult write_results(const std::filesystem::path& dir, const std::vector<DatasetResults>& datasets);

}  // namespace agf::pipeline
