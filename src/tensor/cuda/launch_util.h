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

// Grid size for n elements at `threads` per block, capped so that grid-stride loops cover the rest.
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t blocks = (n + threads - 1) / threads;
  constexpr int64_t kMaxBlocks = 65535LL * 32;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

}  // namespace agf::cuda
