#pragma once
// BLAS GEMM on strided matrices, shared by the CPU matmul and conv1d kernels.
//
// Row-major BLAS reads a matrix whose column stride is 1 with ld = row stride; a matrix whose row stride is 1 (a
// transposed view) is the row-major transpose of its storage, so it goes to BLAS as that storage with the trans
// flag flipped. Any other layout has to be copied first (make_blas_ready). BLAS is called only from outside
// OpenMP regions: Debian's OpenBLAS runs its own pthreads, and nesting the two oversubscribes the cores.
#include <cblas.h>

#include <climits>
#include <cstdint>

#include "tensor/ledger.h"
#include "tensor/tensor.h"

namespace agf::cpu::blas {

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

inline int blas_int(int64_t v, const char* what) {
  AGF_CHECK(v >= 0 && v <= INT_MAX, "gemm: {} = {} does not fit BLAS's 32-bit integers", what, v);
  return static_cast<int>(v);
}

// C (m, n), row-major with ldc, = alpha op(A) op(B) + beta C; op(A) is (m, k), op(B) is (k, n).
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // Nothing to multiply; BLAS would also reject lda < 1 here. beta == 0 overwrites, as BLAS does.
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  const int im = blas_int(m, "M"), in = blas_int(n, "N"), ik = blas_int(k, "K");
  const int ilda = blas_int(lda, "lda"), ildb = blas_int(ldb, "ldb"), ildc = blas_int(ldc, "ldc");
  if constexpr (sizeof(T) == sizeof(float)) {
    cblas_sgemm(CblasRowMajor, ta, tb, im, in, ik, alpha, a, ilda, b, ildb, beta, c, ildc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, im, in, ik, alpha, a, ilda, b, ildb, beta, c, ildc);
  }
}

}  // namespace agf::cpu::blas
