#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf::ops {

void perturb_(const Tensor& param, uint64_t seed, uint64_t offset, double scale) {
  AGF_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, "perturb_: {} (f32 or f64 expected)",
            param.describe());
  // Contiguity makes element i of the tensor element i of its counter range, whatever the launch shape.
  AGF_CHECK(param.is_contiguous(), "perturb_: {} must be contiguous (parameters always are)", param.describe());
  param.storage()->bump_version();
  AGF_DISPATCH_BACKEND(param.device(), perturb(param, seed, offset, scale));
}

}  // namespace agf::ops
