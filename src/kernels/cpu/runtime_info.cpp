#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/ops.h"
#ifdef AGF_WITH_CUDA
#include "kernels/cuda/cuda_ops.h"
#endif

namespace agf::ops {

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

int blas_core_width(const std::string& core) {
  const std::string name = lower(core);
  for (const char* n : {"skylakex", "cooperlake", "sapphirerapids"})
    if (name == n) return 3;
  for (const char* n : {"haswell", "zen", "excavator"})
    if (name == n) return 2;
  for (const char* n : {"sandybridge", "bulldozer", "piledriver", "steamroller"})
    if (name == n) return 1;
  return 0;
}

bool same_blas_core(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

std::string widest_blas_core() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
  return "";
}

std::string cpu_backend_summary() {
  const char* config = openblas_get_config();
  const char* core = openblas_get_corename();
  // Set by the apps when they chose a wider core than OpenBLAS's own pick (apps/app_main.h, set_up_cpu_runtime).
  const char* pick = std::getenv("AGF_BLAS_CORE_OPENBLAS_PICK");
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  std::string chosen = pick != nullptr  ? fmt::format(", chosen by the engine; OpenBLAS picked {}", pick)
                       : user != nullptr ? std::string(", from OPENBLAS_CORETYPE")
                                         : std::string();
  const std::string widest = widest_blas_core();
  std::string warning;
  if (core != nullptr && blas_core_width(core) < blas_core_width(widest))
    warning = fmt::format("; SLOW PATH: this CPU runs the wider {} kernels (unset OPENBLAS_CORETYPE and "
                          "AGF_BLAS_CORE to let the engine choose)", widest);
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  return fmt::format("CPU kernels: {} OpenMP threads (wait policy {}); BLAS {} (core {}{}, {} threads){}; {}",
                     omp_get_max_threads(), wait != nullptr ? wait : "libgomp's default: spin, then sleep",
                     config ? config : "?",
                     core ? core : "?", chosen, openblas_get_num_threads(), warning, cpu::onednn_summary());
}

}  // namespace agf::ops

namespace agf::ops {

std::string device_summary(Device device) {
  if (device.is_cpu()) return cpu_backend_summary();
  require_device(device);
#ifdef AGF_WITH_CUDA
  return "CUDA kernels on " + cuda::backend_summary(device.index);
#else
  AGF_FAIL("device {}: {}", device, cuda_unavailable_reason());
#endif
}

}  // namespace agf::ops
