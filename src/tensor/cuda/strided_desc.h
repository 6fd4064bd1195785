#pragma once
// Builds a kernel's StridedDesc from tensors on the C++ side, with dims merged where every operand allows it
// (the same coalescing as the CPU loops), so kernels do the fewest index divisions.
#include <array>

#include "tensor/cuda/launch_util.h"
#include "tensor/strided.h"

namespace agf::cuda {

template <int N>
StridedDesc<N> strided_desc(const Shape& shape, const std::array<const int64_t*, N>& strides) {
  const StridedPlan<N> plan(shape, strides);
  StridedDesc<N> d;
  d.ndim = plan.ndim;
  for (int i = 0; i < plan.ndim; ++i) {
    d.sizes[i] = plan.sizes[i];
    for (int k = 0; k < N; ++k) d.strides[k][i] = plan.strides[k][i];
  }
  return d;
}

}  // namespace agf::cuda
