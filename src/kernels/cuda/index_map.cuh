#pragma once
// Index arithmetic shared by the reduction and pooling kernels (reduce.cu, pool.cu): a strided descriptor with a fast
// divider per dim, so that a kernel maps a linear index to each operand's offset with multiply-highs instead of
// 64-bit divisions. nvcc only.
#include <cstdint>

#include "tensor/cuda/launch_util.h"

namespace agf::cuda::ix {

constexpr int kThreads = 256;
constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int64_t kNarrow = int64_t{1} << 31;  // linear indices below this take the 32-bit division

// ------------------------------------------------------------------------------------------------ index arithmetic

// n / d for 0 <= n < 2^31 and 1 <= d < 2^31 as a multiply-high, an add and a shift (Granlund and Montgomery, the
// scheme of PyTorch's IntDivider): a 64-bit `/` is a long software sequence on the GPU, and these kernels divide once
// per dim for every element they visit.
struct FastDiv {
  uint32_t d = 1, magic = 1, shift = 0;
  FastDiv() = default;
  explicit FastDiv(int64_t divisor) : d(divisor < 1 || divisor >= kNarrow ? 1u : static_cast<uint32_t>(divisor)) {
    while (shift < 32 && (uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<uint32_t>((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d) / d + 1);
  }
  __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, magic) + n) >> shift; }
};

// n / d for any 0 <= n, d >= 1, the fast way when every numerator it will see is below 2^31.
struct Divisor {
  FastDiv fast;
  int64_t d = 1;
  bool narrow = true;
  Divisor() = default;
  Divisor(int64_t divisor, int64_t max_numerator)
      : fast(divisor), d(divisor < 1 ? 1 : divisor), narrow(max_numerator < kNarrow && d < kNarrow) {}
  __device__ __forceinline__ int64_t div(int64_t n) const {
    return narrow ? static_cast<int64_t>(fast.div(static_cast<uint32_t>(n))) : n / d;
  }
};

// A StridedDesc with a divider per dim: linear index (row-major over sizes) -> element offset of each operand.
template <int N>
struct IndexMap {
  int ndim = 0;
  bool narrow = true;  // every linear index < 2^31
  FastDiv div[kMaxLaunchDims];
  int64_t sizes[kMaxLaunchDims] = {};
  int64_t strides[N][kMaxLaunchDims] = {};
};

template <int N>
inline int64_t desc_numel(const StridedDesc<N>& d) {
  int64_t n = 1;
  for (int i = 0; i < d.ndim; ++i) n *= d.sizes[i];
  return n;
}

template <int N>
inline IndexMap<N> index_map(const StridedDesc<N>& d) {
  IndexMap<N> m;
  m.ndim = d.ndim;
  for (int i = 0; i < d.ndim; ++i) {
    m.sizes[i] = d.sizes[i];
    m.div[i] = FastDiv(d.sizes[i]);
    for (int k = 0; k < N; ++k) m.strides[k][i] = d.strides[k][i];
  }
  m.narrow = desc_numel(d) < kNarrow;
  return m;
}

// The offsets of linear index i. The outermost dim needs no division, so one and two dims (the common merged
// shapes) cost zero and one.
template <int N>
__device__ __forceinline__ void map_offsets(const IndexMap<N>& m, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  if (m.ndim == 0) return;
  if (m.narrow) {
    uint32_t rem = static_cast<uint32_t>(i);
    for (int d = m.ndim - 1; d > 0; --d) {
      const uint32_t q = m.div[d].div(rem);
      const int64_t idx = rem - q * m.div[d].d;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += idx * m.strides[k][d];
      rem = q;
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(rem) * m.strides[k][0];
    return;
  }
  for (int d = m.ndim - 1; d > 0; --d) {
    const int64_t q = i / m.sizes[d];
    const int64_t idx = i - q * m.sizes[d];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += idx * m.strides[k][d];
    i = q;
  }
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] += i * m.strides[k][0];
}

}  // namespace agf::cuda::ix
