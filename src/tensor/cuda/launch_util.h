#pragma once
// Launch helpers for .cu files. Deliberately free of fmt and of the Tensor headers: nvcc compiles only kernels
// and thin launchers that take plain pointers and sizes, and the C++ side (compiled by g++) does the rest.
#include <cstdint>

namespace agf::cuda {

inline constexpr int kMaxLaunchDims = 8;

// Sizes and per-operand element strides of an N-d iteration, passed to kernels by value.
template <int N>
struct StridedDesc {
  int ndim = 0;
  int64_t sizes[kMaxLaunchDims] = {};
  int64_t strides[N][kMaxLaunchDims] = {};
};

// The most blocks a launch gets: grid-stride loops cover the rest. Tests lower it (set_grid_cap) so that small
// shapes wrap the loop too, the path a real launch only takes past 2^31 elements.
inline int64_t& grid_cap_ref() {
  static int64_t cap = 65535LL * 32;
  return cap;
}
inline int64_t grid_cap() { return grid_cap_ref(); }
// Returns the previous cap; cap >= 1.
inline int64_t set_grid_cap(int64_t cap) {
  const int64_t prev = grid_cap_ref();
  grid_cap_ref() = cap < 1 ? 1 : cap;
  return prev;
}

// Grid size for n elements at `threads` per block, capped so that grid-stride loops cover the rest.
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = grid_cap();
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}
// Grid size for kernels with one block per row (or channel, or output): `rows` blocks, capped likewise.
inline unsigned grid_for_rows(int64_t rows) { return grid_for(rows, 1); }

#if defined(__CUDACC__)
// Element offsets of linear index i (row-major over d.sizes) for each of the N operands.
template <int N>
__device__ __forceinline__ void offsets(const StridedDesc<N>& d, int64_t i, int64_t (&off)[N]) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int dim = d.ndim - 1; dim >= 0; --dim) {
    const int64_t idx = i % d.sizes[dim];
    i /= d.sizes[dim];
    for (int k = 0; k < N; ++k) off[k] += idx * d.strides[k][dim];
  }
}

// A product and a sum rounded each on its own, never contracted into an FMA (nvcc's default, --fmad=true): where a
// kernel must round as the CPU build, which does not fuse them, does.
__device__ __forceinline__ float mul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul_rn(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add_rn(double a, double b) { return __dadd_rn(a, b); }

// A grid-stride loop: any grid size covers all n elements (grid_for caps the grid).
#define AGF_GRID_STRIDE_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)
// The same over rows with one block per row: every thread of the block sees the same `row`.
#define AGF_BLOCK_STRIDE_LOOP(row, rows) for (int64_t row = blockIdx.x; row < (rows); row += gridDim.x)
#endif

}  // namespace agf::cuda
