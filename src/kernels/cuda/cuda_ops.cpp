// Tensor-level entry points of the CUDA backend (compiled by g++): descriptors from tensors, then the launchers.
#include "kernels/cuda/cuda_ops.h"

#include "kernels/cuda/launchers.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/strided_desc.h"

namespace agf::cuda {

namespace {
template <typename T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}
void set_device(const Tensor& t) { AGF_CUDA_CHECK(cudaSetDevice(t.device().index)); }
}  // namespace

void unary(const Tensor& out, UnaryOp op, const Tensor& x, double p) {
  set_device(x);
  const auto d = strided_desc<2>(out.shape(), {out.strides().data(), x.strides().data()});
  dispatch_float(x.dtype(), unary_op_name(op), [&]<typename T>() {
    AGF_CUDA_CHECK(launch_unary<T>(ptr<T>(out), ptr<T>(x), out.numel(), d, op, static_cast<T>(p)));
  });
}

void unary_backward(const Tensor& grad_x, UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y,
                    double p) {
  set_device(x);
  const auto d = strided_desc<4>(
      grad_x.shape(), {grad_x.strides().data(), grad_y.strides().data(), x.strides().data(), y.strides().data()});
  dispatch_float(x.dtype(), unary_op_name(op), [&]<typename T>() {
    AGF_CUDA_CHECK(launch_unary_backward<T>(ptr<T>(grad_x), ptr<T>(grad_y), ptr<T>(x), ptr<T>(y), x.numel(), d, op,
                                            static_cast<T>(p)));
  });
}

void binary(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b) {
  set_device(a);
  const auto d = strided_desc<3>(out.shape(), {out.strides().data(), a.strides().data(), b.strides().data()});
  dispatch_float(a.dtype(), binary_op_name(op), [&]<typename T>() {
    AGF_CUDA_CHECK(launch_binary<T>(ptr<T>(out), ptr<T>(a), ptr<T>(b), out.numel(), d, op));
  });
}

void axpy(const Tensor& y, double alpha, const Tensor& x) {
  set_device(y);
  const auto d = strided_desc<2>(y.shape(), {y.strides().data(), x.strides().data()});
  dispatch_float(y.dtype(), "axpy_", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_axpy<T>(ptr<T>(y), ptr<T>(x), y.numel(), d, static_cast<T>(alpha)));
  });
}

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const ops::AdamWArgs& a) {
  set_device(param);
  // grad is walked in param's logical (row-major) order, whatever its strides.
  const auto gd = strided_desc<1>(grad.shape(), {grad.strides().data()});
  const math::AdamWScalars sc = math::adamw_scalars(a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.step);
  dispatch_float(param.dtype(), "adamw_step_", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_adamw<T>(ptr<T>(param), ptr<T>(m), ptr<T>(v), ptr<T>(grad), param.numel(), gd, sc));
  });
}

void perturb(const Tensor& param, uint64_t seed, uint64_t offset, double scale) {
  set_device(param);
  dispatch_float(param.dtype(), "perturb_", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_perturb<T>(ptr<T>(param), param.numel(), seed, offset, static_cast<T>(scale)));
  });
}

}  // namespace agf::cuda
