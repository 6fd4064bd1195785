// agf-kernels: the kernel regression harness from the command line.
//   agf-kernels                 check every op on the CPU (and CUDA against CPU when a device answers)
//   agf-kernels -o conv1d -v    one op, every check's line
//   agf-kernels --perf -o conv1d --device cuda   time the forward, GFLOP/s and GB/s
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "kernels/harness.h"

using namespace agf;

int main(int argc, char** argv) {
  CLI::App app{"agf-kernels: kernel regression harness (float64 references, guard bytes, finite differences)"};
  std::string op, device_name = "cpu", dtype_name = "f32";
  bool perf = false, list = false, verbose = false, no_grad = false;
  double seconds = 0.3;
  app.add_option("-o,--op", op, "run only this op (see --list)");
  app.add_flag("--perf", perf, "time the forward of each case instead of checking it");
  app.add_option("--device", device_name, "device for --perf: cpu or cuda[:N]");
  app.add_option("--dtype", dtype_name, "dtype for --perf: f32 or f64");
  app.add_option("--seconds", seconds, "minimum timing per case in --perf");
  app.add_flag("--list", list, "list ops and their cases");
  app.add_flag("--no-grad", no_grad, "skip the finite-difference gradient checks");
  app.add_flag("-v,--verbose", verbose, "print every check");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto& cases = kt::all_cases();
    if (!op.empty()) {
      const auto names = kt::op_names();
      if (std::find(names.begin(), names.end(), op) == names.end()) {
        fmt::print(stderr, "agf-kernels: unknown op '{}' (known: {})\n", op, fmt::join(names, ", "));
        return 2;
      }
    }
    if (list) {
      for (const auto& c : cases)
        if (op.empty() || c.op == op) fmt::print("{:<14} {}{}\n", c.op, c.name, c.perf_only ? "  (perf)" : "");
      return 0;
    }
    if (perf) {
      const Device dev = parse_device(device_name);
      require_device(dev);
      const DType dt = parse_dtype(dtype_name);
      fmt::print("{:<14} {:<48} {:>10} {:>10} {:>10}\n", "op", "case", "ms", "GFLOP/s", "GB/s");
      for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
        const auto& c = cases[i];
        if (!op.empty() && c.op != op) continue;
        const auto r = kt::time_case(c, i, dev, dt, seconds);
        fmt::print("{:<14} {:<48} {:>10.4f} {:>10.2f} {:>10.2f}\n", c.op, c.name, r.ms, r.gflops, r.gbytes_per_s);
      }
      return 0;
    }
    int passed = 0, failed = 0;
    const bool gpu = cuda_available();
    if (!gpu) fmt::print("CUDA comparisons skipped: {}\n", cuda_unavailable_reason());
    kt::BackendTable table(gpu ? std::string() : cuda_unavailable_reason());
    for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
      const auto& c = cases[i];
      if ((!op.empty() && c.op != op) || c.perf_only) continue;
      kt::RunOptions opt;
      opt.gradients = !no_grad;
      // The CPU checks and the CUDA comparison run separately, so each lands in its own column of the table.
      opt.gpu = false;
      kt::Outcome o = kt::run_case(c, i, opt);
      table.add_cpu(c.op, o.ok);
      if (gpu) {
        const kt::Outcome g = kt::run_case(c, i, {false, false, false, true});
        table.add_cuda(c.op, g);
        o.ok = o.ok && g.ok;
        o.lines.insert(o.lines.end(), g.lines.begin(), g.lines.end());
      }
      (o.ok ? passed : failed)++;
      fmt::print("{} {:<14} {}\n", o.ok ? "ok  " : "FAIL", c.op, c.name);
      if (verbose || !o.ok)
        for (const auto& l : o.lines) fmt::print("       {}\n", l);
    }
    fmt::print("\n{}\n{} passed, {} failed\n", table.str(), passed, failed);
    return failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "agf-kernels: {}\n", e.what());
    return 1;
  }
}
