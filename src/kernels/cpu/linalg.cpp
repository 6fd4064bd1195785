// Batched matrix multiplication on the CPU: one BLAS GEMM per batch matrix, or a single GEMM when a weight shared
// by every batch (stride-0 batch dims) lets the batch fold into the rows of the other operand.
#include <algorithm>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"
#include "tensor/planning.h"

namespace agf::cpu {

namespace {

// The row stride of a's batch and row dims taken together as one dim of rows, or 0 when they do not collapse
// (then each batch needs its own GEMM).
int64_t folded_row_stride(const Tensor& a) {
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

bool batch_is_broadcast(const Tensor& t) {
  for (int64_t d = 0; d + 2 < t.dim(); ++d)
    if (t.size(d) > 1 && t.stride(d) != 0) return false;
  return true;
}

// Element offset of batch matrix `i` (row-major over the batch dims) in t.
int64_t batch_offset(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    off += (i % t.size(d)) * t.stride(d);
    i /= t.size(d);
  }
  return off;
}

}  // namespace

void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in, bool trans_a, bool trans_b, double alpha,
            double beta) {
  const int64_t nd = out.dim();
  const int64_t m = out.size(nd - 2), n = out.size(nd - 1);
  const int64_t k = trans_a ? a_in.size(nd - 2) : a_in.size(nd - 1);
  const int64_t batches = out.numel() / std::max<int64_t>(m * n, 1);
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
