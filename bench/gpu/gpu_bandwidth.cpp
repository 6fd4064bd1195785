// agf-gpu-bandwidth: the memory-bound kernels of AdaGrad-Fusion on a GPU against the device's own copy rate, the
// figures issue 12 asks for ("perturbation bandwidth as a fraction of a device-to-device copy, target >= 80%; the
// fused update likewise"). Each kernel runs on tensors of --mib MiB (float32) and is timed over --seconds after a
// warm-up, with the device synchronised around the loop; bytes moved count each read and each write once:
//   copy (dst = src)                 2 x size
//   perturb_ (theta += s z)          2 x size  (z regenerated from Philox, never read)
//   adamw_step_ (p, g, m, v)         7 x size  (read p g m v, write p m v)
//   fused_adamw_ (p, m, v; g_fo, z)  7 x size  (read p m v g_fo, write p m v; z regenerated)
//   spsa_perturb_ (the whole set)    2 x size
// A kernel the CUDA backend does not have yet is reported as unsupported with the engine's own message, never
// skipped silently. Without a usable device it prints one line saying why and exits 0 (the rehearsal relies on it).
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "kernels/ops.h"
#include "tensor/device.h"
#include "tensor/tensor.h"

using namespace agf;

namespace {

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Timing {
  bool supported = true;
  std::string why;
  double ms = 0, gbs = 0;
};

Timing time_kernel(const std::function<void()>& f, double bytes, double min_seconds) {
  Timing t;
  try {
    f();  // warm-up, and the first place an unsupported kernel says so
    cuda_synchronize();
    int n = 0;
    const double t0 = seconds_now();
    double t1 = t0;
    while (n < 3 || t1 - t0 < min_seconds) {
      f();
      ++n;
      if (n % 4 == 0 || n < 4) {
        cuda_synchronize();
        t1 = seconds_now();
      }
    }
    cuda_synchronize();
    t1 = seconds_now();
    t.ms = (t1 - t0) * 1e3 / n;
    t.gbs = bytes / ((t1 - t0) / n) / 1e9;
  } catch (const std::exception& e) {
    t.supported = false;
    t.why = e.what();
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"agf-gpu-bandwidth: perturbation and update kernels against a device-to-device copy"};
  int64_t mib = 1024;
  double min_seconds = 0.5;
  std::string json_path, device_name = "cuda:0";
  app.add_option("--mib", mib, "size of each tensor in MiB (float32)")->capture_default_str();
  app.add_option("--seconds", min_seconds, "minimum timed seconds per kernel")->capture_default_str();
  app.add_option("--device", device_name, "CUDA device")->capture_default_str();
  app.add_option("--json", json_path, "also write the figures to this JSON file");
  CLI11_PARSE(app, argc, argv);

  if (!cuda_available()) {
    fmt::print("agf-gpu-bandwidth: skipped: {}\n", cuda_unavailable_reason());
    return 0;
  }
  try {
    const Device dev = parse_device(device_name);
    require_device(dev);
    const int64_t n = mib * (int64_t{1} << 20) / 4;
    const double size = static_cast<double>(n) * 4.0;
    Tensor a = empty({n}, DType::f32, dev), b = empty({n}, DType::f32, dev), m = empty({n}, DType::f32, dev),
           v = empty({n}, DType::f32, dev);
    a.fill_(0.5);
    b.fill_(0.25);
    m.fill_(0.0);
    v.fill_(0.0);
    ops::AdamWArgs args;
    args.lr = 1e-4;
    args.step = 1;
    ops::FusedGradient fg;
    fg.g_fo = b;
    fg.fo_scale = 0.9;
    fg.zo_scale = 0.1;
    fg.direction.queries = {{1234, 1.0f}};
    ops::SpsaDirection dir;
    dir.queries = {{1234, 1.0f}};

    nlohmann::json out;
    out["device"] = cuda_device_name(dev.index);
    out["tensor_mib"] = mib;
    const Timing copy = time_kernel([&] { b.copy_(a); }, 2 * size, min_seconds);
    const std::vector<std::pair<std::string, std::pair<std::function<void()>, double>>> kernels = {
        {"perturb_", {[&] { ops::perturb_(a, 1234, 0, 1e-3); }, 2 * size}},
        {"spsa_perturb_", {[&] { ops::spsa_perturb_({a}, {0}, dir, 1e-3); }, 2 * size}},
        {"adamw_step_", {[&] { ops::adamw_step_(a, b, m, v, args); }, 7 * size}},
        {"fused_adamw_", {[&] { ops::fused_adamw_(a, m, v, fg, args); }, 7 * size}},
    };
    fmt::print("{:<16} {:>10} {:>10} {:>10}\n", "kernel", "ms", "GB/s", "of copy");
    fmt::print("{:<16} {:>10.3f} {:>10.1f} {:>10}\n", "copy", copy.ms, copy.gbs, "1.00");
    out["copy"] = {{"ms", copy.ms}, {"gb_per_s", copy.gbs}};
    for (const auto& [name, k] : kernels) {
      const Timing t = time_kernel(k.first, k.second, min_seconds);
      if (!t.supported) {
        fmt::print("{:<16} unsupported: {}\n", name, t.why);
        out[name] = {{"supported", false}, {"why", t.why}};
        continue;
      }
      const double frac = copy.gbs > 0 ? t.gbs / copy.gbs : 0.0;
      fmt::print("{:<16} {:>10.3f} {:>10.1f} {:>10.2f}\n", name, t.ms, t.gbs, frac);
      out[name] = {{"supported", true}, {"ms", t.ms}, {"gb_per_s", t.gbs}, {"fraction_of_copy", frac}};
    }
    if (!json_path.empty()) {
      std::FILE* f = std::fopen(json_path.c_str(), "w");
      if (f == nullptr) throw std::runtime_error("cannot write " + json_path);
      std::fputs(out.dump(2).c_str(), f);
      std::fclose(f);
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "agf-gpu-bandwidth: {}\n", e.what());
    return 1;
  }
}
