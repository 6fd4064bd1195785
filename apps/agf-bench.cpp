// agf-bench: measurements of the engine as a whole, with the memory ledger's exact figures.
//   agf-bench memory --preset medium --batch 4 --bp-batch 4 [--lora 16]
//       parameter bytes, the activation peak of an inference forward at batch B (NoGrad), and the peak of a
//       forward + backward at micro-batch b, per ledger tag
//   agf-bench step --preset medium --mode inference,fusion --batch 8,16,32 --bp-batch 4 --rank 16 [--json r.json]
//       warm-up, then timed steps of each mode and batch (the trainer's own step, src/fusion/step): median/min/max
//       step time, samples/s, ledger peak per phase and tag, peak RSS; a Markdown table on stdout (bench_step.h)
// Exit status and messages: apps/app_main.h (Ctrl-C stops at the next phase or step).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <optional>

#include "app_main.h"
#include "bench_step.h"
#include "io/atomic_file.h"
#include "kernels/ops.h"
#include "io/interrupt.h"
#include "nn/ecgnet.h"
#include "nn/losses.h"
#include "tensor/allocator.h"
#include "tensor/planning.h"
#include "tensor/random.h"

using namespace agf;

namespace {

double mib(int64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

nlohmann::json tag_peaks(const MemoryLedger& L) {
  nlohmann::json j;
  for (int t = 0; t < kNumMemTags; ++t) {
    const auto tag = static_cast<MemTag>(t);
    if (L.peak(tag) > 0) j[std::string(mem_tag_name(tag))] = L.peak(tag);
  }
  j["total"] = L.peak_total();
  return j;
}

struct MemoryOptions {
  std::string preset = "medium";
  int64_t batch = 4, bp_batch = 4, classes = 6, length = 6144, lora = 0;
  bool json = false;
  bool plan = false;
};

void run_memory(const MemoryOptions& o) {
  std::optional<PlanScope> plan;
  if (o.plan) plan.emplace();
  MemoryLedger& L = ledger(Device::cpu());
  nn::EcgNet net(nn::preset_config(o.preset, o.classes, true), 1);
  if (o.lora > 0) {
    net.enable_lora({o.lora, static_cast<double>(o.lora)}, 2);
    net.set_trainable(nn::EcgNet::finetune_patterns());
  }
  const int64_t params = L.live(MemTag::params);
  Tensor x;
  {
    MemScope data(MemTag::data);
    x = empty({o.batch, 12, o.length});
    fill_normal_(x, 3, 0);
  }
  Tensor y = zeros({o.bp_batch, o.classes});
  nlohmann::json report = {{"preset", o.preset},
                           {"parameters", net.num_parameters()},
                           {"trainable_elements", [&] {
                              int64_t n = 0;
                              for (auto& [name, t] : net.trainable_parameters()) n += t->numel();
                              return n;
                            }()},
                           {"batch", o.batch},
                           {"bp_batch", o.bp_batch},
                           {"length", o.length},
                           {"param_bytes", params}};
  using clock = std::chrono::steady_clock;
  {
    NoGradGuard ng;
    MemScope act(MemTag::activations);
    L.reset_peak();
    const auto t0 = clock::now();
    auto out = net.forward(x);
    report["inference_seconds"] = std::chrono::duration<double>(clock::now() - t0).count();
    report["inference_peak"] = tag_peaks(L);
  }
  io::throw_if_interrupted("after the inference forward, before the backprop step");
  {
    MemScope act(MemTag::activations);
    L.reset_peak();
    const auto t0 = clock::now();
    auto out = net.forward(x.narrow(0, 0, o.bp_batch));
    Tensor loss = nn::fusion_loss(out.aux_logit, out.main_logits, y, 1.0, 0).total;
    out = {};
    backward(loss);
    report["backprop_seconds"] = std::chrono::duration<double>(clock::now() - t0).count();
    report["backprop_peak"] = tag_peaks(L);
  }
  report["planned"] = o.plan;
  if (o.plan) {
    report.erase("inference_seconds");
    report.erase("backprop_seconds");
  }
  if (o.json) {
    fmt::print("{}\n", report.dump(2));
    return;
  }
  const auto secs = [&](const char* key) {
    return o.plan ? std::string("planned") : fmt::format("{:.2f} s", report[key].get<double>());
  };
  fmt::print("{} ({} parameters, {} trainable), input (B, 12, {})\n", o.preset, report["parameters"].get<int64_t>(),
             report["trainable_elements"].get<int64_t>(), o.length);
  fmt::print("  parameters and buffers        {:10.1f} MiB\n", mib(params));
  fmt::print("  inference forward, B={:<4}     activations peak {:10.1f} MiB, workspace peak {:8.1f} MiB  ({})\n",
             o.batch, mib(report["inference_peak"].value("activations", int64_t{0})),
             mib(report["inference_peak"].value("workspace", int64_t{0})), secs("inference_seconds"));
  fmt::print("  forward+backward, b={:<4}     activations peak {:10.1f} MiB, grads {:8.1f} MiB  ({})\n",
             o.bp_batch, mib(report["backprop_peak"].value("activations", int64_t{0})),
             mib(report["backprop_peak"].value("grads", int64_t{0})), secs("backprop_seconds"));
}

}  // namespace

int main(int argc, char** argv) {
  agf::keep_freed_host_memory_mapped();
  using namespace agf::app;
  CLI::App app{"agf-bench: engine-level measurements (the memory ledger's exact figures)", "agf-bench"};
  configure(app);
  app.require_subcommand(1);
  // Bounds: what a run on one machine can mean, so that a typo is refused rather than attempted.
  const int64_t max_batch = int64_t{1} << 16, max_length = int64_t{1} << 20;
  MemoryOptions mo;
  auto* mem = app.add_subcommand("memory", "ledger peaks of an inference forward and of a backprop step");
  const CLI::IsMember preset(nn::preset_names());
  mem->add_option("--preset", mo.preset, "EcgNet preset")->check(preset);
  mem->add_option("--batch", mo.batch, "batch of the inference forward")->check(integer_in(1, max_batch));
  mem->add_option("--bp-batch", mo.bp_batch, "micro-batch of the forward + backward (at most --batch)")
      ->check(integer_in(1, max_batch));
  mem->add_option("--classes", mo.classes, "classes of the main head")->check(integer_in(1, 4096));
  mem->add_option("--length", mo.length, "samples per lead (a multiple of 64)")->check(integer_in(64, max_length));
  mem->add_option("--lora", mo.lora, "LoRA rank (0: full fine-tuning)")->check(integer_in(0, 4096));
  mem->add_flag("--json", mo.json, "print the report as JSON");
  mem->add_flag("--plan", mo.plan, "the exact figures without running the arithmetic or holding the memory "
                "(tensor/planning.h; times are then meaningless and left out)");

  bench::StepBenchOptions so;
  std::string json_out, plot_out;
  auto* step = app.add_subcommand("step", "time and memory of training steps (or inference) per mode and batch");
  step->add_option("--preset", so.preset, "EcgNet preset")->check(preset);
  step->add_option("--mode", so.modes, "modes, comma-separated: inference (forward, no graph), bp (backprop, every "
                   "parameter), bp_lora, zo, fo_micro, fusion (LoRA + heads when --rank > 0)")
      ->delimiter(',')->check(CLI::IsMember(bench::step_bench_modes()));
  step->add_option("--batch", so.batches, "batch sizes, comma-separated (a sweep)")->delimiter(',')
      ->check(integer_in(1, max_batch));
  step->add_option("--bp-batch", so.bp_batch, "micro-batch b of fusion and fo_micro")->check(integer_in(1, max_batch));
  step->add_option("--rank", so.rank, "LoRA rank of bp_lora, zo, fo_micro, fusion (0: every parameter)")
      ->check(integer_in(0, 4096));
  step->add_option("--classes", so.classes, "classes of the main head")->check(integer_in(1, 4096));
  step->add_option("--length", so.length, "samples per lead (a multiple of 64)")->check(integer_in(64, max_length));
  step->add_option("--warmup", so.warmup, "untimed steps first")->check(integer_in(0, 1000));
  step->add_option("--steps", so.steps, "timed steps")->check(integer_in(1, 100000));
  step->add_option("--zo-chunk", so.zo_chunk, "zo_chunk of the ZO passes (0: the whole batch at once)")
      ->check(integer_in(0, max_batch));
  step->add_flag("--gradient-checkpointing", so.gradient_checkpointing,
                 "backprop recomputes each residual block and transformer layer instead of keeping its activations");
  step->add_option("--coef", so.coef, "fusion coefficient of a fusion step")->check(real_in(0, 1, false, true));
  step->add_option("--device", so.device,
                   "cpu (the default), auto or cuda:N; a plan always runs on the host (its ledger figures are the "
                   "device's, cuBLAS and cuDNN workspaces aside)");
  step->add_option("--json", json_out, "also write the full report (per phase and tag) to this JSON file");
  step->add_option("--plot", plot_out, "also draw the ledger peak against the batch per mode into this PNG");
  step->add_flag("--quiet", so.quiet, "no line per configuration on stderr");
  step->add_flag("--plan", so.plan, "the exact ledger peaks without running the arithmetic or holding the memory "
                 "(seconds for any preset and batch); no times, no RSS");

  return run_app(app, argc, argv, [&] {
    if (step->parsed()) {
      usage_check(so.length % 64 == 0, "--length {} is not a multiple of 64", so.length);
      if (!so.plan) fmt::print(stderr, "{}\n", ops::cpu_backend_summary());
      const nlohmann::json report = bench::run_step_bench(so);
      fmt::print("{}", bench::step_bench_table(report));
      if (!json_out.empty()) io::write_file_atomically(json_out, report.dump(2) + "\n");
      if (!plot_out.empty()) bench::step_bench_memory_chart(report, plot_out);
      return;
    }
    usage_check(mo.bp_batch <= mo.batch, "--bp-batch {} is larger than --batch {}", mo.bp_batch, mo.batch);
    run_memory(mo);
  });
}
