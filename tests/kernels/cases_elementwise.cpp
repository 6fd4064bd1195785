// Element-wise ops: every unary op (with its backward kernel) and every binary op with broadcasting (its backward
// is the composite the autograd layer uses: multiply, then sum_to the input's shape).
#include <cmath>

#include "kernels/cases.h"
#include "kernels/dispatch.h"

namespace agf::kt {

namespace {

double ref_unary(UnaryOp op, double x, double p) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::abs: return std::fabs(x);
    case UnaryOp::sign: return (x > 0) - (x < 0);
    case UnaryOp::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case UnaryOp::leaky_relu: return x >= 0 ? x : p * x;
    case UnaryOp::relu: return x > 0 ? x : 0.0;
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::reciprocal: return 1.0 / x;
    case UnaryOp::add_scalar: return x + p;
    case UnaryOp::mul_scalar: return x * p;
    case UnaryOp::pow_scalar: return std::pow(x, p);
    case UnaryOp::gt_scalar: return x > p ? 1.0 : 0.0;
  }
  return 0;
}

double ref_binary(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return std::max(a, b);
    case BinaryOp::minimum: return std::min(a, b);
  }
  return 0;
}

// Row-major index of `out_idx` (in out_shape) inside a broadcast operand of shape `s`.
int64_t broadcast_offset(const Shape& s, const Shape& out_shape, int64_t linear) {
  const int64_t lead = static_cast<int64_t>(out_shape.size() - s.size());
  int64_t off = 0, stride = 1;
  for (int64_t d = static_cast<int64_t>(out_shape.size()) - 1; d >= 0; --d) {
    const int64_t i = linear % out_shape[d];
    linear /= out_shape[d];
    if (d >= lead) {
      const int64_t sd = s[d - lead];
      off += (sd == 1 ? 0 : i) * stride;
      stride *= sd;
    }
  }
  return off;
}

struct UnarySpec {
  UnaryOp op;
  double param;
  double lo, hi;
};

void add_unary(std::vector<Case>& cases, const UnarySpec& u) {
  const std::vector<std::pair<Shape, Layout>> shapes = {
      {{7}, Layout::contiguous}, {{3, 1, 33}, Layout::contiguous}, {{5, 9}, Layout::transposed},
      {{2, 3, 17}, Layout::strided}};
  for (const auto& [shape, layout] : shapes) {
    Case c;
    c.op = unary_op_name(u.op);
    c.name = fmt::format("{} {}", shape_str(shape), layout_name(layout));
    c.inputs = {InputSpec{shape, layout, u.lo, u.hi}};
    // The strided-input shape also writes a strided output: element-wise ops take any output strides.
    const bool strided_out = layout == Layout::strided;
    if (strided_out) c.name += " out:strided";
    c.forward = [u, strided_out](const std::vector<Tensor>& in, Guard& g) {
      Tensor out = strided_out ? g.out_strided(in[0].shape(), in[0].dtype(), in[0].device())
                               : g.out(in[0].shape(), in[0].dtype(), in[0].device());
      ops::unary_out(out, u.op, in[0], u.param);
      return std::vector<Tensor>{out};
    };
    c.reference = [u](const std::vector<Ref>& in) {
      Ref out(in[0].shape);
      for (int64_t i = 0; i < out.numel(); ++i) out.v[i] = ref_unary(u.op, in[0].v[i], u.param);
      return std::vector<Ref>{out};
    };
    // sign and gt_scalar are piecewise constant: their backward is zero, which finite differences confirm away
    // from the jump (random inputs never sit within the step of it).
    c.backward = [u](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
      const Tensor y = ops::unary(u.op, in[0], u.param);
      Tensor gx = g.out(in[0].shape(), in[0].dtype(), in[0].device());
      AGF_DISPATCH_BACKEND(in[0].device(), unary_backward(gx, u.op, gy[0], in[0], y, u.param));
      return std::vector<Tensor>{gx};
    };
    if (u.op == UnaryOp::pow_scalar || u.op == UnaryOp::exp) c.rtol_f32 = 5e-5;
    // y (1 - y) loses bits in f32 where y is near 1; PyTorch computes the same and has the same error.
    if (u.op == UnaryOp::sigmoid) c.rtol_f32 = 2e-4;
    c.flops = [shape] { return static_cast<double>(shape_numel(shape)); };
    cases.push_back(std::move(c));
  }
}

void add_binary(std::vector<Case>& cases, BinaryOp op) {
  struct Shapes {
    InputSpec a, b;
  };
  const double blo = op == BinaryOp::div ? 0.5 : -1.0;
  const std::vector<Shapes> shapes = {
      {{{11}}, {{11}, Layout::contiguous, blo, 2.0}},
      {{{3, 1, 5}}, {{4, 5}, Layout::contiguous, blo, 2.0}},                       // both broadcast
      {{{6, 5}, Layout::transposed}, {{6, 5}, Layout::strided, blo, 2.0}},          // non-contiguous
      {{{2, 4, 9}, Layout::expanded, -1, 1, true, {1, 4, 1}}, {{1}, Layout::contiguous, blo, 2.0}},  // stride 0
  };
  for (const auto& s : shapes) {
    Case c;
    c.op = binary_op_name(op);
    c.name = fmt::format("{} {} {} {}", shape_str(s.a.shape), layout_name(s.a.layout), shape_str(s.b.shape),
                         layout_name(s.b.layout));
    c.inputs = {s.a, s.b};
    const bool strided_out = s.b.layout == Layout::strided;
    if (strided_out) c.name += " out:strided";
    c.forward = [op, strided_out](const std::vector<Tensor>& in, Guard& g) {
      const Shape shape = broadcast_shapes(in[0].shape(), in[1].shape());
      Tensor out = strided_out ? g.out_strided(shape, in[0].dtype(), in[0].device())
                               : g.out(shape, in[0].dtype(), in[0].device());
      ops::binary_out(out, op, in[0], in[1]);
      return std::vector<Tensor>{out};
    };
    c.reference = [op](const std::vector<Ref>& in) {
      Ref out(broadcast_shapes(in[0].shape, in[1].shape));
      for (int64_t i = 0; i < out.numel(); ++i)
        out.v[i] = ref_binary(op, in[0].v[broadcast_offset(in[0].shape, out.shape, i)],
                              in[1].v[broadcast_offset(in[1].shape, out.shape, i)]);
      return std::vector<Ref>{out};
    };
    if (op == BinaryOp::maximum || op == BinaryOp::minimum) {
      c.backward = [op](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard&) {
        // d max(a,b)/da = [a >= b] (ties go to a, never met with random inputs).
        Tensor a_wins = ops::greater_than(ops::sub(in[0], in[1]), 0.0);
        if (op == BinaryOp::minimum) a_wins = ops::add_scalar(ops::neg(a_wins), 1.0);
        Tensor b_wins = ops::add_scalar(ops::neg(a_wins), 1.0);
        return std::vector<Tensor>{ops::sum_to(ops::mul(gy[0], a_wins), in[0].shape()),
                                   ops::sum_to(ops::mul(gy[0], b_wins), in[1].shape())};
      };
    } else {
      c.backward = [op](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard&) {
        Tensor ga, gb;
        switch (op) {
          case BinaryOp::add: ga = gy[0]; gb = gy[0]; break;
          case BinaryOp::sub: ga = gy[0]; gb = ops::neg(gy[0]); break;
          case BinaryOp::mul: ga = ops::mul(gy[0], in[1]); gb = ops::mul(gy[0], in[0]); break;
          case BinaryOp::div:
            ga = ops::div(gy[0], in[1]);
            gb = ops::neg(ops::div(ops::mul(gy[0], in[0]), ops::mul(in[1], in[1])));
            break;
          default: break;
        }
        return std::vector<Tensor>{ops::sum_to(ga, in[0].shape()), ops::sum_to(gb, in[1].shape())};
      };
    }
    cases.push_back(std::move(c));
  }
}

}  // namespace

void add_elementwise_cases(std::vector<Case>& cases) {
  const std::vector<UnarySpec> unary = {
      {UnaryOp::neg, 0, -2, 2},         {UnaryOp::exp, 0, -3, 3},         {UnaryOp::log, 0, 0.1, 4},
      {UnaryOp::sqrt, 0, 0.1, 4},       {UnaryOp::abs, 0, -2, 2},         {UnaryOp::sign, 0, -2, 2},
      {UnaryOp::sigmoid, 0, -8, 8},     {UnaryOp::leaky_relu, 0.01, -2, 2}, {UnaryOp::relu, 0, -2, 2},
      {UnaryOp::tanh, 0, -3, 3},        {UnaryOp::square, 0, -2, 2},      {UnaryOp::reciprocal, 0, 0.5, 2},
      {UnaryOp::add_scalar, 0.75, -2, 2}, {UnaryOp::mul_scalar, -1.5, -2, 2}, {UnaryOp::pow_scalar, 1.7, 0.2, 3},
      {UnaryOp::gt_scalar, 0.25, -1, 1}};
  for (const auto& u : unary) add_unary(cases, u);
  for (int b = 0; b < kNumBinaryOps; ++b) add_binary(cases, static_cast<BinaryOp>(b));

  // axpy_: y += alpha x in place, y contiguous, x strided.
  for (const Shape& shape : {Shape{13}, Shape{4, 1, 7}, Shape{3, 10}}) {
    Case c;
    c.op = "axpy";
    c.name = fmt::format("{} x:strided", shape_str(shape));
    c.inputs = {InputSpec{shape}, InputSpec{shape, Layout::strided}};
    c.forward = [](const std::vector<Tensor>& in, Guard& g) {
      Tensor y = g.out(in[0].shape(), in[0].dtype(), in[0].device());
      y.copy_(in[0]);
      ops::axpy_(y, -0.375, in[1]);
      return std::vector<Tensor>{y};
    };
    c.reference = [](const std::vector<Ref>& in) {
      Ref out = in[0];
      for (int64_t i = 0; i < out.numel(); ++i) out.v[i] += -0.375 * in[1].v[i];
      return std::vector<Ref>{out};
    };
    c.backward = [](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard&) {
      return std::vector<Tensor>{gy[0].clone(), ops::scale(gy[0], -0.375)};
    };
    cases.push_back(std::move(c));
  }
}

}  // namespace agf::kt
