// Softmax over the last dim (the attention probabilities) and its backward, on the CPU, for any strides. The
// formulas (the causal mask's score included) are kernels/row_math.h, shared with the CUDA kernels.
#include <cmath>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/rows.h"
#include "kernels/row_math.h"

namespace agf::cpu {

void softmax(const Tensor& out, const Tensor& x, bool causal) {
  const int64_t D = x.size(-1);
  const int64_t rows = D > 0 ? x.numel() / D : 0;
  const int64_t n_queries = causal ? x.size(-2) : 1;
  const RowWalker xr(x), yr(out);
  const int64_t sx = x.stride(-1), sy = out.stride(-1);
  dispatch_float(x.dtype(), "softmax", [&]<typename T>() {
    const T* xp = static_cast<const T*>(x.raw_data());
    T* yp = static_cast<T*>(out.raw_data());
#pragma omp parallel for schedule(static) if (rows > 1 && worth_threads(x.numel()))
    for (int64_t r = 0; r < rows; ++r) {
      const T* xrow = xp + xr.offset(r);
      T* yrow = yp + yr.offset(r);
      // Keys 0..n_live-1 are visible to this query; the rest are masked.
      const int64_t n_live = math::softmax_live_keys(r, n_queries, D, causal);
      double mx = -INFINITY;
      for (int64_t j = 0; j < n_live; ++j) mx = std::fmax(mx, static_cast<double>(xrow[j * sx]));
      mx = math::softmax_row_max(mx, n_live, D);
      // exp(x - max) is stored once in the output and summed in double, then scaled: one exp per element.
      double sum = 0;
      for (int64_t j = 0; j < n_live; ++j) {
        const double e = math::softmax_exp(static_cast<double>(xrow[j * sx]), mx);
        yrow[j * sy] = static_cast<T>(e);
        sum += e;
      }
      const double masked_e = math::softmax_masked_exp(mx);
      sum = math::softmax_total(sum, masked_e, D - n_live);
      const double inv = 1.0 / sum;
      for (int64_t j = 0; j < n_live; ++j) yrow[j * sy] = math::softmax_scale(yrow[j * sy], inv);
      for (int64_t j = n_live; j < D; ++j) yrow[j * sy] = static_cast<T>(masked_e * inv);
    }
  });
}

void softmax_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& y) {
  const int64_t D = y.size(-1);
  const int64_t rows = D > 0 ? y.numel() / D : 0;
  const RowWalker gxr(grad_x), gyr(grad_y), yr(y);
  const int64_t sgx = grad_x.stride(-1), sgy = grad_y.stride(-1), sy = y.stride(-1);
  dispatch_float(y.dtype(), "softmax backward", [&]<typename T>() {
    const T* gyp = static_cast<const T*>(grad_y.raw_data());
    const T* yp = static_cast<const T*>(y.raw_data());
    T* gxp = static_cast<T*>(grad_x.raw_data());
#pragma omp parallel for schedule(static) if (rows > 1 && worth_threads(y.numel()))
    for (int64_t r = 0; r < rows; ++r) {
      const T* gyrow = gyp + gyr.offset(r);
      const T* yrow = yp + yr.offset(r);
      T* gxrow = gxp + gxr.offset(r);
      double dot = 0;
      for (int64_t j = 0; j < D; ++j) dot += static_cast<double>(gyrow[j * sgy]) * static_cast<double>(yrow[j * sy]);
      for (int64_t j = 0; j < D; ++j)
        gxrow[j * sgx] = math::softmax_grad(yrow[j * sy], gyrow[j * sgy], dot);
    }
  });
}

}  // namespace agf::cpu
