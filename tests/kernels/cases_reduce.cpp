// Reductions along axes and in total (sum, mean, max, min, squared norm), sum_to, and max over an axis with its
// argmax and backward.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cases.h"
#include "kernels/dispatch.h"

namespace agf::kt {

namespace {

const char* reduce_op_name(ops::ReduceOp op) {
  switch (op) {
    case ops::ReduceOp::sum: return "sum";
    case ops::ReduceOp::mean: return "mean";
    case ops::ReduceOp::max: return "max";
    case ops::ReduceOp::min: return "min";
    case ops::ReduceOp::sumsq: return "squared_norm";
  }
  return "?";
}

// Multi-index of a row-major linear index.
std::vector<int64_t> unravel(int64_t i, const Shape& s) {
  std::vector<int64_t> idx(s.size());
  for (int64_t d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
    idx[d] = i % s[d];
    i /= s[d];
  }
  return idx;
}

int64_t ravel(const std::vector<int64_t>& idx, const Shape& s) {
  int64_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
  return off;
}

Ref ref_reduce(ops::ReduceOp op, const Ref& x, std::vector<int64_t> dims) {
  if (dims.empty())
    for (int64_t d = 0; d < x.dim(); ++d) dims.push_back(d);
  Shape ks = x.shape;
  for (auto& d : dims) {
    if (d < 0) d += x.dim();
    ks[d] = 1;
  }
  const bool extremum = op == ops::ReduceOp::max || op == ops::ReduceOp::min;
  Ref out(ks, op == ops::ReduceOp::max   ? -std::numeric_limits<double>::infinity()
              : op == ops::ReduceOp::min ? std::numeric_limits<double>::infinity()
                                         : 0.0);
  Ref count(ks);
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto idx = unravel(i, x.shape);
    for (auto d : dims) idx[d] = 0;
    double& o = out.v[ravel(idx, ks)];
    const double v = x.v[i];
    if (op == ops::ReduceOp::max) o = std::max(o, v);
    else if (op == ops::ReduceOp::min) o = std::min(o, v);
    else if (op == ops::ReduceOp::sumsq) o += v * v;
    else o += v;
    count.v[ravel(idx, ks)] += 1;
  }
  if (op == ops::ReduceOp::mean)
    for (int64_t i = 0; i < out.numel(); ++i) out.v[i] /= count.v[i];
  (void)extremum;
  return out;
}

}  // namespace

void add_reduce_cases(std::vector<Case>& cases) {
  struct R {
    Shape shape;
    Layout layout;
    std::vector<int64_t> dims;
  };
  const std::vector<R> variants = {
      {{37}, Layout::contiguous, {}},                    // total, odd size
      {{3, 1, 130}, Layout::contiguous, {2}},            // inner dim, size-1 dim kept
      {{4, 6, 5}, Layout::transposed, {0, 2}},           // two dims of a transposed view
      {{5, 8}, Layout::strided, {0}},                    // outer dim of a strided view
      {{2, 3, 30001}, Layout::contiguous, {}},           // total over the chunked parallel path
  };
  for (int o = 0; o < 5; ++o) {
    const auto op = static_cast<ops::ReduceOp>(o);
    for (const auto& v : variants) {
      if (shape_numel(v.shape) > 100000 && op != ops::ReduceOp::sum && op != ops::ReduceOp::sumsq) continue;
      Case c;
      c.op = reduce_op_name(op);
      c.name = fmt::format("{} {} dims {}", shape_str(v.shape), layout_name(v.layout), shape_str(v.dims));
      c.inputs = {InputSpec{v.shape, v.layout}};
      c.forward = [op, v](const std::vector<Tensor>& in, Guard& g) {
        Shape ks = in[0].shape();
        if (v.dims.empty()) std::fill(ks.begin(), ks.end(), 1);
        for (auto d : v.dims) ks[d] = 1;
        Tensor out = g.out(ks, in[0].dtype(), in[0].device());
        std::vector<int64_t> dims = v.dims;
        if (dims.empty())
          for (int64_t d = 0; d < in[0].dim(); ++d) dims.push_back(d);
        AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), reduce(out, op, in[0], dims));
        return std::vector<Tensor>{out};
      };
      c.reference = [op, v](const std::vector<Ref>& in) { return std::vector<Ref>{ref_reduce(op, in[0], v.dims)}; };
      c.backward = [op, v](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard&) {
        Tensor g = gy[0].expand(in[0].shape());
        if (op == ops::ReduceOp::mean) g = ops::scale(g, static_cast<double>(gy[0].numel()) / in[0].numel());
        if (op == ops::ReduceOp::sumsq) g = ops::mul(g, ops::scale(in[0], 2.0));
        if (op == ops::ReduceOp::max || op == ops::ReduceOp::min) {
          // The gradient goes to the extremum (the inputs are distinct random values: no ties): a 0/1 mask of
          // x == the reduced value broadcast back, 1 - |sign(x - y)|.
          std::vector<int64_t> dims = v.dims;
          if (dims.empty())
            for (int64_t d = 0; d < in[0].dim(); ++d) dims.push_back(d);
          const Tensor y = ops::reduce(op, in[0], dims, /*keepdim=*/true).expand(in[0].shape());
          g = ops::mul(g, ops::add_scalar(ops::neg(ops::abs(ops::sign(ops::sub(in[0], y)))), 1.0));
        }
        return std::vector<Tensor>{g.contiguous()};
      };
      if (shape_numel(v.shape) > 100000) c.rtol_f32 = 1e-6;
      c.fd_samples = 24;
      c.flops = [v] { return static_cast<double>(shape_numel(v.shape)); };
      cases.push_back(std::move(c));
    }
  }

  // sum_to: the backward of broadcasting.
  for (const auto& [from, to] : std::vector<std::pair<Shape, Shape>>{
           {{4, 5}, {5}}, {{3, 4, 5}, {3, 1, 5}}, {{2, 1, 6}, {1}}, {{6, 7}, {6, 7}}}) {
    Case c;
    c.op = "sum_to";
    c.name = fmt::format("{} -> {}", shape_str(from), shape_str(to));
    c.inputs = {InputSpec{from, from.size() >= 2 ? Layout::transposed : Layout::contiguous}};
    const Shape target = to;
    c.forward = [target](const std::vector<Tensor>& in, Guard& g) {
      Tensor r = ops::sum_to(in[0], target);
      Tensor out = g.out(target, r.dtype(), r.device());
      out.copy_(r);
      return std::vector<Tensor>{out};
    };
    c.reference = [target](const std::vector<Ref>& in) {
      Ref out(target);
      const int64_t lead = in[0].dim() - static_cast<int64_t>(target.size());
      for (int64_t i = 0; i < in[0].numel(); ++i) {
        auto idx = unravel(i, in[0].shape);
        std::vector<int64_t> t(idx.begin() + lead, idx.end());
        for (size_t d = 0; d < t.size(); ++d)
          if (target[d] == 1) t[d] = 0;
        out.v[ravel(t, target)] += in[0].v[i];
      }
      return std::vector<Ref>{out};
    };
    cases.push_back(std::move(c));
  }

  // max over an axis: values, argmax indices, and the backward scatter.
  struct M {
    Shape shape;
    Layout layout;
    int64_t dim;
  };
  for (const auto& m : std::vector<M>{{{2, 96, 64}, Layout::contiguous, 1},   // EcgNet's max over tokens
                                      {{5, 7}, Layout::transposed, -1},
                                      {{3, 1, 11}, Layout::strided, 2},
                                      {{9}, Layout::contiguous, 0}}) {
    Case c;
    c.op = "max_dim";
    c.name = fmt::format("{} {} dim {}", shape_str(m.shape), layout_name(m.layout), m.dim);
    c.inputs = {InputSpec{m.shape, m.layout}};
    c.output_differentiable = {true, false};
    c.forward = [m](const std::vector<Tensor>& in, Guard& g) {
      const int64_t d = m.dim < 0 ? m.dim + in[0].dim() : m.dim;
      Shape ks = in[0].shape();
      ks[d] = 1;
      Tensor values = g.out(ks, in[0].dtype(), in[0].device());
      Tensor indices = g.out(ks, DType::i64, in[0].device());
      AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), max_dim(values, indices, in[0], d));
      return std::vector<Tensor>{values, indices};
    };
    c.reference = [m](const std::vector<Ref>& in) {
      const int64_t d = m.dim < 0 ? m.dim + in[0].dim() : m.dim;
      Shape ks = in[0].shape;
      ks[d] = 1;
      Ref values(ks, -std::numeric_limits<double>::infinity()), indices(ks);
      for (int64_t i = 0; i < in[0].numel(); ++i) {
        auto idx = unravel(i, in[0].shape);
        const int64_t along = idx[d];
        idx[d] = 0;
        const int64_t o = ravel(idx, ks);
        if (in[0].v[i] > values.v[o]) {
          values.v[o] = in[0].v[i];
          indices.v[o] = static_cast<double>(along);
        }
      }
      return std::vector<Ref>{values, indices};
    };
    c.backward = [m](const std::vector<Tensor>& in, const std::vector<Tensor>& gy, Guard& g) {
      const int64_t d = m.dim < 0 ? m.dim + in[0].dim() : m.dim;
      const auto r = ops::max_dim(in[0], d, true);
      Tensor gx = g.zeros(in[0].shape(), in[0].dtype(), in[0].device());
      AGF_DISPATCH_WITH_WORKSPACE(in[0].device(), max_dim_backward(gx, gy[0], r.indices, d));
      return std::vector<Tensor>{gx};
    };
    cases.push_back(std::move(c));
  }
}

}  // namespace agf::kt
