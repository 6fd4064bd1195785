// agf-experiment: the reference's recipe from one config, resumable. Pretrain a teacher on a CODE-15%-format set (or
// start from a backbone), fine-tune it on each dataset in each mode (fusion and bp LoRA by default), distil a student
// from one of them, evaluate everything on the test splits, measure teacher vs student at inference, and write one
// results folder: per dataset a Markdown and JSON table, a memory bar chart and a validation-mAP chart.
//   agf-experiment --config experiment.json            (a stage already done is not redone; Ctrl-C, then run again)
// The config's keys: out, pretrain {training keys}, backbone, datasets {name: prepared .h5}, modes [...],
// finetune {training keys}, distill {training keys, temperature, lead_mask}, distill_from, latency_batch,
// latency_repeats. See src/pipeline/experiment.h for the folder layout.
#include <fmt/core.h>

#include "app_main.h"
#include "pipeline/experiment.h"
#include "tensor/allocator.h"

using namespace agf;

int main(int argc, char** argv) {
  keep_freed_host_memory_mapped();
  CLI::App cli{"agf-experiment: pretrain a teacher, fine-tune it on each dataset in each mode, distil a student, "
               "evaluate and tabulate (accuracy, ledger memory per phase, s/step, latency); resumable",
               "agf-experiment"};
  app::configure(cli);
  std::string config, out;
  bool quiet = false;
  cli.add_option("--config", config, "the experiment's JSON config")->required();
  cli.add_option("--out", out, "results folder (overrides the config's 'out')");
  cli.add_flag("--quiet,-q", quiet, "no stage headers or progress lines");
  return app::run_app(cli, argc, argv, [&] {
    pipeline::ExperimentConfig c;
    app::as_usage_error([&] {
      c = pipeline::load_experiment_config(config);
      if (!out.empty()) c.out = out;
      c.progress = !quiet;
      pipeline::validate_experiment(c);
    });
    const pipeline::ExperimentResult r = pipeline::run_experiment(c);
    for (const auto& line : r.checks) fmt::print("{}\n", line);
    fmt::print("tables: {}\n", r.summary.string());
    for (const auto& t : r.tables) fmt::print("  {}\n", t.string());
    fmt::print("plots:\n");
    for (const auto& p : r.plots) fmt::print("  {}\n", p.string());
  });
}
