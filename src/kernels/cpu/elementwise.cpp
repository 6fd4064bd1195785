#include <utility>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/strided.h"

namespace agf::cpu {

namespace {

// Calls f.template operator()<kOp>() with the run-time op as a compile-time constant, so the per-element switch of
// element_math.h folds away and the contiguous loops below vectorise (the same math, so the same results bit for
// bit). Outputs may alias inputs element for element (the in-place ops): GCC's runtime alias check sends such a loop
// to its scalar version, where leaky ReLU's select became a branch that random signs mispredict half the time (12% of
// a tinylight backprop step, forward and backward), so the contiguous loops say `omp simd`: no iteration reads what
// another writes, which holds for an output that is its input element for element.
template <typename Op, int N, typename F>
void with_op(Op op, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    (void)((static_cast<int>(op) == I ? (f.template operator()<static_cast<Op>(I)>(), true) : false) || ...);
  }(std::make_integer_sequence<int, N>{});
}

// Below this many elements one thread does the whole op (a team costs more than it saves).
constexpr int64_t kGrain = 32768;

}  // namespace

void unary(const Tensor& out, UnaryOp op, const Tensor& x, double p) {
  dispatch_float(x.dtype(), unary_op_name(op), [&]<typename scalar_t>() {
    auto* o = static_cast<scalar_t*>(out.raw_data());
    const auto* xi = static_cast<const scalar_t*>(x.raw_data());
    const auto param = static_cast<scalar_t>(p);
    with_op<UnaryOp, kNumUnaryOps>(op, [&]<UnaryOp kOp>() {
      StridedPlan<2>(out.shape(), {out.strides().data(), x.strides().data()})
          .run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
            scalar_t* oo = o + off[0];
            const scalar_t* xp = xi + off[1];
            if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
              for (int64_t i = 0; i < n; ++i) oo[i] = math::unary(kOp, xp[i], param);
            } else {
              for (int64_t i = 0; i < n; ++i) oo[i * st[0]] = math::unary(kOp, xp[i * st[1]], param);
            }
          }, kGrain, true);
    });
  });
}

void unary_backward(const Tensor& grad_x, UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y,
                    double p) {
  dispatch_float(x.dtype(), unary_op_name(op), [&]<typename scalar_t>() {
    auto* gx = static_cast<scalar_t*>(grad_x.raw_data());
    const auto* gy = static_cast<const scalar_t*>(grad_y.raw_data());
    const auto* xi = static_cast<const scalar_t*>(x.raw_data());
    const auto* yi = static_cast<const scalar_t*>(y.raw_data());
    const auto param = static_cast<scalar_t>(p);
    with_op<UnaryOp, kNumUnaryOps>(op, [&]<UnaryOp kOp>() {
      StridedPlan<4>(grad_x.shape(),
                     {grad_x.strides().data(), grad_y.strides().data(), x.strides().data(), y.strides().data()})
          .run([&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
            scalar_t* g = gx + off[0];
            const scalar_t *gg = gy + off[1], *xx = xi + off[2], *yy = yi + off[3];
            if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
#pragma omp simd
              for (int64_t i = 0; i < n; ++i) g[i] = math::unary_grad(kOp, gg[i], xx[i], yy[i], param);
            } else {
              for (int64_t i = 0; i < n; ++i)
                g[i * st[0]] = math::unary_grad(kOp, gg[i * st[1]], xx[i * st[2]], yy[i * st[3]], param);
            }
          }, kGrain, true);
    });
  });
}

void binary(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b) {
  dispatch_float(a.dtype(), binary_op_name(op), [&]<typename scalar_t>() {
    auto* o = static_cast<scalar_t*>(out.raw_data());
    const auto* ap = static_cast<const scalar_t*>(a.raw_data());
    const auto* bp = static_cast<const scalar_t*>(b.raw_data());
    with_op<BinaryOp, kNumBinaryOps>(op, [&]<BinaryOp kOp>() {
      StridedPlan<3>(out.shape(), {out.strides().data(), a.strides().data(), b.strides().data()})
          .run([&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
            scalar_t* oo = o + off[0];
            const scalar_t* aa = ap + off[1];
            const scalar_t* bb = bp + off[2];
            if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
              for (int64_t i = 0; i < n; ++i) oo[i] = math::binary(kOp, aa[i], bb[i]);
            } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {  // a row plus a broadcast value (bias, scale)
              const scalar_t bv = bb[0];
#pragma omp simd
              for (int64_t i = 0; i < n; ++i) oo[i] = math::binary(kOp, aa[i], bv);
            } else {
              for (int64_t i = 0; i < n; ++i) oo[i * st[0]] = math::binary(kOp, aa[i * st[1]], bb[i * st[2]]);
            }
          }, kGrain, true);
    });
  });
}

void axpy(const Tensor& y, double alpha, const Tensor& x) {
  dispatch_float(y.dtype(), "axpy_", [&]<typename scalar_t>() {
    auto* yp = static_cast<scalar_t*>(y.raw_data());
    const auto* xp = static_cast<const scalar_t*>(x.raw_data());
    const auto a = static_cast<scalar_t>(alpha);
    StridedPlan<2>(y.shape(), {y.strides().data(), x.strides().data()})
        .run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
          scalar_t* yy = yp + off[0];
          const scalar_t* xx = xp + off[1];
          if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) yy[i] += a * xx[i];
          } else {
            for (int64_t i = 0; i < n; ++i) yy[i * st[0]] += a * xx[i * st[1]];
          }
        }, kGrain, true);
  });
}

}  // namespace agf::cpu
