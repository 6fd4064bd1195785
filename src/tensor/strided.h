#pragma once
// N-operand strided iteration shared by copies and the CPU element-wise kernels: dims that are contiguous for
// every operand are merged, the innermost dim becomes a plain loop, and the outer index space is split across
// OpenMP threads. Offsets and strides are in elements.
#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tensor/error.h"
#include "tensor/shape.h"

namespace agf {

template <int N>
struct StridedPlan {
  int ndim = 0;
  std::array<int64_t, kMaxDims> sizes{};
  std::array<std::array<int64_t, kMaxDims>, N> strides{};
  int64_t numel = 1;

  StridedPlan(const Shape& shape, const std::array<const int64_t*, N>& op_strides) {
    AGF_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "tensors of more than {} dims are not supported ({})",
              kMaxDims, shape_str(shape));
    // Drop size-1 dims, then merge neighbours (outer d, inner d+1) that are contiguous for every operand.
    for (size_t d = 0; d < shape.size(); ++d) {
      numel *= shape[d];
      if (shape[d] == 1) continue;
      if (ndim > 0) {
        bool mergeable = true;
        for (int k = 0; k < N; ++k)
          if (strides[k][ndim - 1] != op_strides[k][d] * shape[d]) mergeable = false;
        if (mergeable) {
          sizes[ndim - 1] *= shape[d];
          for (int k = 0; k < N; ++k) strides[k][ndim - 1] = op_strides[k][d];
          continue;
        }
      }
      sizes[ndim] = shape[d];
      for (int k = 0; k < N; ++k) strides[k][ndim] = op_strides[k][d];
      ndim++;
    }
  }

  // Calls f(offsets, n, inner_strides) for every run of the innermost dim; runs are split over OpenMP threads
  // when there are many of them and the total work exceeds `grain` elements. With `split_runs` a single run (a
  // contiguous tensor) is cut into pieces for the threads too: only for element-wise f, whose calls on disjoint
  // pieces touch disjoint outputs (not for a reduction that accumulates along the run).
  template <typename F>
  void run(F&& f, int64_t grain = 32768, bool split_runs = false) const {
    if (numel == 0) return;
    if (ndim == 0) {
      std::array<int64_t, N> off{};
      std::array<int64_t, N> inner{};
      f(off, int64_t{1}, inner);
      return;
    }
    const int64_t inner_n = sizes[ndim - 1];
    std::array<int64_t, N> inner{};
    for (int k = 0; k < N; ++k) inner[k] = strides[k][ndim - 1];
    const int64_t outer = numel / inner_n;
    auto do_range = [&](int64_t begin, int64_t end) {
      std::array<int64_t, kMaxDims> idx{};
      int64_t rem = begin;
      for (int d = ndim - 2; d >= 0; --d) {
        idx[d] = rem % sizes[d];
        rem /= sizes[d];
      }
      for (int64_t o = begin; o < end; ++o) {
        std::array<int64_t, N> off{};
        for (int k = 0; k < N; ++k)
          for (int d = 0; d < ndim - 1; ++d) off[k] += idx[d] * strides[k][d];
        f(off, inner_n, inner);
        for (int d = ndim - 2; d >= 0; --d) {
          if (++idx[d] < sizes[d]) break;
          idx[d] = 0;
        }
      }
    };
    if (numel < grain || (outer == 1 && !split_runs)) {
      do_range(0, outer);
      return;
    }
    if (outer == 1) {
      // One run (a contiguous tensor, dims merged): its elements are split over the threads instead, in pieces of
      // whole cache lines. The element order within each piece is unchanged, so results do not depend on threads.
#pragma omp parallel
      {
        const auto [b, e] = thread_share(inner_n, 16);
        if (b < e) {
          std::array<int64_t, N> off{};
          for (int k = 0; k < N; ++k) off[k] = b * inner[k];
          f(off, e - b, inner);
        }
      }
      return;
    }
#pragma omp parallel
    {
      const auto [b, e] = thread_share(outer, 1);
      if (b < e) do_range(b, e);
    }
  }

 private:
  // This thread's [begin, end) of n items split evenly over the team, in pieces that are multiples of `align`.
  static std::pair<int64_t, int64_t> thread_share(int64_t n, int64_t align) {
#ifdef _OPENMP
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
    const int64_t nt = 1, t = 0;
#endif
    const int64_t piece = ((n + nt - 1) / nt + align - 1) / align * align;
    const int64_t b = std::min(n, t * piece);
    return {b, std::min(n, b + piece)};
  }
};

}  // namespace agf
