#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf {

const char* unary_op_name(UnaryOp op) {
  static constexpr const char* kNames[kNumUnaryOps] = {
      "neg",  "exp",    "log",        "sqrt",       "abs",        "sign",       "sigmoid",    "leaky_relu",
      "relu", "tanh",   "square",     "reciprocal", "add_scalar", "mul_scalar", "pow_scalar", "gt_scalar"};
  return kNames[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static constexpr const char* kNames[kNumBinaryOps] = {"add", "sub", "mul", "div", "maximum", "minimum"};
  return kNames[static_cast<int>(op)];
}

namespace ops {

namespace {
void check_float(const char* what, const Tensor& t) {
  AGF_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "{}: {} (f32 or f64 expected)", what,
            t.describe());
}
}  // namespace

void unary_out(const Tensor& out, UnaryOp op, const Tensor& x, double param) {
  check_float(unary_op_name(op), x);
  check_same_device(unary_op_name(op), {&out, &x});
  check_same_dtype(unary_op_name(op), {&out, &x});
  AGF_CHECK(out.shape() == x.shape(), "{}: output {} does not match input {}", unary_op_name(op), out.describe(),
            x.describe());
  out.storage()->bump_version();
  AGF_DISPATCH_BACKEND(x.device(), unary(out, op, x, param));
}

Tensor unary(UnaryOp op, const Tensor& x, double param) {
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  unary_out(out, op, x, param);
  return out;
}

Tensor unary_backward(UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y, double param) {
  const std::string what = std::string(unary_op_name(op)) + " backward";
  check_float(what.c_str(), x);
  check_same_device(what.c_str(), {&grad_y, &x, &y});
  check_same_dtype(what.c_str(), {&grad_y, &x, &y});
  AGF_CHECK(grad_y.shape() == x.shape() && (!y.defined() || y.shape() == x.shape()),
            "{}: grad {} and output {} must match input {}", what, grad_y.describe(), y.describe(), x.describe());
  // y is only read by ops whose derivative is expressed through it; others may pass it undefined.
  const Tensor y_or_x = y.defined() ? y : x;
  Tensor grad_x = empty(x.shape(), x.dtype(), x.device());
  AGF_DISPATCH_BACKEND(x.device(), unary_backward(grad_x, op, grad_y, x, y_or_x, param));
  return grad_x;
}

void binary_out(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b) {
  check_float(binary_op_name(op), a);
  check_same_device(binary_op_name(op), {&out, &a, &b});
  check_same_dtype(binary_op_name(op), {&out, &a, &b});
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), binary_op_name(op));
  AGF_CHECK(out.shape() == shape, "{}: output {} does not match the broadcast shape {}", binary_op_name(op),
            out.describe(), shape_str(shape));
  const Tensor ae = a.shape() == shape ? a : a.expand(shape);
  const Tensor be = b.shape() == shape ? b : b.expand(shape);
  out.storage()->bump_version();
  AGF_DISPATCH_BACKEND(a.device(), binary(out, op, ae, be));
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  Tensor out = empty(broadcast_shapes(a.shape(), b.shape(), binary_op_name(op)), a.dtype(), a.device());
  binary_out(out, op, a, b);
  return out;
}

void axpy_(const Tensor& y, double alpha, const Tensor& x) {
  check_float("axpy_", y);
  check_same_device("axpy_", {&y, &x});
  check_same_dtype("axpy_", {&y, &x});
  AGF_CHECK(y.shape() == x.shape(), "axpy_: {} += alpha * {}: shapes differ", y.describe(), x.describe());
  y.storage()->bump_version();
  AGF_DISPATCH_BACKEND(y.device(), axpy(y, alpha, x));
}

Tensor greater_than(const Tensor& x, double threshold) { return unary(UnaryOp::gt_scalar, x, threshold); }

}  // namespace ops
}  // namespace agf
