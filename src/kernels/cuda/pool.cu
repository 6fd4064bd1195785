// Pooling over the last dim and its backward passes: average and max, the CPU backend's semantics (cpu/pool.cpp):
// the average window summed in order in double, max by math::argmax_nan_first, and the backward passes as gathers
// in the CPU's order (no atomics), so results are bit-identical run to run and for any grid size.
#include "kernels/cuda/index_map.cuh"
#include "kernels/cuda/reduce_launch.h"
#include "kernels/element_math.h"
#include "tensor/cuda/stream.h"

namespace agf::cuda {

namespace {

using namespace ix;

// ------------------------------------------------------------------------------------------------ pooling

// One thread per output step, the window summed in order in double as the CPU does.
template <typename T>
__global__ void avg_pool1d_kernel(T* __restrict__ out, const T* __restrict__ x,
                                  const __grid_constant__ IndexMap<2> lead, Divisor steps, int64_t total, int64_t ys,
                                  int64_t xs, int64_t k, int64_t s) {
  AGF_GRID_STRIDE_LOOP(i, total) {
    const int64_t row = steps.div(i), t = i - row * steps.d;
    int64_t off[2];
    map_offsets(lead, row, off);
    const T* win = x + off[1] + t * s * xs;
    double acc = 0;
    for (int64_t j = 0; j < k; ++j) acc += static_cast<double>(win[j * xs]);
    out[off[0] + t * ys] = static_cast<T>(acc / static_cast<double>(k));
  }
}

// A gather: one thread per gx element sums, in increasing t, gy[t] / k of the windows t that cover it (t * s <= i <
// t * s + k), which is the CPU's scatter order, so the result is the same to the bit.
template <typename T>
__global__ void avg_pool1d_backward_kernel(T* __restrict__ gx, const T* __restrict__ gy,
                                           const __grid_constant__ IndexMap<2> lead, Divisor steps, Divisor stride,
                                           int64_t total, int64_t t_out, int64_t gxs, int64_t gys, int64_t k, T inv_k) {
  AGF_GRID_STRIDE_LOOP(i, total) {
    const int64_t row = steps.div(i), ti = i - row * steps.d;
    int64_t off[2];
    map_offsets(lead, row, off);
    const int64_t t_lo = ti < k ? 0 : stride.div(ti - k) + 1;
    const int64_t t_hi = min(stride.div(ti), t_out - 1);
    T acc = T(0);
    for (int64_t t = t_lo; t <= t_hi; ++t) acc += mul_rn(gy[off[1] + t * gys], inv_k);
    gx[off[0] + ti * gxs] = acc;
  }
}

// One thread per output step: the CPU's math::argmax_nan_first over the window.
template <typename T>
__global__ void max_pool1d_kernel(T* __restrict__ out, int64_t* __restrict__ indices, const T* __restrict__ x,
                                  const __grid_constant__ IndexMap<3> lead, Divisor steps, int64_t total, int64_t ys,
                                  int64_t is, int64_t xs, int64_t k, int64_t s) {
  AGF_GRID_STRIDE_LOOP(i, total) {
    const int64_t row = steps.div(i), t = i - row * steps.d;
    int64_t off[3];
    map_offsets(lead, row, off);
    const int64_t start = t * s;
    const T* win = x + off[2] + start * xs;
    const int64_t arg = math::argmax_nan_first(win, k, xs);
    out[off[0] + t * ys] = win[arg * xs];
    indices[off[1] + t * is] = start + arg;
  }
}

// One warp per row, without atomics and without knowing the window: the warp zeroes the row, then takes the steps
// 32 at a time; lanes whose indices are equal form a group (__match_any_sync) whose lowest lane adds the group's
// values to gx in lane order. Chunks go in increasing t, so every gx element sums its steps in increasing t from 0,
// the CPU's order, whatever the kernel size, stride or overlap.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    max_pool1d_backward_kernel(T* __restrict__ gx, const T* __restrict__ gy, const int64_t* __restrict__ indices,
                               const __grid_constant__ IndexMap<3> lead, int64_t rows, int64_t t_in, int64_t t_out,
                               int64_t gxs, int64_t gys, int64_t is, int64_t* bad) {
  __shared__ T vals[kThreads];
  const int lane = threadIdx.x % kWarp;
  T* my_vals = vals + (threadIdx.x - lane);
  const int64_t groups = blockDim.x / kWarp;
  for (int64_t row = blockIdx.x * groups + threadIdx.x / kWarp; row < rows; row += int64_t(gridDim.x) * groups) {
    int64_t off[3];
    map_offsets(lead, row, off);
    T* g = gx + off[0];
    for (int64_t i = lane; i < t_in; i += kWarp) g[i * gxs] = T(0);
    __syncwarp();
    for (int64_t base = 0; base < t_out; base += kWarp) {
      const int64_t t = base + lane;
      const bool active = t < t_out;
      const int64_t at = active ? indices[off[2] + t * is] : -1;
      const bool ok = active && at >= 0 && at < t_in;
      if (active && !ok) {
        bad[0] = 1;
        bad[1] = at;
      }
      my_vals[lane] = ok ? gy[off[1] + t * gys] : T(0);
      const unsigned group = __match_any_sync(kFullMask, ok ? at : int64_t{-1});
      __syncwarp();  // the chunk's values (and the previous chunk's sums in gx) are visible to the leaders
      if (ok && __ffs(group) - 1 == lane) {
        T acc = g[at * gxs];
        for (unsigned m = group; m != 0; m &= m - 1) acc += my_vals[__ffs(m) - 1];
        g[at * gxs] = acc;
      }
      __syncwarp();  // the leaders are done with vals and gx before the next chunk
    }
  }
}

}  // namespace

template <typename T>
cudaError_t launch_avg_pool1d(T* out, const T* x, const StridedDesc<2>& lead, int64_t t_out, int64_t ys, int64_t xs,
                              int64_t k, int64_t s) {
  const int64_t total = desc_numel(lead) * t_out;
  if (total == 0) return cudaSuccess;
  avg_pool1d_kernel<T><<<grid_for(total), kThreads, 0, current_stream()>>>(out, x, index_map(lead),
                                                                          Divisor(t_out, total), total, ys, xs, k, s);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_avg_pool1d_backward(T* gx, const T* gy, const StridedDesc<2>& lead, int64_t t_in, int64_t t_out,
                                       int64_t gxs, int64_t gys, int64_t k, int64_t s) {
  const int64_t total = desc_numel(lead) * t_in;
  if (total == 0) return cudaSuccess;
  const T inv_k = T(1) / static_cast<T>(k);  // the CPU's factor, rounded to T the same way
  avg_pool1d_backward_kernel<T><<<grid_for(total), kThreads, 0, current_stream()>>>(
      gx, gy, index_map(lead), Divisor(t_in, total), Divisor(s, t_in), total, t_out, gxs, gys, k, inv_k);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_max_pool1d(T* out, int64_t* indices, const T* x, const StridedDesc<3>& lead, int64_t t_out,
                              int64_t ys, int64_t is, int64_t xs, int64_t k, int64_t s) {
  const int64_t total = desc_numel(lead) * t_out;
  if (total == 0) return cudaSuccess;
  max_pool1d_kernel<T><<<grid_for(total), kThreads, 0, current_stream()>>>(
      out, indices, x, index_map(lead), Divisor(t_out, total), total, ys, is, xs, k, s);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_max_pool1d_backward(T* gx, const T* gy, const int64_t* indices, const StridedDesc<3>& lead,
                                       int64_t t_in, int64_t t_out, int64_t gxs, int64_t gys, int64_t is,
                                       int64_t* bad) {
  const int64_t rows = desc_numel(lead);
  if (rows == 0 || t_in == 0) return cudaSuccess;
  max_pool1d_backward_kernel<T><<<grid_for(rows * kWarp, kThreads), kThreads, 0, current_stream()>>>(
      gx, gy, indices, index_map(lead), rows, t_in, t_out, gxs, gys, is, bad);
  return cudaGetLastError();
}

#define AGF_INSTANTIATE(T)                                                                                          \
  template cudaError_t launch_avg_pool1d<T>(T*, const T*, const StridedDesc<2>&, int64_t, int64_t, int64_t,         \
                                            int64_t, int64_t);                                                      \
  template cudaError_t launch_avg_pool1d_backward<T>(T*, const T*, const StridedDesc<2>&, int64_t, int64_t,         \
                                                     int64_t, int64_t, int64_t, int64_t);                           \
  template cudaError_t launch_max_pool1d<T>(T*, int64_t*, const T*, const StridedDesc<3>&, int64_t, int64_t,        \
                                            int64_t, int64_t, int64_t, int64_t);                                    \
  template cudaError_t launch_max_pool1d_backward<T>(T*, const T*, const int64_t*, const StridedDesc<3>&, int64_t,  \
                                                     int64_t, int64_t, int64_t, int64_t, int64_t*);

AGF_INSTANTIATE(float)
AGF_INSTANTIATE(double)

}  // namespace agf::cuda
