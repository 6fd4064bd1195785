#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/strided.h"

namespace agf::cpu {

namespace {

struct Acc {
  ReduceOp op;
  double v;
  explicit Acc(ReduceOp o)
      : op(o),
        v(o == ReduceOp::max   ? -std::numeric_limits<double>::infinity()
          : o == ReduceOp::min ? std::numeric_limits<double>::infinity()
                               : 0.0) {}
  void add(double x) {
    switch (op) {
      case ReduceOp::sum:
      case ReduceOp::mean: v += x; break;
      case ReduceOp::sumsq: v += x * x; break;
      case ReduceOp::max: v = (x > v || std::isnan(x)) && !std::isnan(v) ? x : v; break;
      case ReduceOp::min: v = (x < v || std::isnan(x)) && !std::isnan(v) ? x : v; break;
    }
  }
  void merge(const Acc& o) {
    if (op == ReduceOp::max || op == ReduceOp::min)
      add(o.v);
    else
      v += o.v;
  }
};

// The sum of a contiguous run in double, vectorised: the `simd` reduction lets the compiler keep one partial sum per
// lane and add them at the end (a fixed order for a given build, so still the same result on every run and with any
// number of threads). One scalar chain of dependent double additions had made a conv bias's gradient (a sum over
// (B, T) per channel) 5% of a tinylight backprop step.
template <typename T>
double contiguous_sum(const T* row, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t j = 0; j < n; ++j) s += static_cast<double>(row[j]);
  return s;
}

// Splits the reduction dims from the kept ones: `kept` indexes the output, `red` walks one output's inputs.
struct ReducePlan {
  Shape kept_shape, kept_x_strides, kept_out_strides, red_shape, red_strides;
};

ReducePlan plan_reduce(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
  ReducePlan p;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (std::find(dims.begin(), dims.end(), d) != dims.end()) {
      p.red_shape.push_back(x.shape()[d]);
      p.red_strides.push_back(x.strides()[d]);
    } else {
      p.kept_shape.push_back(x.shape()[d]);
      p.kept_x_strides.push_back(x.strides()[d]);
      p.kept_out_strides.push_back(out.strides()[d]);
    }
  }
  return p;
}

}  // namespace

void reduce(const Tensor& out, ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims) {
  const ReducePlan p = plan_reduce(out, x, dims);
  const int64_t red_n = shape_numel(p.red_shape);
  dispatch_float(x.dtype(), "reduce", [&]<typename scalar_t>() {
    const auto* xp = static_cast<const scalar_t*>(x.raw_data());
    auto* op_ = static_cast<scalar_t*>(out.raw_data());
    auto finish = [&](const Acc& a) {
      return static_cast<scalar_t>(op == ReduceOp::mean ? a.v / static_cast<double>(red_n) : a.v);
    };
    const StridedPlan<1> inner(p.red_shape, {p.red_strides.data()});
    if (shape_numel(p.kept_shape) == 1 && x.is_contiguous()) {
      // One output over contiguous data: fixed-size chunks reduced in parallel, then merged in order, so the
      // result does not depend on the number of threads.
      constexpr int64_t kChunk = 1 << 16;
      const int64_t n = x.numel(), nchunks = (n + kChunk - 1) / kChunk;
      std::vector<Acc> partial(std::max<int64_t>(nchunks, 1), Acc(op));
#pragma omp parallel for schedule(static) if (nchunks > 1)
      for (int64_t c = 0; c < nchunks; ++c) {
        const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
        for (int64_t i = b; i < e; ++i) partial[c].add(static_cast<double>(xp[i]));
      }
      Acc total(op);
      for (const auto& a : partial) total.merge(a);
      *op_ = finish(total);
      return;
    }
    StridedPlan<2>(p.kept_shape, {p.kept_out_strides.data(), p.kept_x_strides.data()})
        .run(
            [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
              for (int64_t i = 0; i < n; ++i) {
                Acc a(op);
                const scalar_t* base = xp + off[1] + i * st[1];
                inner.run(
                    [&](const std::array<int64_t, 1>& ro, int64_t rn, const std::array<int64_t, 1>& rs) {
                      const scalar_t* row = base + ro[0];
                      if (rs[0] == 1 && (op == ReduceOp::sum || op == ReduceOp::mean)) {
                        a.v += contiguous_sum(row, rn);
                      } else {
                        for (int64_t j = 0; j < rn; ++j) a.add(static_cast<double>(row[j * rs[0]]));
                      }
                    },
                    std::numeric_limits<int64_t>::max());
                op_[off[0] + i * st[0]] = finish(a);
              }
            },
            std::max<int64_t>(1, 32768 / std::max<int64_t>(red_n, 1)));
  });
}

void max_dim(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  const int64_t n_red = x.shape()[dim], red_stride = x.strides()[dim];
  Shape kept = x.shape();
  kept[dim] = 1;
  dispatch_float(x.dtype(), "max", [&]<typename scalar_t>() {
    const auto* xp = static_cast<const scalar_t*>(x.raw_data());
    auto* vp = static_cast<scalar_t*>(values.raw_data());
    auto* ip = indices.data<int64_t>();
    StridedPlan<3>(kept, {values.strides().data(), indices.strides().data(), x.strides().data()})
        .run([&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
          for (int64_t i = 0; i < n; ++i) {
            const scalar_t* base = xp + off[2] + i * st[2];
            const int64_t arg = math::argmax_nan_first(base, n_red, red_stride);
            vp[off[0] + i * st[0]] = base[arg * red_stride];
            ip[off[1] + i * st[1]] = arg;
          }
        });
  });
}

void max_dim_backward(const Tensor& grad_x, const Tensor& grad_values, const Tensor& indices, int64_t dim) {
  const int64_t n_red = grad_x.shape()[dim], red_stride = grad_x.strides()[dim];
  dispatch_float(grad_x.dtype(), "max backward", [&]<typename scalar_t>() {
    auto* gx = static_cast<scalar_t*>(grad_x.raw_data());
    const auto* gv = static_cast<const scalar_t*>(grad_values.raw_data());
    const auto* ip = indices.data<int64_t>();
    Shape kept = grad_x.shape();
    kept[dim] = 1;
    // Exceptions cannot leave an OpenMP region: record the first bad index, then throw after it.
    std::atomic<bool> any_bad{false};
    std::atomic<int64_t> bad{0};
    StridedPlan<3>(kept, {grad_x.strides().data(), grad_values.strides().data(), indices.strides().data()})
        .run([&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
          for (int64_t i = 0; i < n; ++i) {
            const int64_t arg = ip[off[2] + i * st[2]];
            if (arg < 0 || arg >= n_red) {
              if (!any_bad.exchange(true)) bad = arg;
              continue;
            }
            gx[off[0] + i * st[0] + arg * red_stride] += gv[off[1] + i * st[1]];
          }
        });
    AGF_CHECK(!any_bad.load(), "max backward: index {} out of range [0, {})", bad.load(), n_red);
  });
}

}  // namespace agf::cpu
