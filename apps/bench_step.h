#pragma once
// agf-bench step: the time and memory of one training step (or an inference forward) of a preset, per mode, over a
// sweep of batch sizes. Each configuration builds its network afresh, runs `warmup` untimed steps and then `steps`
// timed ones on random inputs, and reports the median/min/max step time, samples/s, the memory ledger's peak per
// phase and per tag, and the process's peak RSS over the timed steps (Linux: /proc/self/clear_refs resets it).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace agf::bench {

// inference: a forward without a graph; bp: backprop on the batch, every parameter (full fine-tuning);
// bp_lora: backprop on the batch, LoRA adapters + heads; zo, fo_micro, fusion: the AdaGrad-Fusion step of that mode
// (LoRA + heads when rank > 0, every parameter otherwise).
const std::vector<std::string>& step_bench_modes();

struct StepBenchOptions {
  std::string preset = "tinylight";
  std::vector<std::string> modes = {"inference"};
  std::vector<int64_t> batches = {32};
  int64_t bp_batch = 4;
  int64_t rank = 16;      // LoRA rank of bp_lora, zo, fo_micro, fusion (0: they train every parameter)
  int64_t classes = 26;
  int64_t length = 4096;
  int64_t warmup = 1;
  int64_t steps = 5;
  int64_t zo_chunk = 0;
  bool gradient_checkpointing = false;
  double coef = 0.5;      // fusion coefficient of a fusion step (below 1, so its ZO passes run)
  std::string device = "cpu";
  bool quiet = false;     // no progress lines on stderr
  // The exact memory plan instead of a measurement (tensor/planning.h): the same steps with no arithmetic and no
  // real memory; the ledger's peaks per phase and tag are those of a real run, times and RSS are not measured.
  bool plan = false;
  // cudaProfilerStart/Stop around the timed steps, so `nsys --capture-range=cudaProfilerApi` and
  // `ncu --profile-from-start off` record those steps only (agf-profile).
  bool profile = false;
};

// Runs every (mode, batch) configuration; a batch smaller than bp_batch is skipped for the modes that use it.
// Returns {"machine": ..., "options": ..., "results": [one object per configuration]}; machine holds the kernels
// line and runtime_baseline_rss_bytes, the resident set with the runtime warmed up (a first 2048^3 GEMM) and no
// tensor held, from which RSS beyond the ledger is counted.
nlohmann::json run_step_bench(const StepBenchOptions& o);

// The results as a Markdown table (one row per configuration).
std::string step_bench_table(const nlohmann::json& report);

// A PNG of the ledger's peak (MiB, log axis) against the batch (log axis), one line per mode.
void step_bench_memory_chart(const nlohmann::json& report, const std::string& path);

}  // namespace agf::bench
