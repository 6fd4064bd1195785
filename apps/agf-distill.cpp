// agf-distill: distils a small student (tinylight by default) from a fine-tuned teacher, as spec/fusion.md
// "Distillation" says: the teacher frozen with its LoRA merged, run under NoGrad on the same CutMix batch; the student
// trains every parameter with backprop on BCE(s, sigmoid(t / T)) + BCE(s, y) + aux_weight BCE(s_aux, a(y)),
// optionally reading only some leads (1lead: I; 3lead: II, V1, V5; the others zeroed, in training and at inference).
//   agf-distill --data prepared/WFDB_Ga.h5 --teacher runs/ga_fusion/best.safetensors --out runs/ga_student
//   agf-distill ... --lead_mask 3lead --temperature 2 --export student.safetensors
#include <fmt/core.h>

#include "app_main.h"
#include "fusion/trainer.h"
#include "tensor/allocator.h"
#include "train_app.h"
#include "train_options.h"

using namespace agf;

int main(int argc, char** argv) {
  keep_freed_host_memory_mapped();
  CLI::App cli{"agf-distill: distil a student from a fine-tuned teacher (teacher frozen under NoGrad, student on "
               "plain backprop); the keys are the PyTorch reference's hyper-parameter names",
               "agf-distill"};
  app::configure(cli);
  fusion::TrainConfig defaults;
  defaults.mode = "bp";
  defaults.r = 0;
  defaults.preset = "tinylight";
  defaults.learning_rate = 0.002;  // the reference's student rate
  defaults.out = "runs/distill";
  app::TrainOptions options(cli, defaults, /*distillation=*/true);
  std::string student_out;
  cli.add_option("--export", student_out,
                 "also write the best student as a plain backbone (.safetensors; its lead mask and label set in the "
                 "metadata)");
  return app::run_app(cli, argc, argv, [&] {
    const fusion::ResolvedConfig rc = options.resolve();
    app::as_usage_error([&] {
      AGF_CHECK(!rc.config.teacher.empty() || !rc.config.resume.empty(),
                "no teacher: give 'teacher' (a fine-tuned run's best.safetensors or a backbone exported by "
                "agf-finetune --export-merged)");
      AGF_CHECK(rc.config.mode == "bp", "the student trains with plain backprop: 'mode' must be bp, got {}",
                rc.config.mode);
    });
    fusion::Trainer trainer(rc);
    const fusion::TrainResult r = trainer.run();
    app::print_train_summary(r);
    if (!student_out.empty() && !r.paused) app::export_best_network(r, student_out);
  });
}
