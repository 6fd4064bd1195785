// Average and max pooling over the last dim, no padding. Every row (one index of the leading dims) is independent,
// so rows are split over threads and each is read and written through its own strides. The backward kernels
// overwrite grad_x: each row is zeroed, then its windows scatter-add into it (overlapping windows, s < k,
// accumulate).
#include <algorithm>
#include <atomic>
#include <cmath>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/strided.h"

namespace agf::cpu {

namespace {

// Calls f(row_offset_a, row_offset_b) for every row of two (..., T) tensors with the same leading dims.
template <typename F>
void for_each_row_pair(const Tensor& a, const Tensor& b, int64_t work_per_row, F&& f) {
  const Shape lead(a.shape().begin(), a.shape().end() - 1);
  const Shape sa(a.strides().begin(), a.strides().end() - 1), sb(b.strides().begin(), b.strides().end() - 1);
  StridedPlan<2>(lead, {sa.data(), sb.data()})
      .run(
          [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
            for (int64_t i = 0; i < n; ++i) f(off[0] + i * st[0], off[1] + i * st[1]);
          },
          std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_row, 1)));
}

// As for_each_row_pair with a third tensor of the same leading dims.
template <typename F>
void for_each_row_triple(const Tensor& a, const Tensor& b, const Tensor& c, int64_t work_per_row, F&& f) {
  const Shape lead(a.shape().begin(), a.shape().end() - 1);
  const Shape sa(a.strides().begin(), a.strides().end() - 1), sb(b.strides().begin(), b.strides().end() - 1),
      sc(c.strides().begin(), c.strides().end() - 1);
  StridedPlan<3>(lead, {sa.data(), sb.data(), sc.data()})
      .run(
          [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
            for (int64_t i = 0; i < n; ++i) f(off[0] + i * st[0], off[1] + i * st[1], off[2] + i * st[2]);
          },
          std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_row, 1)));
}

}  // namespace

void avg_pool1d(const Tensor& out, const Tensor& x, int64_t k, int64_t s) {
  const int64_t t_out = out.size(-1), ys = out.stride(-1), xs = x.stride(-1);
  dispatch_float(x.dtype(), "avg_pool1d", [&]<typename T>() {
    auto* yp = static_cast<T*>(out.raw_data());
    const auto* xp = static_cast<const T*>(x.raw_data());
    for_each_row_pair(out, x, t_out * k, [&](int64_t yo, int64_t xo) {
      for (int64_t t = 0; t < t_out; ++t) {
        const T* win = xp + xo + t * s * xs;
        double acc = 0;
        for (int64_t j = 0; j < k; ++j) acc += static_cast<double>(win[j * xs]);
        yp[yo + t * ys] = static_cast<T>(acc / static_cast<double>(k));
      }
    });
  });
}

void avg_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, int64_t k, int64_t s) {
  const int64_t t_in = grad_x.size(-1), t_out = grad_y.size(-1), gxs = grad_x.stride(-1), gys = grad_y.stride(-1);
  dispatch_float(grad_x.dtype(), "avg_pool1d backward", [&]<typename T>() {
    auto* gx = static_cast<T*>(grad_x.raw_data());
    const auto* gy = static_cast<const T*>(grad_y.raw_data());
    const T inv_k = T(1) / static_cast<T>(k);
    for_each_row_pair(grad_x, grad_y, t_in + t_out * k, [&](int64_t xo, int64_t yo) {
      T* row = gx + xo;
      for (int64_t i = 0; i < t_in; ++i) row[i * gxs] = T(0);
      for (int64_t t = 0; t < t_out; ++t) {
        const T g = gy[yo + t * gys] * inv_k;
        T* win = row + t * s * gxs;
        for (int64_t j = 0; j < k; ++j) win[j * gxs] += g;
      }
    });
  });
}

void max_pool1d(const Tensor& out, const Tensor& indices, const Tensor& x, int64_t k, int64_t s) {
  const int64_t t_out = out.size(-1), ys = out.stride(-1), is = indices.stride(-1), xs = x.stride(-1);
  dispatch_float(x.dtype(), "max_pool1d", [&]<typename T>() {
    auto* yp = static_cast<T*>(out.raw_data());
    auto* ip = indices.data<int64_t>();
    const auto* xp = static_cast<const T*>(x.raw_data());
    for_each_row_triple(out, indices, x, t_out * k, [&](int64_t yo, int64_t io, int64_t xo) {
      for (int64_t t = 0; t < t_out; ++t) {
        const int64_t start = t * s;
        const T* win = xp + xo + start * xs;
        const int64_t arg = math::argmax_nan_first(win, k, xs);
        yp[yo + t * ys] = win[arg * xs];
        ip[io + t * is] = start + arg;
      }
    });
  });
}

void max_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& indices) {
  const int64_t t_in = grad_x.size(-1), t_out = grad_y.size(-1);
  const int64_t gxs = grad_x.stride(-1), gys = grad_y.stride(-1), is = indices.stride(-1);
  dispatch_float(grad_x.dtype(), "max_pool1d backward", [&]<typename T>() {
    auto* gx = static_cast<T*>(grad_x.raw_data());
    const auto* gy = static_cast<const T*>(grad_y.raw_data());
    const auto* ip = indices.data<int64_t>();
    std::atomic<bool> bad{false};  // exceptions cannot leave an OpenMP region: record, then throw after it
    for_each_row_triple(grad_x, grad_y, indices, t_in + t_out, [&](int64_t xo, int64_t yo, int64_t io) {
      T* row = gx + xo;
      for (int64_t i = 0; i < t_in; ++i) row[i * gxs] = T(0);
      for (int64_t t = 0; t < t_out; ++t) {
        const int64_t at = ip[io + t * is];
        if (at < 0 || at >= t_in) {
          bad = true;
          continue;
        }
        row[at * gxs] += gy[yo + t * gys];
      }
    });
    AGF_CHECK(!bad.load(), "max_pool1d backward: an index is out of range [0, {}) (grad_x {}, indices {})", t_in,
              grad_x.describe(), indices.describe());
  });
}

}  // namespace agf::cpu
