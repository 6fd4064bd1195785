// agf-finetune: fine-tunes a pretrained ECG backbone on a prepared dataset with AdaGrad-Fusion (or zo, bp, fo_micro),
// keeping the best network by validation mAP, and reports it on the test split.
//   agf-finetune --data prepared/WFDB_Ga.h5 --backbone CODE_teacher.pt --preset medium --out runs/ga_fusion
//   agf-finetune --config run.json --mode bp --r 16              (keys of the config file, overridden)
//   agf-finetune --resume runs/ga_fusion                          (continues bit for bit after Ctrl-C or stop_after)
//   agf-finetune ... --export-merged teacher.safetensors          (the best network with LoRA merged, a plain backbone)
#include <fmt/core.h>

#include "app_main.h"
#include "fusion/model_io.h"
#include "fusion/trainer.h"
#include "io/safetensors.h"
#include "tensor/allocator.h"
#include "train_options.h"

using namespace agf;

namespace {

void export_merged(const fusion::TrainResult& r, const std::string& path) {
  const auto best = r.run_dir / "best.safetensors";
  fusion::LoadedTraining header;
  auto net = fusion::build_from_checkpoint(best, &header);
  io::save_safetensors(path, fusion::merged_backbone(*net, fusion::BackboneLayout::published),
                       fusion::backbone_metadata(*net, header.state.fs));
  fmt::print("merged backbone (best network, LoRA folded in): {}\n", path);
}

void print_summary(const fusion::TrainResult& r) {
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

}  // namespace

int main(int argc, char** argv) {
  keep_freed_host_memory_mapped();
  CLI::App cli{"agf-finetune: fine-tune a pretrained ECG backbone with AdaGrad-Fusion (or zo, bp, fo_micro); the "
               "keys are the PyTorch reference's hyper-parameter names",
               "agf-finetune"};
  app::configure(cli);
  fusion::TrainConfig defaults;  // the teacher's: learning rate 0.0025, LoRA rank 16, fusion
  app::TrainOptions options(cli, defaults);
  std::string merged;
  cli.add_option("--export-merged", merged,
                 "after training, write the best network with its LoRA adapters merged, as a plain backbone in the "
                 "published layout (.safetensors)");
  return app::run_app(cli, argc, argv, [&] {
    const fusion::ResolvedConfig rc = options.resolve();
    fusion::Trainer trainer(rc);
    const fusion::TrainResult r = trainer.run();
    print_summary(r);
    if (!merged.empty() && !r.paused) export_merged(r, merged);
  });
}
