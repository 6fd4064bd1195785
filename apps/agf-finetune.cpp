// agf-finetune: fine-tunes a pretrained ECG backbone on a prepared dataset with AdaGrad-Fusion (or zo, bp, fo_micro),
// keeping the best network by validation mAP, and reports it on the test split.
//   agf-finetune --data prepared/WFDB_Ga.h5 --backbone CODE_teacher.pt --preset medium --out runs/ga_fusion
//   agf-finetune --config run.json --mode bp --r 16              (keys of the config file, overridden)
//   agf-finetune --resume runs/ga_fusion                          (continues bit for bit after Ctrl-C or stop_after)
//   agf-finetune ... --export-merged teacher.safetensors          (the best network with LoRA merged, a plain backbone)
#include "app_main.h"
#include "fusion/trainer.h"
#include "tensor/allocator.h"
#include "train_app.h"
#include "train_options.h"

using namespace agf;

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
                 "published layout (.safetensors; the distillation teacher, or a backbone to fine-tune again)");
  return app::run_app(cli, argc, argv, [&] {
    const fusion::ResolvedConfig rc = options.resolve();
    fusion::Trainer trainer(rc);
    const fusion::TrainResult r = trainer.run();
    app::print_train_summary(r);
    if (!merged.empty() && !r.paused) app::export_best_network(r, merged);
  });
}
