// The harness self-test's flawed CUDA kernel (see flawed_kernel.h).
#include "kernels/flawed_kernel.h"
#include "tensor/cuda/launch_util.h"
#include "tensor/cuda/stream.h"

namespace agf::kt {

namespace {

__global__ void flawed_double(float* out, const float* x, int64_t n, int flaw) {
  if (flaw == static_cast<int>(CudaFlaw::no_grid_stride)) {
    const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (i < n) out[i] = 2.0f * x[i];
    return;
  }
  AGF_GRID_STRIDE_LOOP(i, n) {
    out[i] = 2.0f * x[i];
    if (flaw == static_cast<int>(CudaFlaw::overrun) && i == n - 1) out[n] = 0.0f;
  }
}

}  // namespace

cudaError_t launch_flawed_double(float* out, const float* x, int64_t n, CudaFlaw flaw) {
  flawed_double<<<cuda::grid_for(n), 256, 0, cuda::current_stream()>>>(out, x, n, static_cast<int>(flaw));
  return cudaGetLastError();
}

}  // namespace agf::kt
