// Differentiable element-wise ops, reductions, shape ops and matrix products.
#include <numeric>

#include "autograd/functions.h"

namespace agf::ag {

using autograd_detail::record;
using autograd_detail::should_record;

namespace {
SavedTensor saved(const Tensor& t) { return SavedTensor(t); }

bool grad_uses_output(UnaryOp op) {
  return op == UnaryOp::exp || op == UnaryOp::sqrt || op == UnaryOp::sigmoid || op == UnaryOp::tanh ||
         op == UnaryOp::reciprocal;
}
bool grad_uses_input(UnaryOp op) {
  return op == UnaryOp::log || op == UnaryOp::abs || op == UnaryOp::leaky_relu || op == UnaryOp::relu ||
         op == UnaryOp::square || op == UnaryOp::pow_scalar;
}
}  // namespace

// ------------------------------------------------------------------------------------------ element-wise
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = ops::add(a, b);
  if (!should_record({&a, &b})) return out;
  return record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{ops::sum_to(g, sa), ops::sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = ops::sub(a, b);
  if (!should_record({&a, &b})) return out;
  return record(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape(), nb = requires_grad(b)](const Tensor& g) {
    return std::vector<Tensor>{ops::sum_to(g, sa), nb ? ops::sum_to(ops::neg(g), sb) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = ops::mul(a, b);
  if (!should_record({&a, &b})) return out;
  const bool na = requires_grad(a), nb = requires_grad(b);
  return record(out, "mul", {a, b},
                [sa = a.shape(), sb = b.shape(), av = nb ? saved(a) : SavedTensor(), bv = na ? saved(b) : SavedTensor()](
                    const Tensor& g) {
                  return std::vector<Tensor>{bv.defined() ? ops::sum_to(ops::mul(g, bv), sa) : Tensor(),
                                             av.defined() ? ops::sum_to(ops::mul(g, av), sb) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = ops::div(a, b);
  if (!should_record({&a, &b})) return out;
  const bool nb = requires_grad(b);
  return record(out, "div", {a, b},
                [sa = a.shape(), sb = b.shape(), bv = saved(b), yv = nb ? saved(out) : SavedTensor()](const Tensor& g) {
                  Tensor ga = ops::div(g, bv);
                  Tensor gb;
                  if (yv.defined()) gb = ops::sum_to(ops::neg(ops::mul(ga, yv)), sb);  // -g a / b^2 = -(g/b) y
                  return std::vector<Tensor>{ops::sum_to(ga, sa), gb};
                });
}

Tensor unary(UnaryOp op, const Tensor& x, double param) {
  Tensor out = ops::unary(op, x, param);
  if (!should_record({&x})) return out;
  if (op == UnaryOp::sign || op == UnaryOp::gt_scalar) return out;  // piecewise constant: no gradient flows
  SavedTensor xs = grad_uses_input(op) ? saved(x) : SavedTensor();
  SavedTensor ys = grad_uses_output(op) ? saved(out) : SavedTensor();
  return record(out, unary_op_name(op), {x}, [op, param, xs, ys](const Tensor& g) {
    // Operands the derivative does not read are stood in for by g (same shape), never read.
    const Tensor& xx = xs.defined() ? xs.get() : g;
    const Tensor& yy = ys.defined() ? ys.get() : g;
    return std::vector<Tensor>{ops::unary_backward(op, g, xx, yy, param)};
  });
}

Tensor add_owned(Tensor a, const Tensor& b) {
  if (should_record({&a, &b}) || broadcast_shapes(a.shape(), b.shape()) != a.shape()) return add(a, b);
  ops::binary_out(a, BinaryOp::add, a, b);
  return a;
}

Tensor leaky_relu_owned(Tensor x, double slope) {
  if (should_record({&x})) return leaky_relu(x, slope);
  ops::unary_out(x, UnaryOp::leaky_relu, x, slope);
  return x;
}

// ------------------------------------------------------------------------------------------ reductions
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = ops::sum(x, dims, keepdim);
  if (!should_record({&x})) return out;
  return record(out, "sum", {x}, [in = x.shape(), dims, keepdim](const Tensor& g) {
    Tensor gk = g;
    if (!keepdim) {
      Shape ks = in;
      if (dims.empty()) std::fill(ks.begin(), ks.end(), 1);
      for (auto d : dims) ks[wrap_dim(d, static_cast<int64_t>(in.size()))] = 1;
      gk = g.reshape(ks);
    }
    return std::vector<Tensor>{gk.expand(in)};
  });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor s = sum(x, dims, keepdim);
  const double n = static_cast<double>(x.numel()) / static_cast<double>(std::max<int64_t>(s.numel(), 1));
  return scale(s, 1.0 / n);
}

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  auto r = ops::max_dim(x, dim, keepdim);
  if (!should_record({&x})) return r.values;
  return record(r.values, "max", {x}, [in = x.shape(), idx = r.indices, dim, keepdim](const Tensor& g) {
    return std::vector<Tensor>{ops::max_dim_backward(g, idx, in, dim, keepdim)};
  });
}

// ------------------------------------------------------------------------------------------ shape
Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.reshape(shape);
  if (!should_record({&x})) return out;
  return record(out, "reshape", {x}, [in = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(in)}; });
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  Tensor out = x.permute(order);
  if (!should_record({&x})) return out;
  std::vector<int64_t> inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i) inverse[wrap_dim(order[i], x.dim())] = static_cast<int64_t>(i);
  return record(out, "permute", {x}, [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> order(x.dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(d0, x.dim())], order[wrap_dim(d1, x.dim())]);
  return permute(x, order);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Tensor out = x.narrow(dim, start, length);
  if (!should_record({&x})) return out;
  return record(out, "narrow", {x}, [in = x.shape(), dim, start, length](const Tensor& g) {
    Tensor gx = zeros(in, g.dtype(), g.device());
    gx.narrow(dim, start, length).copy_(g);
    return std::vector<Tensor>{gx};
  });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  Tensor out = x.unsqueeze(dim);
  if (!should_record({&x})) return out;
  return record(out, "unsqueeze", {x}, [in = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(in)}; });
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  Tensor out = x.squeeze(dim);
  if (!should_record({&x})) return out;
  return record(out, "squeeze", {x}, [in = x.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(in)}; });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Tensor out = x.expand(shape);
  if (!should_record({&x})) return out;
  return record(out, "expand", {x}, [in = x.shape()](const Tensor& g) { return std::vector<Tensor>{ops::sum_to(g, in)}; });
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = x.contiguous();
  if (!should_record({&x})) return out;
  return record(out, "contiguous", {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  Tensor out = ops::cat(xs, dim);
  bool any = false;
  for (const auto& t : xs) any = any || should_record({&t});
  if (!any) return out;
  std::vector<int64_t> sizes;
  for (const auto& t : xs) sizes.push_back(t.size(dim));
  return record(out, "cat", xs, [sizes, dim](const Tensor& g) {
    std::vector<Tensor> gs;
    int64_t start = 0;
    for (auto n : sizes) {
      gs.push_back(g.narrow(dim, start, n));
      start += n;
    }
    return gs;
  });
}

// ------------------------------------------------------------------------------------------ linear algebra
Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = ops::matmul(a, b, ta, tb);
  if (!should_record({&a, &b})) return out;
  const bool na = requires_grad(a), nb = requires_grad(b);
  return record(out, "matmul", {a, b},
                [ta, tb, sa = a.shape(), sb = b.shape(), av = nb ? saved(a) : SavedTensor(),
                 bv = na ? saved(b) : SavedTensor()](const Tensor& g) {
                  Tensor ga, gb;
                  // C = op(A) op(B): dA = g op(B)^T (or op(B) g^T when A is stored transposed), and likewise dB.
                  if (bv.defined()) ga = ops::sum_to(ta ? ops::matmul(bv, g, tb, true) : ops::matmul(g, bv, false, !tb), sa);
                  if (av.defined()) gb = ops::sum_to(tb ? ops::matmul(g, av, true, ta) : ops::matmul(av, g, !ta, false), sb);
                  return std::vector<Tensor>{ga, gb};
                });
}

namespace {
// (..., in) -> (rows, in) so that a weight shared by all rows is one GEMM, not one per leading index.
Tensor rows_of(const Tensor& x) { return reshape(contiguous(x), {-1, x.size(-1)}); }
Shape with_last(const Shape& s, int64_t last) {
  Shape r = s;
  r.back() = last;
  return r;
}
}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  AGF_CHECK(weight.dim() == 2 && x.size(-1) == weight.size(1), "linear: input {} and weight {} (out, in) do not fit",
            x.describe(), weight.describe());
  Tensor y = reshape(matmul(rows_of(x), weight, false, true), with_last(x.shape(), weight.size(0)));
  return bias.defined() ? add(y, bias) : y;
}

Tensor linear_input_major(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  AGF_CHECK(weight.dim() == 2 && x.size(-1) == weight.size(0),
            "linear: input {} and input-major weight {} (in, out) do not fit", x.describe(), weight.describe());
  Tensor y = reshape(matmul(rows_of(x), weight, false, false), with_last(x.shape(), weight.size(1)));
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace agf::ag
