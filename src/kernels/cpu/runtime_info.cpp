#include <cblas.h>
#include <omp.h>

#include "kernels/ops.h"

namespace agf::ops {

std::string cpu_backend_summary() {
  const char* config = openblas_get_config();
  const char* core = openblas_get_corename();
  return fmt::format("CPU kernels: {} OpenMP threads; BLAS {} (core {}, {} threads)", omp_get_max_threads(),
                     config ? config : "?", core ? core : "?", openblas_get_num_threads());
}

}  // namespace agf::ops
