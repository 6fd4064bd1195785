#pragma once
// BLAS GEMM on strided matrices, shared by the CPU matmul and conv1d kernels.
//
// How strided matrices go to BLAS is kernels/matrix_layout.h (shared with cuBLAS). BLAS is called only from outside
// OpenMP regions: Debian's OpenBLAS runs its own pthreads, and nesting the two oversubscribes the cores.
#include <cblas.h>

#include <climits>
#include <cstdint>

#include "kernels/matrix_layout.h"

namespace agf::cpu::blas {

using ::agf::blas::MatrixLayout;
using ::agf::blas::matrix_layout;
using ::agf::blas::make_blas_ready;

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
