// Linear algebra, convolution and pooling: matmul (all four trans combinations, broadcast and expanded batch dims,
// alpha/beta), conv1d (stride, padding, with and without bias, 1x1, Cin 96 with K 17; its three backward kernels),
// avg/max pooling with overlapping, touching and gapped windows; plus perf-only cases at EcgNet's sizes.
#include <algorithm>
#include <cmath>

#include "kernels/cases.h"
#include "kernels/dispatch.h"

namespace agf::kt {

namespace {

// The public op and the backend kernel must agree exactly: they run the same code on the same inputs.
void check_same_values(const char* what, const Tensor& got, const Tensor& expect) {
  AGF_CHECK(got.shape() == expect.shape(), "{}: public op gives {} but the kernel {}", what, got.describe(),
            expect.describe());
  const auto g = got.to(DType::f64).to_vector<double>(), e = expect.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i)
    AGF_CHECK(g[i] == e[i], "{}: public op and kernel differ at {}: {} vs {}", what, i, g[i], e[i]);
}

Shape drop_last2(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// ------------------------------------------------------------------------------------------------ matmul

// Offset, in whole matrices, of the operand batch that batch `i` of the result reads (broadcasting size-1 and
// missing dims).
int64_t operand_batch(int64_t i, const Shape& out_batch, const Shape& op_batch) {
  const int64_t lead = static_cast<int64_t>(out_batch.size() - op_batch.size());
  int64_t off = 0, stride = 1;
  for (int64_t d = static_cast<int64_t>(out_batch.size()) - 1; d >= 0; --d) {
    const int64_t idx = i % out_batch[d];
    i /= out_batch[d];
    if (d < lead) continue;
    const int64_t sd = op_batch[d - lead];
    off += (sd == 1 ? 0 : idx) * stride;
    stride *= sd;
  }
  return off;
}

// alpha op(a) op(b) + beta c, by the definition.
Ref ref_matmul(const Ref& a, const Ref& b, bool ta, bool tb, double alpha, const Ref* c, double beta) {
  const int64_t ar = a.size(-2), ac = a.size(-1), br = b.size(-2), bc = b.size(-1);
  const int64_t m = ta ? ac : ar, k = ta ? ar : ac, n = tb ? br : bc;
  const Shape ab = drop_last2(a.shape), bb = drop_last2(b.shape);
  const Shape batch = broadcast_shapes(ab, bb, "reference matmul");
  Shape os = batch;
  os.push_back(m);
  os.push_back(n);
  Ref out(os);
  for (int64_t i = 0; i < shape_numel(batch); ++i) {
    const int64_t a0 = operand_batch(i, batch, ab) * ar * ac, b0 = operand_batch(i, batch, bb) * br * bc;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t col = 0; col < n; ++col) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double av = ta ? a.v[a0 + p * ac + r] : a.v[a0 + r * ac + p];
          const double bv = tb ? b.v[b0 + col * bc + p] : b.v[b0 + p * bc + col];
          s += av * bv;
        }
        const int64_t o = (i * m + r) * n + col;
        out.v[o] = alpha * s + (c != nullptr ? beta * c->v[o] : 0.0);
      }
    }
  }
  return out;
}

struct MatmulSpec {
  InputSpec a, b;
  bool ta = false, tb = false;
  double alpha = 1.0, beta = 0.0;  // beta != 0 adds a third input, the initial output
};

Shape matmul_shape(const Shape& a, const Shape& b, bool ta, bool tb) {
  Shape s = broadcast_shapes(drop_last2(a), drop_last2(b), "matmul case");
  s.push_back(ta ? a.back() : a[a.size() - 2]);
  s.push_back(tb ? b[b.size() - 2] : b.back());
  return s;
}

Case matmul_case(const MatmulSpec& ms, bool perf_only = false) {
  Case c;
  c.op = "matmul";
  c.name = fmt::format("{}{} {} x {}{} {}", shape_str(ms.a.shape), ms.ta ? "^T" : "", layout_name(ms.a.layout),
                       shape_str(ms.b.shape), ms.tb ? "^T" : "", layout_name(ms.b.layout));
  if (ms.beta != 0.0) c.name += fmt::format(" alpha {} beta {}", ms.alpha, ms.beta);
  c.perf_only = perf_only;
  c.inputs = {ms.a, ms.b};
  const Shape out_shape = matmul_shape(ms.a.shape, ms.b.shape, ms.ta, ms.tb);
  if (ms.beta != 0.0) c.inputs.push_back(InputSpec{out_shape});
  c.forward = [ms, out_shape](const std::vector<Tensor>& in, Guard& g) {
    Tensor out = g.out(out_shape, in[0].dtype(), in[0].device());
    if (ms.beta != 0.0) out.copy_(in[2]);
    ops::matmul_out(out, in[0], in[1], ms.ta, ms.tb, ms.alpha, ms.beta);
    return std::vector<Tensor>{out};
  };
  c.reference = [ms](const std::vector<Ref>& in) {
    return std::vector<Ref>{ref_matmul(in[0], in[1], ms.ta, ms.tb, ms.alpha, ms.beta != 0.0 ? &in[2] : nullptr,
                                       ms.beta)};
  };
  // C = alpha op(A) op(B) + beta C0: dA = alpha G op(B)^T (or alpha op(B) G^T when A is stored transposed), likewise
  // dB; broadcast batch dims are summed back to each operand's shape.
  c.backward = [ms](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard&) {
    const Tensor &a = in[0], &b = in[1], &g = gy[0];
    Tensor ga = ms.ta ? ops::matmul(b, g, ms.tb, true) : ops::matmul(g, b, false, !ms.tb);
    Tensor gb = ms.tb ? ops::matmul(g, a, true, ms.ta) : ops::matmul(a, g, !ms.ta, false);
    std::vector<Tensor> grads{ops::scale(ops::sum_to(ga, a.shape()), ms.alpha),
                              ops::scale(ops::sum_to(gb, b.shape()), ms.alpha)};
    if (ms.beta != 0.0) grads.push_back(ops::scale(g, ms.beta));
    return grads;
  };
  c.flops = [out_shape, ms] {
    const int64_t k = ms.ta ? ms.a.shape[ms.a.shape.size() - 2] : ms.a.shape.back();
    return 2.0 * static_cast<double>(shape_numel(out_shape)) * static_cast<double>(k);
  };
  return c;
}

void add_matmul_cases(std::vector<Case>& cases) {
  using L = Layout;
  const std::vector<MatmulSpec> specs = {
      {{{5, 7}}, {{7, 3}}, false, false},                                   // odd sizes
      {{{7, 5}, L::transposed}, {{7, 3}}, true, false},                     // op(a) = a^T of a transposed view
      {{{5, 7}, L::strided}, {{3, 7}, L::transposed}, false, true},         // a copied first, b^T of a view
      {{{2, 7, 5}}, {{2, 3, 7}, L::strided}, true, true},                   // both transposed, batched
      {{{1, 1, 4}}, {{4, 1}}, false, false},                                // size-1 M and N, broadcast b
      {{{6, 1}, L::transposed}, {{1, 5}}, false, false},                    // K = 1: an outer product
      {{{3, 1, 5, 4}}, {{2, 4, 6}, L::transposed}, false, false},           // batch dims broadcast both ways
      {{{4, 6, 9}}, {{9, 5}, L::transposed}, false, false},                 // shared weight: one folded GEMM
      {{{4, 6, 9}, L::transposed}, {{4, 9, 5}, L::expanded, -1, 1, true, {1, 9, 5}}, false, false},  // no fold
      {{{2, 5, 7}}, {{7, 3}}, false, false, 0.5, -1.5},                     // alpha, beta onto the output
      {{{33, 65}}, {{17, 65}}, false, true},                                // a Linear layer's x W^T
  };
  for (const auto& s : specs) cases.push_back(matmul_case(s));
  // EcgNet medium: the qkv projection of (4 x 96 tokens, 512) and the attention scores of 4 x 16 heads, d = 32.
  cases.push_back(matmul_case({{{4, 96, 512}}, {{512, 1536}}, false, false}, true));
  cases.push_back(matmul_case({{{64, 96, 32}}, {{64, 96, 32}}, false, true}, true));
}

// ------------------------------------------------------------------------------------------------ conv1d

Ref ref_conv1d(const Ref& x, const Ref& w, const Ref* bias, int64_t stride, int64_t pad) {
  const int64_t nb = x.size(0), cin = x.size(1), t_in = x.size(2), cout = w.size(0), k = w.size(2);
  const int64_t t_out = (t_in + 2 * pad - k) / stride + 1;
  Ref out({nb, cout, t_out});
  // Flat row-major indices rather than Ref::operator(): the finite differences call this hundreds of times.
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t co = 0; co < cout; ++co)
      for (int64_t t = 0; t < t_out; ++t) {
        double s = bias != nullptr ? bias->v[co] : 0.0;
        for (int64_t ci = 0; ci < cin; ++ci) {
          const double* xrow = &x.v[(b * cin + ci) * t_in];
          const double* wrow = &w.v[(co * cin + ci) * k];
          for (int64_t j = 0; j < k; ++j) {
            const int64_t pos = t * stride - pad + j;
            if (pos >= 0 && pos < t_in) s += xrow[pos] * wrow[j];
          }
        }
        out.v[(b * cout + co) * t_out + t] = s;
      }
  return out;
}

struct ConvSpec {
  int64_t batch, cin, cout, t, k, stride, pad;
  bool bias = true;
  Layout x_layout = Layout::contiguous, w_layout = Layout::contiguous;
  bool grad_y_transposed = false;  // hand the backward kernels grad_y as a (B, T_out, Cout) buffer's transpose
};

Case conv_case(const ConvSpec& cs, bool perf_only = false) {
  Case c;
  c.op = "conv1d";
  c.name = fmt::format("B{} Cin{} Cout{} T{} K{} s{} p{}{} x:{} w:{}{}", cs.batch, cs.cin, cs.cout, cs.t, cs.k,
                       cs.stride, cs.pad, cs.bias ? "" : " no-bias", layout_name(cs.x_layout),
                       layout_name(cs.w_layout), cs.grad_y_transposed ? " grad_y:transposed" : "");
  c.perf_only = perf_only;
  c.inputs = {InputSpec{{cs.batch, cs.cin, cs.t}, cs.x_layout}, InputSpec{{cs.cout, cs.cin, cs.k}, cs.w_layout}};
  if (cs.bias) c.inputs.push_back(InputSpec{{cs.cout}});
  const ops::Conv1dArgs args{cs.stride, cs.pad};
  const int64_t t_out = ops::conv1d_out_len(cs.t, cs.k, args);
  c.forward = [cs, args, t_out](const std::vector<Tensor>& in, Guard& g) {
    Tensor out = g.out({cs.batch, cs.cout, t_out}, in[0].dtype(), in[0].device());
    ops::conv1d_out(out, in[0], in[1], cs.bias ? in[2] : Tensor(), args);
    return std::vector<Tensor>{out};
  };
  c.reference = [cs](const std::vector<Ref>& in) {
    return std::vector<Ref>{ref_conv1d(in[0], in[1], cs.bias ? &in[2] : nullptr, cs.stride, cs.pad)};
  };
  c.backward = [cs, args](const std::vector<Tensor>& in, const std::vector<Tensor>& gy_in, Guard& g) {
    const Tensor &x = in[0], &w = in[1];
    const Tensor gy = cs.grad_y_transposed ? gy_in[0].transpose(1, 2).contiguous().transpose(1, 2) : gy_in[0];
    Tensor gx = g.out(x.shape(), x.dtype(), x.device());
    Tensor gw = g.out(w.shape(), w.dtype(), w.device());
    AGF_DISPATCH_WITH_WORKSPACE(x.device(), conv1d_backward_input(gx, gy, w, args));
    AGF_DISPATCH_WITH_WORKSPACE(x.device(), conv1d_backward_weight(gw, gy, x, args));
    check_same_values("conv1d_backward_input", ops::conv1d_backward_input(gy, w, cs.t, args), gx);
    check_same_values("conv1d_backward_weight", ops::conv1d_backward_weight(gy, x, cs.k, args), gw);
    std::vector<Tensor> grads{gx, gw};
    if (cs.bias) grads.push_back(ops::conv1d_backward_bias(gy));
    return grads;
  };
  // An f32 dot product of n terms accumulates rounding errors of its partial sums (which are as large as the
  // result) like a random walk: ~sqrt(n) eps |y|. The default tolerance covers n up to a few hundred; longer sums
  // (Cin*K = 1632 in y, B*T_out in grad_w, Cout*K in grad_x) need it scaled by that sqrt.
  const int64_t longest_sum = std::max({cs.cin * cs.k, cs.batch * t_out, cs.cout * cs.k});
  c.rtol_f32 = std::max(c.rtol_f32, c.rtol_f32 * std::sqrt(static_cast<double>(longest_sum) / 256.0));
  c.flops = [cs, t_out] {
    return 2.0 * static_cast<double>(cs.batch * cs.cout * t_out) * static_cast<double>(cs.cin * cs.k);
  };
  return c;
}

// A perf-only case that times one backward kernel (the harness times `forward`).
Case conv_backward_perf_case(const ConvSpec& cs, bool weight) {
  Case c = conv_case(cs, true);
  c.name = fmt::format("{} backward {}", c.name, weight ? "weight" : "input");
  const ops::Conv1dArgs args{cs.stride, cs.pad};
  const int64_t t_out = ops::conv1d_out_len(cs.t, cs.k, args);
  c.inputs = {InputSpec{{cs.batch, cs.cin, cs.t}}, InputSpec{{cs.cout, cs.cin, cs.k}},
              InputSpec{{cs.batch, cs.cout, t_out}}};
  c.forward = [cs, args, weight](const std::vector<Tensor>& in, Guard& g) {
    if (weight) {
      Tensor gw = g.out(in[1].shape(), in[1].dtype(), in[1].device());
      AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), conv1d_backward_weight(gw, in[2], in[0], args));
      return std::vector<Tensor>{gw};
    }
    Tensor gx = g.out(in[0].shape(), in[0].dtype(), in[0].device());
    AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), conv1d_backward_input(gx, in[2], in[1], args));
    return std::vector<Tensor>{gx};
  };
  c.reference = nullptr;
  c.backward = nullptr;
  return c;
}

void add_conv1d_cases(std::vector<Case>& cases) {
  using L = Layout;
  const std::vector<ConvSpec> specs = {
      {2, 3, 4, 17, 5, 2, 2, true, L::strided},                          // odd sizes, stride and padding
      {1, 1, 1, 9, 3, 1, 0, false},                                      // size-1 batch and channels, no bias
      {3, 5, 6, 23, 1, 1, 0, true, L::transposed},                       // 1x1 straight on a transposed x
      {2, 4, 3, 20, 1, 1, 0, false, L::strided, L::contiguous, true},    // 1x1 on a strided x: through columns
      {2, 4, 5, 11, 4, 2, 1, false, L::contiguous, L::strided},          // even K, strided w
      {1, 2, 3, 3, 5, 1, 2, true},                                       // K > T: taps reading only padding
      {2, 3, 2, 19, 2, 5, 0, true},                                      // stride > K: unread x get no gradient
      {2, 12, 8, 64, 9, 4, 4, true, L::contiguous, L::contiguous, true}, // EcgNet conv1, scaled down
      {2, 96, 8, 40, 17, 3, 8, true, L::transposed},                     // Cin 96, K 17
      {2, 16, 4, 1100, 5, 1, 2, true},                                   // im2col/col2im split over threads
  };
  for (const auto& s : specs) cases.push_back(conv_case(s));
  // Columns of 3 MB (f32) or 6 MB (f64) per element: the batch of 3 goes through the 8 MiB workspace in chunks
  // of 2 + 1 (f32) or 1 + 1 + 1 (f64). Few finite-difference samples: each reference call costs 5 MFLOP.
  Case chunked = conv_case({3, 8, 2, 6000, 16, 1, 7, true, L::strided});
  chunked.fd_samples = 8;
  cases.push_back(std::move(chunked));
  // The widest channel count the engine meets (preset large: C = 768) with the longest kernel, on a transposed x.
  Case wide = conv_case({1, 768, 2, 24, 17, 2, 8, true, L::transposed});
  wide.fd_samples = 8;
  cases.push_back(std::move(wide));
  // EcgNet: block 0 conv1 (12 -> 64 leads-to-width, 6144 -> 1536); a width-512 conv2 at 384; a 1x1 skip conv.
  const ConvSpec conv1{4, 12, 64, 6144, 9, 4, 4};
  const ConvSpec conv2{4, 512, 512, 384, 9, 1, 4};
  const ConvSpec skip{4, 64, 64, 1536, 1, 1, 0};
  for (const auto& s : {conv1, conv2, skip}) cases.push_back(conv_case(s, true));
  cases.push_back(conv_backward_perf_case(conv2, false));
  cases.push_back(conv_backward_perf_case(conv2, true));
}

// ------------------------------------------------------------------------------------------------ pooling

struct PoolSpec {
  Shape shape;
  int64_t k, s;
  Layout layout = Layout::contiguous;
};

Shape pooled(const Shape& s, int64_t k, int64_t stride) {
  Shape r = s;
  r.back() = (s.back() - k) / stride + 1;
  return r;
}

Ref ref_avg_pool(const Ref& x, int64_t k, int64_t s) {
  const int64_t t_in = x.shape.back();
  Ref out(pooled(x.shape, k, s));
  const int64_t t_out = out.shape.back(), rows = x.numel() / t_in;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < t_out; ++t) {
      double sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += x.v[r * t_in + t * s + j];
      out.v[r * t_out + t] = sum / static_cast<double>(k);
    }
  return out;
}

std::vector<Ref> ref_max_pool(const Ref& x, int64_t k, int64_t s) {
  const int64_t t_in = x.shape.back();
  Ref values(pooled(x.shape, k, s)), indices(values.shape);
  const int64_t t_out = values.shape.back(), rows = x.numel() / t_in;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < t_out; ++t) {
      int64_t best = t * s;
      for (int64_t j = t * s + 1; j < t * s + k; ++j)
        if (x.v[r * t_in + j] > x.v[r * t_in + best]) best = j;  // strict: the first maximum wins
      values.v[r * t_out + t] = x.v[r * t_in + best];
      indices.v[r * t_out + t] = static_cast<double>(best);
    }
  return {values, indices};
}

std::string pool_name(const PoolSpec& p) {
  return fmt::format("{} k{} s{} {}", shape_str(p.shape), p.k, p.s, layout_name(p.layout));
}

double pool_flops(const PoolSpec& p) { return static_cast<double>(shape_numel(pooled(p.shape, p.k, p.s)) * p.k); }

Case avg_pool_case(const PoolSpec& p, bool perf_only = false) {
  Case c;
  c.op = "avg_pool1d";
  c.name = pool_name(p);
  c.perf_only = perf_only;
  c.inputs = {InputSpec{p.shape, p.layout}};
  c.forward = [p](const std::vector<Tensor>& in, Guard& g) {
    Tensor out = g.out(pooled(in[0].shape(), p.k, p.s), in[0].dtype(), in[0].device());
    AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), avg_pool1d(out, in[0], p.k, p.s));
    return std::vector<Tensor>{out};
  };
  c.reference = [p](const std::vector<Ref>& in) { return std::vector<Ref>{ref_avg_pool(in[0], p.k, p.s)}; };
  c.backward = [p](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
    Tensor gx = g.out(in[0].shape(), in[0].dtype(), in[0].device());
    AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), avg_pool1d_backward(gx, gy[0], p.k, p.s));
    check_same_values("avg_pool1d_backward", ops::avg_pool1d_backward(gy[0], p.shape.back(), p.k, p.s), gx);
    Tensor y = empty(gy[0].shape(), in[0].dtype(), in[0].device());
    AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), avg_pool1d(y, in[0], p.k, p.s));
    check_same_values("avg_pool1d", ops::avg_pool1d(in[0], p.k, p.s), y);
    return std::vector<Tensor>{gx};
  };
  c.flops = [p] { return pool_flops(p); };
  return c;
}

Case max_pool_case(const PoolSpec& p) {
  Case c;
  c.op = "max_pool1d";
  c.name = pool_name(p);
  c.inputs = {InputSpec{p.shape, p.layout}};
  c.output_differentiable = {true, false};
  c.forward = [p](const std::vector<Tensor>& in, Guard& g) {
    const Shape shape = pooled(in[0].shape(), p.k, p.s);
    Tensor values = g.out(shape, in[0].dtype(), in[0].device());
    Tensor indices = g.out(shape, DType::i64, in[0].device());
    AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), max_pool1d(values, indices, in[0], p.k, p.s));
    return std::vector<Tensor>{values, indices};
  };
  c.reference = [p](const std::vector<Ref>& in) { return ref_max_pool(in[0], p.k, p.s); };
  c.backward = [p](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
    const ops::MaxResult r = ops::max_pool1d(in[0], p.k, p.s);
    Tensor gx = g.out(in[0].shape(), in[0].dtype(), in[0].device());
    AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), max_pool1d_backward(gx, gy[0], r.indices));
    check_same_values("max_pool1d_backward", ops::max_pool1d_backward(gy[0], r.indices, p.shape.back()), gx);
    return std::vector<Tensor>{gx};
  };
  c.flops = [p] { return pool_flops(p); };
  return c;
}

void add_pool_cases(std::vector<Case>& cases) {
  using L = Layout;
  const std::vector<PoolSpec> specs = {
      {{2, 3, 17}, 4, 4},                 // s = k (EcgNet's skip path); the last step is left over
      {{2, 3, 16}, 4, 2, L::transposed},  // overlapping windows of a transposed view
      {{1, 1, 5}, 5, 1},                  // one window over the whole row
      {{3, 13}, 3, 1, L::strided},        // maximal overlap, strided rows
      {{7}, 2, 3},                        // 1-D, stride > k: gaps between windows
      {{2, 2, 9}, 1, 1},                  // k = 1: the identity
      {{8, 64, 40}, 4, 2},                // enough rows to be split over threads
  };
  for (const auto& p : specs) {
    cases.push_back(avg_pool_case(p));
    cases.push_back(max_pool_case(p));
  }
  cases.push_back(avg_pool_case({{4, 64, 6144}, 4, 4}, true));
}

}  // namespace

void add_linalg_cases(std::vector<Case>& cases) {
  add_matmul_cases(cases);
  add_conv1d_cases(cases);
  add_pool_cases(cases);
}

}  // namespace agf::kt
