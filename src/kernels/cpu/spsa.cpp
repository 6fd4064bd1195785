#include <algorithm>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/philox.h"

namespace agf::cpu {

void perturb(const Tensor& param, uint64_t seed, uint64_t offset, double scale) {
  dispatch_float(param.dtype(), "perturb_", [&]<typename scalar_t>() {
    auto* p = static_cast<scalar_t*>(param.raw_data());
    const int64_t n = param.numel();
    const auto a = static_cast<scalar_t>(scale);
    // Blocks of 4 elements share one Philox call; a block straddling the tensor's start is handled by the
    // scalar path through philox::normal, which gives the same values.
    const int64_t head = std::min<int64_t>(n, (4 - static_cast<int64_t>(offset & 3)) & 3);
    for (int64_t i = 0; i < head; ++i) p[i] = math::perturb(p[i], a, philox::normal(seed, offset + i));
    const int64_t nblocks = (n - head) / 4;
#pragma omp parallel for schedule(static) if (nblocks > 4096)
    for (int64_t b = 0; b < nblocks; ++b) {
      const int64_t i0 = head + 4 * b;
      float z[4];
      philox::normals_from_block(philox::block(seed, (offset + static_cast<uint64_t>(i0)) >> 2), z);
      for (int k = 0; k < 4; ++k) p[i0 + k] = math::perturb(p[i0 + k], a, z[k]);
    }
    for (int64_t i = head + 4 * nblocks; i < n; ++i) p[i] = math::perturb(p[i], a, philox::normal(seed, offset + i));
  });
}

}  // namespace agf::cpu
