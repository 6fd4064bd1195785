#include "pipeline/experiment.h"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <system_error>

#include "dataset/dataset_reader.h"
#include "fusion/model_io.h"
#include "fusion/train_config.h"
#include "fusion/trainer.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "pipeline/inference_probe.h"
#include "pipeline/results_table.h"
#include "tensor/error.h"

namespace agf::pipeline {

namespace fs = std::filesystem;

namespace {

void say(const ExperimentConfig& c, const std::string& line) {
  if (c.progress) fmt::print(stderr, "{}\n", line);
}

nlohmann::json read_json_file(const fs::path& p) {
  std::ifstream in(p);
  AGF_CHECK(in.good(), "{} cannot be read", p.string());
  try {
    return nlohmann::json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const nlohmann::json::exception& e) {
    AGF_FAIL("{} is not valid JSON: {}", p.string(), e.what());
  }
}

// The training keys of a stage: the app's defaults, then the config's section, then what the stage itself sets.
fusion::TrainConfig stage_config(fusion::TrainConfig defaults, const nlohmann::json& section, const std::string& source) {
  if (!section.is_null()) fusion::apply_config_json(defaults, section, source);
  return defaults;
}

fusion::TrainConfig pretrain_defaults() {
  fusion::TrainConfig c;
  c.mode = "bp";
  c.r = 0;
  c.preset = "medium";
  return c;
}

fusion::TrainConfig student_defaults() {
  fusion::TrainConfig c;
  c.mode = "bp";
  c.r = 0;
  c.preset = "tinylight";
  c.learning_rate = 0.002;
  return c;
}

bool plain_name(const std::string& s) {
  if (s.empty() || s == "." || s == ".." || s == "pretrain" || s == "results") return false;
  return std::all_of(s.begin(), s.end(),
                     [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.'; });
}

// Runs one training stage to its end, or reads what an earlier invocation finished (see experiment.h).
nlohmann::json run_stage(const ExperimentConfig& ec, const std::string& what, fusion::TrainConfig cfg, const fs::path& dir) {
  std::error_code err;
  const fs::path report = dir / "report.json";
  if (fs::is_regular_file(report, err)) {
    say(ec, fmt::format("== {}: done earlier ({})", what, dir.string()));
    return read_json_file(report);
  }
  fusion::ResolvedConfig rc;
  if (fs::is_regular_file(dir / "last.safetensors", err)) {
    say(ec, fmt::format("== {}: continuing the interrupted run in {}", what, dir.string()));
    rc.config.resume = dir.string();
    rc.config.progress = ec.progress;
    rc.explicit_keys = {"resume", "progress"};
  } else {
    // A folder without a checkpoint holds nothing a run could continue from (it stopped before its first one).
    if (fs::exists(dir, err)) fs::remove_all(dir);
    say(ec, fmt::format("== {}: {} {} on {} -> {}", what, cfg.mode, cfg.preset, cfg.data, dir.string()));
    cfg.out = dir.string();
    cfg.progress = ec.progress;
    rc.config = cfg;
  }
  fusion::Trainer trainer(rc);
  const fusion::TrainResult r = trainer.run();
  AGF_CHECK(!r.paused, "{}: the run paused (stop_after) before its end; leave stop_after out of an experiment", what);
  return r.report;
}

// The pretraining stage's backbone: the best network of out/pretrain, exported once.
fs::path pretrained_backbone(const ExperimentConfig& ec, const nlohmann::json& report) {
  const fs::path dir = ec.out / "pretrain", backbone = dir / "backbone.safetensors";
  std::error_code err;
  if (fs::is_regular_file(backbone, err)) return backbone;
  AGF_CHECK(report.value("best_step", int64_t{-1}) >= 0, "{}: the pretraining never validated, so it kept no best "
            "network: give it more steps or a smaller eval_every", dir.string());
  fusion::LoadedTraining header;
  auto net = fusion::build_from_checkpoint(dir / "best.safetensors", &header);
  io::save_safetensors(backbone, fusion::merged_backbone(*net, fusion::BackboneLayout::published),
                       fusion::backbone_metadata(*net, header.state.fs, header.state.classes));
  return backbone;
}

}  // namespace

std::string mode_label(const std::string& mode, int64_t r) { return mode == "bp" && r > 0 ? "bp_lora" : mode; }

ExperimentConfig load_experiment_config(const fs::path& file) {
  const nlohmann::json j = read_json_file(file);
  AGF_CHECK(j.is_object(), "{}: an experiment config is a JSON object", file.string());
  const fs::path base = file.parent_path();
  const auto rel = [&](const std::string& p) { return p.empty() || fs::path(p).is_absolute() ? p : (base / p).string(); };
  ExperimentConfig c;
  try {
    for (const auto& [key, v] : j.items()) {
      if (key == "out") c.out = rel(v.get<std::string>());
      else if (key == "pretrain") c.pretrain = v;
      else if (key == "backbone") c.backbone = rel(v.get<std::string>());
      else if (key == "datasets") {
        AGF_CHECK(v.is_object(), "{}: 'datasets' is an object of name: prepared dataset file", file.string());
        for (const auto& [name, path] : v.items()) c.datasets.emplace_back(name, rel(path.get<std::string>()));
      } else if (key == "modes") c.modes = v.get<std::vector<std::string>>();
      else if (key == "finetune") c.finetune = v;
      else if (key == "distill") c.distill = v;
      else if (key == "distill_from") c.distill_from = v.get<std::string>();
      else if (key == "latency_batch") c.latency_batch = v.get<int64_t>();
      else if (key == "latency_repeats") c.latency_repeats = v.get<int64_t>();
      else
        AGF_FAIL("{}: unknown experiment key '{}' (out, pretrain, backbone, datasets, modes, finetune, distill, "
                 "distill_from, latency_batch, latency_repeats)", file.string(), key);
    }
  } catch (const nlohmann::json::exception& e) {
    AGF_FAIL("{}: {}", file.string(), e.what());
  }
  if (c.pretrain.is_object() && c.pretrain.contains("data") && c.pretrain["data"].is_string())
    c.pretrain["data"] = rel(c.pretrain["data"].get<std::string>());
  return c;
}

void validate_experiment(const ExperimentConfig& c) {
  AGF_CHECK(!c.datasets.empty(), "the experiment has no datasets ('datasets': {{\"name\": \"prepared/x.h5\"}})");
  AGF_CHECK(!c.modes.empty(), "the experiment has no fine-tuning modes ('modes')");
  AGF_CHECK(c.pretrain.is_null() != c.backbone.empty(),
            "give the teacher either as a pretraining stage ('pretrain') or as a backbone ('backbone'), one of them");
  // The sections' keys and values, checked now rather than hours into the run.
  if (!c.pretrain.is_null()) {
    fusion::TrainConfig p = stage_config(pretrain_defaults(), c.pretrain, "'pretrain'");
    AGF_CHECK(!p.data.empty(), "'pretrain' needs 'data' (a prepared CODE-15% set)");
    AGF_CHECK(p.mode == "bp" && p.r == 0, "'pretrain' trains every parameter with backprop: mode bp, r 0");
    fusion::validate_config(p);
  }
  std::vector<std::string> labels;
  for (const auto& m : c.modes) {
    fusion::TrainConfig f = stage_config({}, c.finetune, "'finetune'");
    f.mode = m;
    fusion::validate_config(f);
    const std::string label = mode_label(m, f.r);
    AGF_CHECK(std::find(labels.begin(), labels.end(), label) == labels.end(), "mode '{}' is listed twice", m);
    labels.push_back(label);
  }
  for (const char* k : {"data", "backbone", "mode", "out", "resume", "teacher", "stop_after"})
    AGF_CHECK(!c.finetune.contains(k) && (c.distill.is_null() || !c.distill.contains(k)),
              "'{}' is set by the experiment itself; leave it out of 'finetune' and 'distill'", k);
  if (!c.distill.is_null()) {
    fusion::validate_config(stage_config(student_defaults(), c.distill, "'distill'"));
    AGF_CHECK(std::find(c.modes.begin(), c.modes.end(), c.distill_from) != c.modes.end(),
              "distill_from '{}' is not one of the modes ({})", c.distill_from, fmt::join(c.modes, ", "));
  }
  std::error_code err;
  for (size_t i = 0; i < c.datasets.size(); ++i) {
    const auto& [name, path] = c.datasets[i];
    AGF_CHECK(plain_name(name), "dataset name '{}' must be a plain folder name (letters, digits, _ - .; not pretrain "
              "or results)", name);
    for (size_t k = 0; k < i; ++k) AGF_CHECK(c.datasets[k].first != name, "dataset '{}' is named twice", name);
    AGF_CHECK(fs::is_regular_file(path, err), "dataset '{}': {} does not exist (prepare it with agf-collect)", name, path);
  }
  if (!c.backbone.empty()) AGF_CHECK(fs::is_regular_file(c.backbone, err), "backbone {} does not exist", c.backbone);
  if (!c.pretrain.is_null()) {
    const std::string data = stage_config(pretrain_defaults(), c.pretrain, "'pretrain'").data;
    AGF_CHECK(fs::is_regular_file(data, err), "'pretrain': dataset {} does not exist (prepare it with agf-collect)",
              data);
  }
  AGF_CHECK(c.latency_batch >= 1 && c.latency_repeats >= 1, "latency_batch and latency_repeats must be >= 1");
}

ExperimentResult run_experiment(const ExperimentConfig& c) {
  validate_experiment(c);
  std::error_code err;
  fs::create_directories(c.out, err);
  AGF_CHECK(!err, "cannot create {}: {}", c.out.string(), err.message());
  // The experiment's own config beside its stages: a second invocation with another config would mix two experiments.
  const nlohmann::json identity = {{"pretrain", c.pretrain}, {"backbone", c.backbone}, {"datasets", c.datasets},
                                   {"modes", c.modes}, {"finetune", c.finetune}, {"distill", c.distill},
                                   {"distill_from", c.distill_from}, {"latency_batch", c.latency_batch}};
  const fs::path stored = c.out / "experiment.json";
  if (fs::is_regular_file(stored, err)) {
    AGF_CHECK(read_json_file(stored) == identity, "{} holds an experiment with another config ({}): give another "
              "'out' or remove that folder", c.out.string(), stored.string());
  } else {
    io::write_file_atomically(stored, identity.dump(2) + "\n");
  }

  std::string backbone = c.backbone;
  if (!c.pretrain.is_null()) {
    const nlohmann::json rep = run_stage(c, "pretraining the teacher",
                                         stage_config(pretrain_defaults(), c.pretrain, "'pretrain'"), c.out / "pretrain");
    backbone = pretrained_backbone(c, rep).string();
  }

  std::vector<DatasetResults> all;
  for (const auto& [name, data] : c.datasets) {
    DatasetResults d;
    d.name = name;
    d.data = data;
    for (const auto& m : c.modes) {
      fusion::TrainConfig f = stage_config({}, c.finetune, "'finetune'");
      f.mode = m;
      f.data = data;
      f.backbone = backbone;
      const std::string label = mode_label(m, f.r);
      const fs::path dir = c.out / name / label;
      d.runs.push_back({label, dir, run_stage(c, fmt::format("{}: fine-tuning, {}", name, label), f, dir)});
    }
    if (!c.distill.is_null()) {
      fusion::TrainConfig s = stage_config(student_defaults(), c.distill, "'distill'");
      s.data = data;
      const std::string teacher_label = mode_label(c.distill_from, stage_config({}, c.finetune, "").r);
      s.teacher = (c.out / name / teacher_label / "best.safetensors").string();
      const fs::path dir = c.out / name / "student";
      d.runs.push_back({"student", dir, run_stage(c, fmt::format("{}: distilling the student from {}", name,
                                                                 teacher_label), s, dir)});
      d.teacher_label = teacher_label;
      const fs::path probe = c.out / name / "inference.json";
      if (fs::is_regular_file(probe, err)) {
        d.inference = read_json_file(probe);
      } else {
        say(c, fmt::format("== {}: inference latency and memory, teacher vs student", name));
        const int64_t length = dataset::DatasetReader(data).length();
        d.inference = {{"teacher", probe_inference(fs::path(s.teacher), length, c.latency_batch, c.latency_repeats)},
                       {"student", probe_inference(dir / "best.safetensors", length, c.latency_batch,
                                                   c.latency_repeats)}};
        io::write_file_atomically(probe, d.inference.dump(2) + "\n");
      }
    }
    all.push_back(std::move(d));
  }
  return write_results(c.out / "results", all);
}

}  // namespace agf::pipeline
