#pragma once
// A CUDA kernel with deliberate flaws, for the harness's self-test: the harness must pass the sound version and
// catch each flaw on the GPU. Plain types only (compiled by nvcc, called from doctest code).
#include <cuda_runtime.h>

#include <cstdint>

namespace agf::kt {

enum class CudaFlaw : int {
  none = 0,
  no_grid_stride = 1,  // each thread does one element: what lies past the grid is never written
  overrun = 2,         // one element written past the end
};
// out[i] = 2 x[i] for i < n (contiguous float), with the flaw.
cudaError_t launch_flawed_double(float* out, const float* x, int64_t n, CudaFlaw flaw);

}  // namespace agf::kt
