#pragma once
// Row addressing for the CPU kernels that work on whole rows of the last dim (layer norm, softmax) and on
// per-channel slices (batch norm): a row index becomes an element offset for any strides of the leading dims, so
// the kernels read transposed or strided views directly instead of copying them. Reductions over rows split the
// rows into fixed-size chunks, so their result does not depend on the number of threads.
#include <cstdint>

#include "tensor/tensor.h"

namespace agf::cpu {

// Offsets of the rows of a (..., D) tensor: element 0 of row r, r in row-major order of the leading dims.
struct RowWalker {
  int ndim = 0;
  int64_t sizes[kMaxDims]{};
  int64_t strides[kMaxDims]{};

  RowWalker() = default;
  // The leading dims of t (all but the last); with last_dim_is_row = false, every dim of t (one element per row).
  explicit RowWalker(const Tensor& t, bool last_dim_is_row = true) {
    const int64_t n = last_dim_is_row ? t.dim() - 1 : t.dim();
    for (int64_t d = 0; d < n; ++d) {
      sizes[ndim] = t.size(d);
      strides[ndim] = t.stride(d);
      ++ndim;
    }
  }
  int64_t offset(int64_t row) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      off += (row % sizes[d]) * strides[d];
      row /= sizes[d];
    }
    return off;
  }
};

// Rows per chunk of a chunked reduction: enough work per chunk to be worth a thread, never fewer than one row.
inline int64_t rows_per_chunk(int64_t row_len) {
  constexpr int64_t kChunkElems = 1 << 14;
  return row_len >= kChunkElems ? 1 : kChunkElems / (row_len > 0 ? row_len : 1);
}

// Whether a loop over `work` elements is worth an OpenMP team.
inline bool worth_threads(int64_t work) { return work >= (1 << 15); }

}  // namespace agf::cpu
