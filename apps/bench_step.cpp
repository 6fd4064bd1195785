#include "bench_step.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fusion/step.h"
#include "fusion/training_setup.h"
#include "io/interrupt.h"
#include "kernels/ops.h"
#include "nn/ecgnet.h"
#include "nn/optim.h"
#include "plot/chart.h"
#include "tensor/nvtx.h"
#include "tensor/allocator.h"
#include "tensor/error.h"
#include "tensor/ledger.h"
#include "tensor/planning.h"
#include "tensor/random.h"

namespace agf::bench {

namespace {

constexpr double kMiB = 1048576.0;

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"); -1 where there is no such file.
int64_t proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(field + ":")) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}

// Resets the kernel's high-water mark of the resident set to what is resident now (Linux 4.0+).
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

using TagPeaks = std::array<int64_t, kNumMemTags>;

TagPeaks ledger_tag_peaks(const MemoryLedger& L) {
  TagPeaks p{};
  for (int t = 0; t < kNumMemTags; ++t) p[t] = L.peak(static_cast<MemTag>(t));
  return p;
}

nlohmann::json tag_json(const TagPeaks& p) {
  nlohmann::json j = nlohmann::json::object();
  for (int t = 0; t < kNumMemTags; ++t)
    if (p[t] > 0) j[std::string(mem_tag_name(static_cast<MemTag>(t)))] = p[t];
  return j;
}

CpuAllocator& host_allocator() { return dynamic_cast<CpuAllocator&>(allocator_for(Device::cpu())); }

bool uses_bp_batch(const std::string& mode) { return mode == "fusion" || mode == "fo_micro"; }

struct Phase {
  std::vector<double> seconds;
  int64_t peak = 0;
};

nlohmann::json run_one(const StepBenchOptions& o, const std::string& mode, int64_t batch) {
  std::optional<PlanScope> plan;
  if (o.plan) plan.emplace();
  // A plan runs on the host whatever the device: the ledger's figures are the device's (tensors are the same bytes
  // there), plus what cuBLAS and cuDNN draw as workspace, which depends on the algorithms the GPU picks.
  const Device dev = o.plan ? Device::cpu() : fusion::resolve_device(o.device);
  MemoryLedger& L = ledger(dev);
  // What earlier configurations freed goes back to the system first, so that this one's RSS is its own.
  allocator_for(Device::cpu()).empty_cache();
  malloc_trim(0);
  const int64_t rss_before = proc_status_bytes("VmRSS");
  const bool lora = mode != "inference" && mode != "bp" && o.rank > 0;
  nn::EcgNet net(nn::preset_config(o.preset, o.classes, /*aux_head=*/true), 1);
  if (lora) net.enable_lora({o.rank, static_cast<double>(o.rank)}, 2);
  net.set_trainable(lora ? nn::EcgNet::finetune_patterns() : std::vector<std::string>{"*"});
  int64_t trainable = 0;
  for (auto& [name, t] : net.trainable_parameters()) trainable += t->numel();

  Tensor x, y;
  {
    MemScope data(MemTag::data);
    x = empty({batch, 12, o.length});
    fill_normal_(x, 3, 0);
    y = empty({batch, o.classes});
    fill_uniform_(y, 4, 0);
    float* yp = y.data<float>();
    if (!o.plan)
      for (int64_t i = 0; i < y.numel(); ++i) yp[i] = yp[i] > 0.75f ? 1.0f : 0.0f;
    x = x.to(dev);
    y = y.to(dev);
  }
  net.to(dev);

  if (mode == "inference") net.eval();  // running statistics, as a deployed network
  std::unique_ptr<nn::AdamW> optimizer;
  std::unique_ptr<fusion::FusionStep> step;
  if (mode != "inference") {
    optimizer = std::make_unique<nn::AdamW>(net.trainable_parameters());
    fusion::StepOptions so;
    so.mode = fusion::parse_mode(mode == "bp_lora" ? "bp" : mode);
    so.bp_batch = uses_bp_batch(mode) ? o.bp_batch : batch;
    so.zo_chunk = o.zo_chunk;
    so.gradient_checkpointing = o.gradient_checkpointing;
    step = std::make_unique<fusion::FusionStep>(net, *optimizer, so);
  }
  PhiloxStream rng(7, 0);

  std::vector<double> times;
  std::map<std::string, Phase> phases;
  int64_t ledger_peak = 0;
  TagPeaks tags{};  // each tag's peak over the timed steps
  int64_t rss_peak = 0, rss_process_peak = 0, map_calls_before = 0;
  bool rss_reset = false;
  // A plan needs one step after the first (which creates the optimizer's moments): its figures repeat exactly.
  const int64_t warmup = o.plan ? 1 : o.warmup, steps = o.plan ? 1 : o.steps;
  for (int64_t s = 0; s < warmup + steps; ++s) {
    io::throw_if_interrupted(fmt::format("{} at B={}, step {}", mode, batch, s));
    const bool timed = s >= warmup;
    if (s == warmup && !o.plan) {
      rss_process_peak = proc_status_bytes("VmHWM");
      rss_reset = reset_peak_rss();
      map_calls_before = host_allocator().map_calls();
    }
    if (o.profile && s == warmup) {
      if (dev.is_cuda()) cuda_synchronize();  // the warm-up's kernels stay out of the capture
      profiler_start();
    }
    L.reset_peak();
    const auto t0 = std::chrono::steady_clock::now();
    // A step's phases each reset the ledger's peak: the step's peaks are the maxima over its phases.
    std::vector<fusion::PhaseStats> step_phases;
    if (mode == "inference") {
      {
        NoGradGuard ng;
        MemScope act(MemTag::activations);
        auto out = net.forward(x);
      }
      step_phases.push_back({"forward", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                             L.peak_total(), 0, ledger_tag_peaks(L)});
    } else {
      fusion::StepRecord rec = step->run(x, y, 1e-4, o.coef, rng);
      AGF_CHECK(std::isfinite(rec.loss), "{} at B={}: the loss is not finite at step {}", mode, batch, s);
      step_phases = std::move(rec.phases);
    }
    if (dev.is_cuda()) cuda_synchronize();  // the step is done when its kernels are
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!timed) continue;
    times.push_back(dt);
    for (const fusion::PhaseStats& p : step_phases) {
      phases[p.name].seconds.push_back(p.seconds);
      phases[p.name].peak = std::max(phases[p.name].peak, p.peak_bytes);
      ledger_peak = std::max(ledger_peak, p.peak_bytes);
      for (int t = 0; t < kNumMemTags; ++t) tags[t] = std::max(tags[t], p.tag_peak_bytes[t]);
    }
  }
  if (o.profile) profiler_stop();
  rss_peak = proc_status_bytes("VmHWM");
  rss_process_peak = std::max(rss_process_peak, rss_peak);
  // What the allocator holds after the last step: tensors still live (parameters, optimizer state, the batch) and
  // its cache of mapped blocks, the part of RSS beyond the ledger that is the allocator's.
  const int64_t reserved_after = allocator_for(Device::cpu()).reserved_bytes(), live_after = L.live_total();
  const int64_t timed_map_calls = o.plan ? 0 : host_allocator().map_calls() - map_calls_before;
  // The memory contract of spec/fusion.md: a zo step peaks where an inference forward of the same network (its
  // adapters and optimizer state resident) at the same batch does.
  int64_t same_net_inference = 0;
  if (mode == "zo") {
    NoGradGuard ng;
    MemScope act(MemTag::activations);
    L.reset_peak();
    auto out = net.forward(x);
    same_net_inference = L.peak_total();
  }
  nlohmann::json r = {{"mode", mode},
                      {"batch", batch},
                      {"bp_batch", uses_bp_batch(mode) ? o.bp_batch : batch},
                      {"rank", lora ? o.rank : 0},
                      {"parameters", net.num_parameters()},
                      {"trainable", trainable},
                      {"ledger_peak_bytes", ledger_peak},
                      {"ledger_peak_by_tag", tag_json(tags)}};
  if (mode == "zo") r["inference_same_network_peak_bytes"] = same_net_inference;
  if (o.plan) {
    r["planned"] = true;
    nlohmann::json ph = nlohmann::json::object();
    for (const auto& [name, p] : phases) ph[name] = {{"peak_bytes", p.peak}};
    r["phases"] = ph;
    return r;
  }

  const double med = median(times);
  r["steps"] = o.steps;
  r["median_s"] = med;
  r["min_s"] = *std::min_element(times.begin(), times.end());
  r["max_s"] = *std::max_element(times.begin(), times.end());
  r["samples_per_s"] = static_cast<double>(batch) / med;
  r["rss_before_bytes"] = rss_before;
  // The kernel's peak counts only the timed steps when clear_refs could be written; otherwise it is the process's.
  r["rss_peak_bytes"] = rss_peak;
  r["rss_peak_scope"] = rss_reset ? "timed steps" : "process lifetime";
  r["rss_peak_process_bytes"] = rss_process_peak;  // warm-up and set-up included (what /usr/bin/time reports)
  r["allocator_reserved_after_bytes"] = reserved_after;
  // New mappings during the timed steps: 0 when the steady state reuses its blocks (no system call, no page fault).
  r["timed_steps_new_mappings"] = timed_map_calls;
  r["device"] = dev.str();
  if (dev.is_cuda()) {
    // Beside the ledger (tensors): what the caching allocator holds from the driver, and what the device has in use
    // in all (the CUDA context, cuBLAS's and cuDNN's own state, other processes): memory outside the ledger shows.
    const CudaMemInfo mi = cuda_mem_info(dev.index);
    r["gpu_allocator_reserved_bytes"] = allocator_for(dev).reserved_bytes();
    r["gpu_device_used_bytes"] = mi.total_bytes - mi.free_bytes;
    r["gpu_device_total_bytes"] = mi.total_bytes;
  }
  r["ledger_live_after_bytes"] = live_after;
  nlohmann::json ph = nlohmann::json::object();
  for (const auto& [name, p] : phases) ph[name] = {{"median_s", median(p.seconds)}, {"peak_bytes", p.peak}};
  r["phases"] = ph;
  return r;
}

// The process's resident set with the runtime warmed up and no tensor held: libraries, OpenBLAS's per-thread
// buffers (touched by a first large GEMM), oneDNN's code and per-thread state (touched by a convolution and its two
// backward passes), the allocator empty. What RSS shows beyond the ledger is measured from here.
int64_t runtime_baseline() {
  {
    Tensor a = empty({2048, 2048}), b = empty({2048, 2048});
    fill_uniform_(a, 1, 0);
    fill_uniform_(b, 2, 0);
    const Tensor c = ops::matmul(a, b);
  }
  {
    Tensor x = empty({8, 64, 1024}), w = empty({64, 64, 9}), gy = empty({8, 64, 1024});
    fill_uniform_(x, 3, 0);
    fill_uniform_(w, 4, 0);
    fill_uniform_(gy, 5, 0);
    const Tensor y = ops::conv1d(x, w, Tensor(), {1, 4});
    const Tensor gx = ops::conv1d_backward_input(gy, w, 1024, {1, 4});
    const Tensor gw = ops::conv1d_backward_weight(gy, x, 9, {1, 4});
  }
  allocator_for(Device::cpu()).empty_cache();
  malloc_trim(0);
  return proc_status_bytes("VmRSS");
}

}  // namespace

const std::vector<std::string>& step_bench_modes() {
  static const std::vector<std::string> modes = {"inference", "bp", "bp_lora", "zo", "fo_micro", "fusion"};
  return modes;
}

nlohmann::json run_step_bench(const StepBenchOptions& o) {
  fusion::check_device(o.device);
  AGF_CHECK(o.steps >= 1 && o.warmup >= 0, "steps must be at least 1 and warmup at least 0");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  nlohmann::json report;
  report["machine"] = {{"host", host}, {"kernels", ops::cpu_backend_summary()}};
  if (const Device dev = fusion::resolve_device(o.device); dev.is_cuda() && !o.plan)
    report["machine"]["device"] = ops::device_summary(dev);
  if (!o.plan) report["machine"]["runtime_baseline_rss_bytes"] = runtime_baseline();
  report["options"] = {{"preset", o.preset},
                       {"length", o.length},
                       {"classes", o.classes},
                       {"warmup", o.warmup},
                       {"steps", o.steps},
                       {"zo_chunk", o.zo_chunk},
                       {"gradient_checkpointing", o.gradient_checkpointing},
                       {"coef", o.coef},
                       {"plan", o.plan}};
  report["results"] = nlohmann::json::array();
  for (const std::string& mode : o.modes)
    for (int64_t b : o.batches) {
      if (uses_bp_batch(mode) && b < o.bp_batch) continue;
      nlohmann::json r = run_one(o, mode, b);
      if (!o.quiet && o.plan)
        fmt::print(stderr, "{:<9} B={:<4} planned ledger peak {:10.1f} MiB\n", mode, b,
                   r["ledger_peak_bytes"].get<int64_t>() / kMiB);
      else if (!o.quiet)
        fmt::print(stderr, "{:<9} B={:<4} {:8.3f} s/step  {:8.1f} samples/s  ledger {:8.1f} MiB  RSS {:8.1f} MiB\n",
                   mode, b, r["median_s"].get<double>(), r["samples_per_s"].get<double>(),
                   r["ledger_peak_bytes"].get<int64_t>() / kMiB, r["rss_peak_bytes"].get<int64_t>() / kMiB);
      report["results"].push_back(std::move(r));
    }
  return report;
}

std::string step_bench_table(const nlohmann::json& report) {
  if (report.at("options").value("plan", false)) {
    std::string t = "| mode | B | b | r | trainable | planned ledger peak MiB | by tag (MiB) |\n"
                    "|---|---:|---:|---:|---:|---:|---|\n";
    for (const auto& r : report.at("results")) {
      std::vector<std::string> tags;
      for (const auto& [tag, bytes] : r["ledger_peak_by_tag"].items())
        tags.push_back(fmt::format("{} {:.1f}", tag, bytes.get<int64_t>() / kMiB));
      t += fmt::format("| {} | {} | {} | {} | {} | {:.1f} | {} |\n", r["mode"].get<std::string>(),
                       r["batch"].get<int64_t>(), r["bp_batch"].get<int64_t>(), r["rank"].get<int64_t>(),
                       r["trainable"].get<int64_t>(), r["ledger_peak_bytes"].get<int64_t>() / kMiB,
                       fmt::join(tags, ", "));
    }
    return t;
  }
  std::string t = "| mode | B | b | r | trainable | median s/step | min | max | samples/s | ledger peak MiB | peak RSS MiB |\n"
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : report.at("results"))
    t += fmt::format("| {} | {} | {} | {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.1f} | {:.1f} | {:.1f} |\n",
                     r["mode"].get<std::string>(), r["batch"].get<int64_t>(), r["bp_batch"].get<int64_t>(),
                     r["rank"].get<int64_t>(), r["trainable"].get<int64_t>(), r["median_s"].get<double>(),
                     r["min_s"].get<double>(), r["max_s"].get<double>(), r["samples_per_s"].get<double>(),
                     r["ledger_peak_bytes"].get<int64_t>() / kMiB, r["rss_peak_bytes"].get<int64_t>() / kMiB);
  return t;
}

void step_bench_memory_chart(const nlohmann::json& report, const std::string& path) {
  const nlohmann::json& opt = report.at("options");
  plot::LineChart chart;
  chart.title = fmt::format("{}: ledger peak per step, {}", opt.at("preset").get<std::string>(),
                            opt.value("plan", false) ? "planned (exact)" : "measured");
  chart.x_label = "batch B";
  chart.y_label = "peak MiB";
  chart.log_x = chart.log_y = true;
  chart.legend_left = true;  // memory rises with the batch: the top-left corner is the empty one
  std::map<std::string, size_t> index;
  for (const auto& r : report.at("results")) {
    std::string name = r["mode"].get<std::string>();
    if (name == "fusion" || name == "fo_micro") name += fmt::format(" (b={})", r["bp_batch"].get<int64_t>());
    if (r["rank"].get<int64_t>() > 0) name += fmt::format(" r={}", r["rank"].get<int64_t>());
    if (!index.contains(name)) {
      index[name] = chart.series.size();
      chart.series.push_back({name, {}, {}});
    }
    plot::Series& s = chart.series[index[name]];
    s.x.push_back(static_cast<double>(r["batch"].get<int64_t>()));
    s.y.push_back(static_cast<double>(r["ledger_peak_bytes"].get<int64_t>()) / kMiB);
  }
  plot::write_png(chart, path);
}

}  // namespace agf::bench
