#pragma once
// How a strided matrix is handed to a GEMM library, shared by OpenBLAS (kernels/cpu) and cuBLAS (kernels/cuda).
//
// Row-major BLAS reads a matrix whose column stride is 1 with ld = row stride; a matrix whose row stride is 1 (a
// transposed view) is the row-major transpose of its storage, so it goes to BLAS as that storage with the trans
// flag flipped. Any other layout has to be copied first (make_blas_ready).
#include <algorithm>
#include <cstdint>

#include "tensor/ledger.h"
#include "tensor/tensor.h"

namespace agf::blas {

// How a stored (rows, cols) matrix with element strides (row_stride, col_stride) is handed to row-major BLAS.
struct MatrixLayout {
  bool ok = false;          // false: the strides fit neither form, the matrix must be copied
  bool transposed = false;  // storage is the transpose of a row-major matrix (row stride 1)
  int64_t ld = 0;
};

// Strides of size-1 dims mean nothing (a view may leave anything there), so they are ignored.
inline MatrixLayout matrix_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  if (rows <= 0 || cols <= 0) return {true, false, cols > 0 ? cols : 1};
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= cols))
    return {true, false, rows == 1 ? cols : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= rows))
    return {true, true, cols == 1 ? rows : col_stride};
  return {};
}

// out = op(a) op(b) over the last two dims: its (m, n), the inner size k, and how many such products the leading
// dims of out hold.
struct GemmDims {
  int64_t m, n, k, batches;
};
inline GemmDims gemm_dims(const Tensor& out, const Tensor& a, bool trans_a) {
  const int64_t nd = out.dim();
  const int64_t m = out.size(nd - 2), n = out.size(nd - 1);
  return {m, n, trans_a ? a.size(nd - 2) : a.size(nd - 1), out.numel() / std::max<int64_t>(m * n, 1)};
}

// The layout of the last two dims of t.
inline MatrixLayout matrix_layout(const Tensor& t) {
  const int64_t nd = t.dim();
  return matrix_layout(t.size(nd - 2), t.size(nd - 1), t.stride(nd - 2), t.stride(nd - 1));
}

// t itself when its matrices (last two dims) can go to BLAS as they are; otherwise a copy with contiguous
// matrices. Batch dims of stride 0 stay broadcast, so an expanded operand is not materialised once per batch.
inline Tensor make_blas_ready(const Tensor& t) {
  if (matrix_layout(t).ok) return t;
  Tensor compact = t;
  for (int64_t d = 0; d + 2 < t.dim(); ++d)
    if (t.stride(d) == 0 && t.size(d) > 1) compact = compact.narrow(d, 0, 1);
  MemScope scope(MemTag::workspace);
  return compact.contiguous().expand(t.shape());
}

// Batch dims of a batched GEMM operand (all dims but the last two, already expanded to the output's):
// The row stride of a's batch and row dims taken together as one dim of rows, or 0 when they do not collapse
// (then each batch needs its own GEMM).
inline int64_t folded_row_stride(const Tensor& a) {
  const int64_t nd = a.dim();
  bool found = false;
  int64_t stride = 0, expected = 0;
  for (int64_t d = nd - 2; d >= 0; --d) {
    if (a.size(d) == 1) continue;
    if (!found) {
      found = true;
      stride = a.stride(d);
      expected = stride * a.size(d);
    } else {
      if (a.stride(d) != expected) return 0;
      expected *= a.size(d);
    }
  }
  if (!found) return a.size(nd - 1);  // all size 1: a single row
  return stride > 0 ? stride : 0;
}

inline bool batch_is_broadcast(const Tensor& t) {
  for (int64_t d = 0; d + 2 < t.dim(); ++d)
    if (t.size(d) > 1 && t.stride(d) != 0) return false;
  return true;
}

// Element offset of batch matrix `i` (row-major over the batch dims) in t.
inline int64_t batch_offset(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    off += (i % t.size(d)) * t.stride(d);
    i /= t.size(d);
  }
  return off;
}

// The one element stride between consecutive batch matrices of t (row-major over its batch dims), when its batch
// dims collapse into one (0 for a fully broadcast operand); -1 when they do not.
inline int64_t uniform_batch_stride(const Tensor& t) {
  int64_t stride = -1, span = 1;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (stride < 0) stride = t.stride(d);
    else if (t.stride(d) != stride * span) return -1;
    span *= t.size(d);
  }
  return stride < 0 ? 0 : stride;
}

}  // namespace agf::blas
