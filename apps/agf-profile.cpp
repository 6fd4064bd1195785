// agf-profile: one warm step of a chosen mode, preset and batch, bracketed for the profilers. A warm-up step first
// (cuDNN's algorithm choice, the caching allocator's blocks, the optimizer's moments), then one step between
// cudaProfilerStart and cudaProfilerStop, with NVTX ranges per phase (zo/perturb+, zo/forward+, ...), per layer and
// per CUDA launcher (cuda/conv1d, ...). The exact command lines are in the README ("Profiling on a GPU"):
//   nsys profile --capture-range=cudaProfilerApi --capture-range-end=stop -t cuda,nvtx,cublas,cudnn
//       -o fusion build/apps/agf-profile --mode fusion --preset medium --batch 32   (one line)
//   ncu --profile-from-start off --nvtx --set full -o fusion build/apps/agf-profile --mode fusion --batch 32
// It prints the step's time and ledger peaks (the agf-bench step table) so a capture can be matched to its figures.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "app_main.h"
#include "bench_step.h"
#include "kernels/ops.h"
#include "nn/ecgnet.h"
#include "tensor/device.h"

using namespace agf;
using namespace agf::app;

int main(int argc, char** argv) {
  CLI::App app{"agf-profile: one warm AdaGrad-Fusion step (or inference forward) bracketed by cudaProfilerStart/Stop "
               "for nsys and ncu, with NVTX ranges per phase, layer and launcher"};
  bench::StepBenchOptions so;
  so.device = "auto";
  so.warmup = 1;
  so.steps = 1;
  so.profile = true;
  std::string mode = "fusion";
  int64_t batch = 32;
  app.add_option("--mode", mode, "inference, bp, bp_lora, zo, fo_micro or fusion")
      ->check(CLI::IsMember(bench::step_bench_modes()));
  app.add_option("--preset", so.preset, "EcgNet preset")->check(CLI::IsMember(nn::preset_names()));
  app.add_option("--batch", batch, "batch B")->check(integer_in(1, 65536));
  app.add_option("--bp-batch", so.bp_batch, "micro-batch b of fusion and fo_micro")->check(integer_in(1, 65536));
  app.add_option("--rank", so.rank, "LoRA rank (0: every parameter)")->check(integer_in(0, 4096));
  app.add_option("--length", so.length, "samples per lead (a multiple of 64)")->check(integer_in(64, 1 << 20));
  app.add_option("--device", so.device, "auto, cpu or cuda:N");
  app.add_option("--steps", so.steps, "profiled steps, after the one warm-up step")->check(integer_in(1, 1000));
  return run_app(app, argc, argv, [&] {
    usage_check(so.length % 64 == 0, "--length {} is not a multiple of 64", so.length);
    usage_check(mode == "inference" || mode == "bp" || mode == "bp_lora" || so.bp_batch <= batch,
                "--bp-batch {} is larger than --batch {}", so.bp_batch, batch);
    so.modes = {mode};
    so.batches = {batch};
    so.quiet = true;
    const nlohmann::json report = bench::run_step_bench(so);
    fmt::print("{}", bench::step_bench_table(report));
  });
}
