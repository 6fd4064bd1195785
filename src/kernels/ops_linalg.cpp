// Linear algebra, convolution and pooling over time: argument checks, output allocation, routing. The kernels
// live in kernels/cpu/linalg.cpp (matmul), cpu/conv1d.cpp and cpu/pool.cpp; there are no CUDA kernels for these yet.
#include <algorithm>
#include <utility>

#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf::ops {

namespace {

void check_float(const char* what, const char* name, const Tensor& t) {
  AGF_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "{}: {} is {} (f32 or f64 expected)", what, name,
            t.describe());
}

// Byte range [lo, hi] a view can touch (strides are never negative here).
std::pair<int64_t, int64_t> byte_range(const Tensor& t) {
  int64_t hi = t.offset();
  for (int64_t d = 0; d < t.dim(); ++d) hi += (t.size(d) - 1) * t.stride(d);
  const auto es = static_cast<int64_t>(t.element_size());
  return {t.offset() * es, hi * es + es - 1};
}

// The kernels read their inputs while writing the output, so an output sharing memory with an input would read
// half-written values.
void check_no_overlap(const char* what, const Tensor& out, std::initializer_list<const Tensor*> inputs) {
  if (out.numel() == 0) return;
  const auto [olo, ohi] = byte_range(out);
  for (const Tensor* in : inputs) {
    if (!in->defined() || in->numel() == 0 || in->storage() != out.storage()) continue;
    const auto [ilo, ihi] = byte_range(*in);
    AGF_CHECK(ohi < ilo || ihi < olo, "{}: output {} overlaps input {} in memory", what, out.describe(),
              in->describe());
  }
}

Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

Shape with_last(const Shape& s, int64_t last) {
  Shape r = s;
  r.back() = last;
  return r;
}

struct MatmulDims {
  Shape batch;
  int64_t m, n, k;
  Shape out_shape() const {
    Shape s = batch;
    s.push_back(m);
    s.push_back(n);
    return s;
  }
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_float("matmul", "a", a);
  check_float("matmul", "b", b);
  check_same_dtype("matmul", {&a, &b});
  check_same_device("matmul", {&a, &b});
  AGF_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands need at least 2 dims, got a {} and b {}", a.describe(),
            b.describe());
  const int64_t ka = trans_a ? a.size(-2) : a.size(-1);
  const int64_t kb = trans_b ? b.size(-1) : b.size(-2);
  AGF_CHECK(ka == kb, "matmul: inner dims differ: a {}{} gives K = {} but b {}{} gives K = {}", a.describe(),
            trans_a ? " (transposed)" : "", ka, b.describe(), trans_b ? " (transposed)" : "", kb);
  MatmulDims d;
  const Shape ba = batch_shape(a), bb = batch_shape(b);
  for (size_t i = 1; i <= std::min(ba.size(), bb.size()); ++i) {
    const int64_t sa = ba[ba.size() - i], sb = bb[bb.size() - i];
    AGF_CHECK(sa == sb || sa == 1 || sb == 1, "matmul: batch dims of a {} and b {} do not broadcast", a.describe(),
              b.describe());
  }
  d.batch = broadcast_shapes(ba, bb, "matmul batch dims");
  d.m = trans_a ? a.size(-1) : a.size(-2);
  d.n = trans_b ? b.size(-2) : b.size(-1);
  d.k = ka;
  return d;
}

// An operand with its batch dims broadcast to the result's (stride 0 where it had none or size 1).
Tensor expand_batch(const Tensor& t, const Shape& batch) {
  Shape s = batch;
  s.push_back(t.size(-2));
  s.push_back(t.size(-1));
  return t.shape() == s ? t : t.expand(s);
}

void check_conv_args(const char* what, Conv1dArgs args) {
  AGF_CHECK(args.stride >= 1 && args.padding >= 0, "{}: stride {} must be >= 1 and padding {} >= 0", what,
            args.stride, args.padding);
}

void check_conv_weight(const char* what, const Tensor& w) {
  check_float(what, "w", w);
  AGF_CHECK(w.dim() == 3 && w.size(2) >= 1, "{}: w is {} but (Cout, Cin, K) with K >= 1 is expected", what,
            w.describe());
}

// The padded input must hold at least one window.
void check_conv_length(const char* what, int64_t t_in, int64_t k, Conv1dArgs args, const Tensor& shown) {
  AGF_CHECK(t_in >= 0 && t_in + 2 * args.padding >= k,
            "{}: kernel size {} is longer than the input length {} padded by {} on each side ({})", what, k, t_in,
            args.padding, shown.describe());
}

void check_conv(const char* what, const Tensor& x, const Tensor& w, const Tensor& bias, Conv1dArgs args) {
  check_float(what, "x", x);
  check_conv_weight(what, w);
  check_same_dtype(what, {&x, &w, &bias});
  check_same_device(what, {&x, &w, &bias});
  check_conv_args(what, args);
  AGF_CHECK(x.dim() == 3, "{}: x is {} but (B, Cin, T) is expected", what, x.describe());
  AGF_CHECK(x.size(1) == w.size(1), "{}: x {} has Cin = {} but w {} expects Cin = {}", what, x.describe(), x.size(1),
            w.describe(), w.size(1));
  if (bias.defined())
    AGF_CHECK(bias.shape() == Shape{w.size(0)}, "{}: bias is {} but ({}) is expected for w {}", what, bias.describe(),
              w.size(0), w.describe());
  check_conv_length(what, x.size(2), w.size(2), args, x);
}

void check_grad_y(const char* what, const Tensor& grad_y) {
  check_float(what, "grad_y", grad_y);
  AGF_CHECK(grad_y.dim() == 3, "{}: grad_y is {} but (B, Cout, T_out) is expected", what, grad_y.describe());
}

void check_pool(const char* what, const Tensor& x, int64_t t_in, int64_t k, int64_t s) {
  check_float(what, "x", x);
  AGF_CHECK(x.dim() >= 1, "{}: {} needs a time dim", what, x.describe());
  AGF_CHECK(k >= 1 && s >= 1, "{}: kernel size {} and stride {} must be >= 1 ({})", what, k, s, x.describe());
  AGF_CHECK(t_in >= k, "{}: input length {} is shorter than the kernel size {} ({})", what, t_in, k, x.describe());
}

int64_t pool_out_len(int64_t t_in, int64_t k, int64_t s) { return (t_in - k) / s + 1; }

}  // namespace

// ------------------------------------------------------------------------------------------------ matmul

void matmul_out(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, double alpha,
                double beta) {
  const MatmulDims d = matmul_dims(a, b, trans_a, trans_b);
  check_same_dtype("matmul", {&out, &a});
  check_same_device("matmul", {&out, &a});
  AGF_CHECK(out.shape() == d.out_shape() && out.is_contiguous(),
            "matmul: output {} must be contiguous with shape {} for a {}{} and b {}{}", out.describe(),
            shape_str(d.out_shape()), a.describe(), trans_a ? " (transposed)" : "", b.describe(),
            trans_b ? " (transposed)" : "");
  check_no_overlap("matmul", out, {&a, &b});
  out.storage()->bump_version();
  AGF_DISPATCH_WITH_WORKSPACE(a.device(), matmul(out, expand_batch(a, d.batch), expand_batch(b, d.batch), trans_a, trans_b, alpha, beta));
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const MatmulDims d = matmul_dims(a, b, trans_a, trans_b);
  Tensor out = empty(d.out_shape(), a.dtype(), a.device());
  matmul_out(out, a, b, trans_a, trans_b);
  return out;
}

// ------------------------------------------------------------------------------------------------ conv1d

void conv1d_out(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Conv1dArgs args) {
  check_conv("conv1d", x, w, bias, args);
  check_same_dtype("conv1d", {&out, &x});
  check_same_device("conv1d", {&out, &x});
  const Shape expect{x.size(0), w.size(0), conv1d_out_len(x.size(2), w.size(2), args)};
  AGF_CHECK(out.shape() == expect && out.is_contiguous(),
            "conv1d: output {} must be contiguous with shape {} for x {} and w {} (stride {}, padding {})",
            out.describe(), shape_str(expect), x.describe(), w.describe(), args.stride, args.padding);
  check_no_overlap("conv1d", out, {&x, &w, &bias});
  out.storage()->bump_version();
  AGF_DISPATCH_WITH_WORKSPACE(x.device(), conv1d(out, x, w, bias, args));
}

void conv1d_pair_out(const Tensor& out, const Tensor& out2, const Tensor& x, const Tensor& w, const Tensor& bias,
                     const Tensor& w2, Conv1dArgs args) {
  constexpr const char* what = "conv1d pair";
  check_conv(what, x, w, bias, args);
  check_conv(what, x, w2, Tensor(), args);
  AGF_CHECK(w2.size(2) == w.size(2), "{}: the second weight {} has another kernel size than {}", what, w2.describe(),
            w.describe());
  check_same_dtype(what, {&out, &out2, &x, &w2});
  check_same_device(what, {&out, &out2, &x, &w2});
  const int64_t t_out = conv1d_out_len(x.size(2), w.size(2), args);
  const Shape expect{x.size(0), w.size(0), t_out}, expect2{x.size(0), w2.size(0), t_out};
  AGF_CHECK(out.shape() == expect && out.is_contiguous() && out2.shape() == expect2 && out2.is_contiguous(),
            "{}: outputs {} and {} must be contiguous with shapes {} and {}", what, out.describe(), out2.describe(),
            shape_str(expect), shape_str(expect2));
  check_no_overlap(what, out, {&x, &w, &bias, &w2, &out2});
  check_no_overlap(what, out2, {&x, &w, &bias, &w2});
  out.storage()->bump_version();
  out2.storage()->bump_version();
  AGF_DISPATCH_WITH_WORKSPACE(x.device(), conv1d(out, x, w, bias, args, out2, w2));
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv1dArgs args) {
  check_conv("conv1d", x, w, bias, args);
  Tensor out = empty({x.size(0), w.size(0), conv1d_out_len(x.size(2), w.size(2), args)}, x.dtype(), x.device());
  conv1d_out(out, x, w, bias, args);
  return out;
}

Tensor conv1d_backward_input(const Tensor& grad_y, const Tensor& w, int64_t t_in, Conv1dArgs args) {
  constexpr const char* what = "conv1d backward input";
  check_grad_y(what, grad_y);
  check_conv_weight(what, w);
  check_same_dtype(what, {&grad_y, &w});
  check_same_device(what, {&grad_y, &w});
  check_conv_args(what, args);
  check_conv_length(what, t_in, w.size(2), args, w);
  const int64_t t_out = conv1d_out_len(t_in, w.size(2), args);
  AGF_CHECK(grad_y.size(1) == w.size(0) && grad_y.size(2) == t_out,
            "{}: grad_y is {} but (B, {}, {}) is expected for w {} and input length {} (stride {}, padding {})", what,
            grad_y.describe(), w.size(0), t_out, w.describe(), t_in, args.stride, args.padding);
  Tensor grad_x = empty({grad_y.size(0), w.size(1), t_in}, grad_y.dtype(), grad_y.device());
  AGF_DISPATCH_WITH_WORKSPACE(grad_y.device(), conv1d_backward_input(grad_x, grad_y, w, args));
  return grad_x;
}

Tensor conv1d_backward_weight(const Tensor& grad_y, const Tensor& x, int64_t k, Conv1dArgs args) {
  constexpr const char* what = "conv1d backward weight";
  check_grad_y(what, grad_y);
  check_float(what, "x", x);
  check_same_dtype(what, {&grad_y, &x});
  check_same_device(what, {&grad_y, &x});
  check_conv_args(what, args);
  AGF_CHECK(x.dim() == 3 && k >= 1, "{}: x is {} but (B, Cin, T) is expected, with kernel size {} >= 1", what,
            x.describe(), k);
  check_conv_length(what, x.size(2), k, args, x);
  const int64_t t_out = conv1d_out_len(x.size(2), k, args);
  AGF_CHECK(grad_y.size(0) == x.size(0) && grad_y.size(2) == t_out,
            "{}: grad_y is {} but (B = {}, Cout, {}) is expected for x {}, kernel size {} (stride {}, padding {})",
            what, grad_y.describe(), x.size(0), t_out, x.describe(), k, args.stride, args.padding);
  Tensor grad_w = empty({grad_y.size(1), x.size(1), k}, x.dtype(), x.device());
  AGF_DISPATCH_WITH_WORKSPACE(x.device(), conv1d_backward_weight(grad_w, grad_y, x, args));
  return grad_w;
}

Tensor conv1d_backward_bias(const Tensor& grad_y) {
  check_grad_y("conv1d backward bias", grad_y);
  return reduce(ReduceOp::sum, grad_y, {0, 2});
}

// ------------------------------------------------------------------------------------------------ pooling

Tensor avg_pool1d(const Tensor& x, int64_t k, int64_t s) {
  check_pool("avg_pool1d", x, x.dim() >= 1 ? x.size(-1) : 0, k, s);
  Tensor out = empty(with_last(x.shape(), pool_out_len(x.size(-1), k, s)), x.dtype(), x.device());
  AGF_DISPATCH_BACKEND(x.device(), avg_pool1d(out, x, k, s));
  return out;
}

Tensor avg_pool1d_backward(const Tensor& grad_y, int64_t t_in, int64_t k, int64_t s) {
  constexpr const char* what = "avg_pool1d backward";
  check_pool(what, grad_y, t_in, k, s);
  const int64_t t_out = pool_out_len(t_in, k, s);
  AGF_CHECK(grad_y.size(-1) == t_out, "{}: grad_y {} must have {} steps for input length {}, kernel {}, stride {}",
            what, grad_y.describe(), t_out, t_in, k, s);
  Tensor grad_x = empty(with_last(grad_y.shape(), t_in), grad_y.dtype(), grad_y.device());
  AGF_DISPATCH_BACKEND(grad_y.device(), avg_pool1d_backward(grad_x, grad_y, k, s));
  return grad_x;
}

MaxResult max_pool1d(const Tensor& x, int64_t k, int64_t s) {
  check_pool("max_pool1d", x, x.dim() >= 1 ? x.size(-1) : 0, k, s);
  const Shape shape = with_last(x.shape(), pool_out_len(x.size(-1), k, s));
  MaxResult r{empty(shape, x.dtype(), x.device()), empty(shape, DType::i64, x.device())};
  AGF_DISPATCH_BACKEND(x.device(), max_pool1d(r.values, r.indices, x, k, s));
  return r;
}

Tensor max_pool1d_backward(const Tensor& grad_y, const Tensor& indices, int64_t t_in) {
  constexpr const char* what = "max_pool1d backward";
  check_float(what, "grad_y", grad_y);
  check_same_device(what, {&grad_y, &indices});
  AGF_CHECK(grad_y.dim() >= 1 && indices.dtype() == DType::i64 && indices.shape() == grad_y.shape() && t_in >= 1,
            "{}: grad_y {} and indices {} (i64 expected) must have one shape, input length {} >= 1", what,
            grad_y.describe(), indices.describe(), t_in);
  Tensor grad_x = empty(with_last(grad_y.shape(), t_in), grad_y.dtype(), grad_y.device());
  AGF_DISPATCH_BACKEND(grad_y.device(), max_pool1d_backward(grad_x, grad_y, indices));
  return grad_x;
}

}  // namespace agf::ops
