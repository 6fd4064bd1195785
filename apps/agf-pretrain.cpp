// agf-pretrain: pretrains a teacher on a prepared CODE-15% dataset (or any prepared set): plain backprop on every
// parameter with the reference's hyper-parameters, the best network by validation mAP kept and written as a backbone
// that agf-finetune loads, with the sampling rate it was trained at and its label set in its metadata.
//   agf-collect -o prepared --code15 /data/code15                   (400 Hz, the six CODE-15% labels)
//   agf-pretrain --data prepared/code15.h5 --out runs/teacher       (writes runs/teacher/backbone.safetensors)
//   agf-pretrain --resume runs/teacher                              (continues bit for bit after Ctrl-C)
#include <fmt/core.h>

#include "app_main.h"
#include "fusion/trainer.h"
#include "tensor/allocator.h"
#include "train_app.h"
#include "train_options.h"

using namespace agf;

int main(int argc, char** argv) {
  keep_freed_host_memory_mapped();
  CLI::App cli{"agf-pretrain: pretrain a teacher (plain backprop on every parameter) and write it as a backbone for "
               "agf-finetune; the keys are the PyTorch reference's hyper-parameter names",
               "agf-pretrain"};
  app::configure(cli);
  fusion::TrainConfig defaults;
  defaults.mode = "bp";
  defaults.r = 0;
  defaults.preset = "medium";  // the published CODE-15% teacher
  defaults.out = "runs/pretrain";
  app::TrainOptions options(cli, defaults);
  std::string backbone_out;
  cli.add_option("--export", backbone_out,
                 "where to write the best network as a backbone (.safetensors); default: backbone.safetensors in the "
                 "run folder");
  return app::run_app(cli, argc, argv, [&] {
    const fusion::ResolvedConfig rc = options.resolve();
    app::as_usage_error([&] {
      AGF_CHECK(rc.config.mode == "bp" && rc.config.r == 0,
                "agf-pretrain trains every parameter with backprop: 'mode' must be bp and 'r' 0 (got {} and {}); "
                "fine-tune with adapters or AdaGrad-Fusion with agf-finetune", rc.config.mode, rc.config.r);
    });
    fusion::Trainer trainer(rc);
    const fusion::TrainResult r = trainer.run();
    app::print_train_summary(r);
    if (!r.paused)
      app::export_best_network(r, backbone_out.empty() ? (r.run_dir / "backbone.safetensors").string() : backbone_out);
  });
}
