// Batched matrix multiplication on the CPU: one BLAS GEMM per batch matrix, or a single GEMM when a weight shared
// by every batch (stride-0 batch dims) lets the batch fold into the rows of the other operand.
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"
#include "tensor/planning.h"

namespace agf::cpu {

using ::agf::blas::batch_is_broadcast;
using ::agf::blas::batch_offset;
using ::agf::blas::folded_row_stride;
using ::agf::blas::gemm_dims;

void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in, bool trans_a, bool trans_b, double alpha,
            double beta) {
  const int64_t nd = out.dim();
  const auto [m, n, k, batches] = gemm_dims(out, a_in, trans_a);
  if (out.numel() == 0) return;
  const Tensor a = blas::make_blas_ready(a_in);
  const Tensor b = blas::make_blas_ready(b_in);
  const blas::MatrixLayout la = blas::matrix_layout(a), lb = blas::matrix_layout(b);
  if (planning()) return;  // the copies above are the workspace a plan must see

  dispatch_float(out.dtype(), "matmul", [&]<typename T>() {
    const auto* ap = static_cast<const T*>(a.raw_data());
    const auto* bp = static_cast<const T*>(b.raw_data());
    auto* cp = static_cast<T*>(out.raw_data());
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);

    // x @ W with W shared by every batch (a Linear layer, qkv projection): one tall GEMM instead of `batches`.
    if (batches > 1 && !trans_a && batch_is_broadcast(b)) {
      const int64_t rs = folded_row_stride(a);
      const blas::MatrixLayout lf = rs > 0 ? blas::matrix_layout(batches * m, k, rs, a.stride(nd - 1))
                                           : blas::MatrixLayout{};
      if (lf.ok && !lf.transposed) {
        blas::gemm<T>(false, trans_b != lb.transposed, batches * m, n, k, al, ap, lf.ld, bp, lb.ld, be, cp, n);
        return;
      }
    }
    for (int64_t i = 0; i < batches; ++i)
      blas::gemm<T>(trans_a != la.transposed, trans_b != lb.transposed, m, n, k, al, ap + batch_offset(a, i), la.ld,
                    bp + batch_offset(b, i), lb.ld, be, cp + i * m * n, n);
  });
}

}  // namespace agf::cpu
