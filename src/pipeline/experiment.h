#pragma once
// The reference's recipe as one resumable run (agf-experiment): pretrain a teacher (or start from a given backbone),
// fine-tune it on each dataset in each mode, distil a student from one of those teachers, measure the inference
// latency and memory of teacher and student, and tabulate everything per dataset.
//
// Every stage is a training run of the one trainer in its own folder under `out`:
//   out/pretrain/                   the teacher's pretraining (backbone.safetensors: what the fine-tuning loads)
//   out/<dataset>/<mode>/           one fine-tuning run per mode (bp with r > 0 is named bp_lora)
//   out/<dataset>/student/          the distillation from out/<dataset>/<distill_from>/best.safetensors
//   out/<dataset>/inference.json    teacher vs student: latency and ledger peak of a forward
//   out/results/                    <dataset>.md / .json, summary.md, <dataset>_memory.png, <dataset>_val_map.png
// A stage whose report.json exists is done and is not run again; one with a checkpoint (an interrupted run) resumes
// from it bit for bit; one without is started afresh. Running an interrupted experiment again therefore ends with the
// table an uninterrupted one would have (the timing columns aside).
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace agf::pipeline {

struct ExperimentConfig {
  std::filesystem::path out = "runs/experiment";
  nlohmann::json pretrain;  // training keys of the pretraining stage (data, preset, steps, ...); null: none
  std::string backbone;     // the teacher backbone without a pretraining stage
  std::vector<std::pair<std::string, std::string>> datasets;  // name -> prepared dataset file (.h5)
  std::vector<std::string> modes = {"fusion", "bp"};         // fine-tuning modes (bp: LoRA when r > 0)
  nlohmann::json finetune = nlohmann::json::object();        // training keys shared by the fine-tuning runs
  nlohmann::json distill;                                    // training keys of the student; null: no student
  std::string distill_from = "fusion";                       // the mode whose fine-tuned teacher the student learns
  int64_t latency_batch = 1;                                 // records per forward of the latency measurement
  int64_t latency_repeats = 5;                               // timed forwards (after one warm-up): the median is kept
  bool progress = true;
};

// Reads a config file: the keys above (an unknown one is an error naming it); relative dataset and backbone paths
// are taken relative to the config file's folder.
ExperimentConfig load_experiment_config(const std::filesystem::path& file);
// Every check that needs no training: the sections' keys, the datasets exist, a teacher source, distill_from among
// the modes, distinct dataset names usable as folder names.
void validate_experiment(const ExperimentConfig& c);

// The folder name of a fine-tuning mode: bp_lora for bp with adapters, else the mode.
std::string mode_label(const std::string& mode, int64_t r);

struct ExperimentResult {
  std::vector<std::filesystem::path> tables, plots;  // results/<dataset>.md and the PNGs
  std::filesystem::path summary;                       // results/summary.md
  std::vector<std::string> checks;                     // one line per target (fusion vs bp LoRA, memory, student)
  bool all_checks_hold = true;
};

// Runs (or continues) the experiment. Ctrl-C / SIGTERM stop the stage under way resumably (io::Interrupted).
ExperimentResult run_experiment(const ExperimentConfig& c);

}  // namespace agf::pipeline
