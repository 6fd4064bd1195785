#include "kernels/cpu/cpu_ops.h"
#include "tensor/strided.h"

namespace agf::cpu {

void unary(const Tensor& out, UnaryOp op, const Tensor& x, double p) {
  dispatch_float(x.dtype(), unary_op_name(op), [&]<typename scalar_t>() {
    auto* o = static_cast<scalar_t*>(out.raw_data());
    const auto* xi = static_cast<const scalar_t*>(x.raw_data());
    const auto param = static_cast<scalar_t>(p);
    StridedPlan<2>(out.shape(), {out.strides().data(), x.strides().data()})
        .run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
          scalar_t* op_ = o + off[0];
          const scalar_t* xp = xi + off[1];
          for (int64_t i = 0; i < n; ++i) op_[i * st[0]] = math::unary(op, xp[i * st[1]], param);
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
    StridedPlan<4>(grad_x.shape(),
                   {grad_x.strides().data(), grad_y.strides().data(), x.strides().data(), y.strides().data()})
        .run([&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
          for (int64_t i = 0; i < n; ++i)
            gx[off[0] + i * st[0]] =
                math::unary_grad(op, gy[off[1] + i * st[1]], xi[off[2] + i * st[2]], yi[off[3] + i * st[3]], param);
        });
  });
}

void binary(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b) {
  dispatch_float(a.dtype(), binary_op_name(op), [&]<typename scalar_t>() {
    auto* o = static_cast<scalar_t*>(out.raw_data());
    const auto* ap = static_cast<const scalar_t*>(a.raw_data());
    const auto* bp = static_cast<const scalar_t*>(b.raw_data());
    StridedPlan<3>(out.shape(), {out.strides().data(), a.strides().data(), b.strides().data()})
        .run([&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
          scalar_t* oo = o + off[0];
          const scalar_t* aa = ap + off[1];
          const scalar_t* bb = bp + off[2];
          if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
            for (int64_t i = 0; i < n; ++i) oo[i] = math::binary(op, aa[i], bb[i]);
          } else {
            for (int64_t i = 0; i < n; ++i) oo[i * st[0]] = math::binary(op, aa[i * st[1]], bb[i * st[2]]);
          }
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
          for (int64_t i = 0; i < n; ++i) yp[off[0] + i * st[0]] += a * xp[off[1] + i * st[1]];
        });
  });
}

}  // namespace agf::cpu
