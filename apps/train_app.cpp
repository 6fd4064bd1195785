#include "train_app.h"

#include <fmt/core.h>

#include "fusion/model_io.h"
#include "io/safetensors.h"

namespace agf::app {

void print_train_summary(const fusion::TrainResult& r) {
  if (r.paused) return;
  const auto& rep = r.report;
  const auto macro = [&](const char* split, const char* key) -> std::string {
    if (!rep.contains(split)) return "-";
    const auto& v = rep[split]["macro"][key]["value"];
    return v.is_number() ? fmt::format("{:.4f}", v.get<double>()) : "-";
  };
  fmt::print("{} steps{}; best validation mAP {} at step {}; test macro AUROC {}, mAP {}, macro F2 {}\n", r.steps_done,
             r.stopped_early ? " (stopped early)" : "",
             rep["best_val_map"].is_number() ? fmt::format("{:.4f}", rep["best_val_map"].get<double>()) : "-",
             r.best_step, macro("test", "auroc"), macro("test", "map"), macro("test", "f2"));
  fmt::print("run folder {}: report.md, report.json, loss.png, val_map.png, best.safetensors\n", r.run_dir.string());
}

void export_best_network(const fusion::TrainResult& r, const std::string& path) {
  const auto best = r.run_dir / "best.safetensors";
  fusion::LoadedTraining header;
  auto net = fusion::build_from_checkpoint(best, &header);
  io::save_safetensors(path, fusion::merged_backbone(*net, fusion::BackboneLayout::published),
                       fusion::backbone_metadata(*net, header.state.fs, header.state.classes));
  fmt::print("{}: the best network{}, as a plain backbone\n", path, net->lora_enabled() ? " with LoRA folded in" : "");
}

}  // namespace agf::app
