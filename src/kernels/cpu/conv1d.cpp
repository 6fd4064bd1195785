// Conv1d on the CPU as im2col + GEMM: the reference path, the one float64 takes, and the one 1x1 convolutions take
// (a single GEMM on x). Other float32 convolutions go to oneDNN first (conv1d_onednn.cpp) and come here when oneDNN
// does not take them. The batch goes in chunks whose columns fit an 8 MiB workspace budget (or one element when that
// is larger: 42 MB at Cin = 768, K = 9, T_out = 1536 in f32), so the workspace does not grow with the batch. Per
// chunk, one pass builds (or folds back) all the columns, then the GEMMs run after it and let OpenBLAS thread itself;
// BLAS is never called from inside an OpenMP region (see worth_threads).
// x and grad_y are read through their strides, so transposed or strided views are not copied first.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/gemm.h"
#include "tensor/planning.h"

namespace agf::cpu {

namespace {

struct ConvGeometry {
  int64_t batch, cin, cout, k, t_in, t_out, stride, pad;
};

ConvGeometry geometry(int64_t batch, int64_t cin, int64_t t_in, const Tensor& w, ops::Conv1dArgs args) {
  const int64_t k = w.size(2);
  return {batch, cin, w.size(0), k, t_in, ops::conv1d_out_len(t_in, k, args), args.stride, args.padding};
}

// A 1x1 convolution with unit stride and no padding is a GEMM on x itself: no columns to build.
bool is_pointwise(const ConvGeometry& g) { return g.k == 1 && g.stride == 1 && g.pad == 0; }

// The output positions [lo, hi) whose tap j reads x inside [0, t_in); the rest read the zero padding.
void valid_range(const ConvGeometry& g, int64_t j, int64_t& lo, int64_t& hi) {
  const int64_t first = g.pad - j;  // t * stride must reach at least this
  lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  const int64_t last = g.t_in - 1 + g.pad - j;  // and at most this
  hi = last < 0 ? 0 : std::min(g.t_out, last / g.stride + 1);
  lo = std::min(lo, hi);
}

// A much higher bar than the element-wise kernels': with libgomp's default (active) wait policy a team's threads
// spin for milliseconds after a region, on the cores the GEMM right after it needs. Measured on 2 cores, forward,
// B = 4: the EcgNet conv1 (Cin 12, T 6144; 0.7M column entries) took 12 ms with a threaded im2col and 1.2 ms
// without; a width-512 conv2 at T 384 (1.8M entries per element) 120 ms and 77 ms. A team only builds columns
// large enough (32 MB in f32) that copying them is a real share of the time.
bool worth_threads(int64_t work) { return work >= (1 << 23); }

// Batch elements per chunk of columns.
int64_t chunk_size(const ConvGeometry& g, size_t elem_size) {
  // Larger chunks only pay for small convolutions, whose per-element passes are too short to amortise.
  constexpr int64_t kBudgetBytes = int64_t{8} << 20;
  const int64_t per_element = g.cin * g.k * g.t_out * static_cast<int64_t>(elem_size);
  const int64_t fit = per_element > 0 ? kBudgetBytes / per_element : g.batch;
  return std::clamp<int64_t>(fit, 1, std::max<int64_t>(g.batch, 1));
}

// For nb batch elements of x (element strides xs[0..2] of its B, Cin, T dims), cols (nb, Cin*K, T_out) row-major:
// cols[b, c*K + j, t] = x[b, c, t*stride - pad + j], zero outside x.
template <typename T>
void im2col(T* cols, const T* x, int64_t nb, const int64_t* xs, const ConvGeometry& g) {
  const int64_t rows = g.cin * g.k;
#pragma omp parallel for schedule(static) if (worth_threads(nb * rows * g.t_out))
  for (int64_t r = 0; r < nb * rows; ++r) {
    const int64_t b = r / rows, c = (r % rows) / g.k, j = r % g.k;
    T* dst = cols + r * g.t_out;
    int64_t lo, hi;
    valid_range(g, j, lo, hi);
    std::fill(dst, dst + lo, T(0));
    if (hi > lo) {
      const int64_t xs_t = xs[2];
      const T* src = x + b * xs[0] + c * xs[1] + (lo * g.stride - g.pad + j) * xs_t;
      const int64_t step = g.stride * xs_t;
      if (step == 1) {
        std::memcpy(dst + lo, src, static_cast<size_t>(hi - lo) * sizeof(T));
      } else {
        for (int64_t t = lo; t < hi; ++t) dst[t] = src[(t - lo) * step];
      }
    }
    std::fill(dst + hi, dst + g.t_out, T(0));
  }
}

// The adjoint of im2col for nb batch elements: gx (nb, Cin, T_in) contiguous = scatter-add of the columns. One
// thread per (element, channel) row, so overlapping taps accumulate without races.
template <typename T>
void col2im(T* gx, const T* cols, int64_t nb, const ConvGeometry& g) {
#pragma omp parallel for schedule(static) if (worth_threads(nb * g.cin * g.k * g.t_out))
  for (int64_t bc = 0; bc < nb * g.cin; ++bc) {
    T* row = gx + bc * g.t_in;
    std::fill(row, row + g.t_in, T(0));
    for (int64_t j = 0; j < g.k; ++j) {
      int64_t lo, hi;
      valid_range(g, j, lo, hi);
      if (hi <= lo) continue;
      const T* src = cols + (bc * g.k + j) * g.t_out;
      T* dst = row + lo * g.stride - g.pad + j;
      for (int64_t t = lo; t < hi; ++t) dst[(t - lo) * g.stride] += src[t];
    }
  }
}

// Bytes of the columns the im2col path would use: the oneDNN path may take as much for its scratchpad.
int64_t column_bytes(const ConvGeometry& g, size_t elem_size) {
  return chunk_size(g, elem_size) * g.cin * g.k * g.t_out * static_cast<int64_t>(elem_size);
}

Tensor column_workspace(const ConvGeometry& g, int64_t nb, DType dtype) {
  MemScope scope(MemTag::workspace);
  return empty({nb, g.cin * g.k, g.t_out}, dtype, Device::cpu());
}

// w as the (Cout, Cin*K) row-major matrix of the GEMMs.
Tensor weight_matrix(const Tensor& w) {
  MemScope scope(MemTag::workspace);
  return w.contiguous();
}

}  // namespace

void conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
            const Tensor& out2, const Tensor& w2) {
  const ConvGeometry g = geometry(x.size(0), x.size(1), x.size(2), w, args);
  if (out.numel() == 0) return;
  const bool second = out2.defined();
  // A 1x1 convolution is one BLAS GEMM on x itself here, twice as fast as oneDNN's (agf-kernels --perf, B4 Cin64
  // T1536: 0.35 vs 0.73 ms); oneDNN takes the others.
  const bool pointwise_ok = is_pointwise(g) && blas::matrix_layout(x).ok;
  if (!pointwise_ok && onednn_conv1d(out, x, w, bias, args, column_bytes(g, x.element_size()))) {
    if (second) conv1d(out2, x, w2, Tensor(), args);  // its own oneDNN call (or im2col): no columns to share
    return;
  }
  const Tensor wm = weight_matrix(w);
  const Tensor wm2 = second ? weight_matrix(w2) : Tensor();
  const int64_t cout2 = second ? w2.size(0) : 0;
  const blas::MatrixLayout lx = blas::matrix_layout(x);
  const bool direct = is_pointwise(g) && lx.ok;
  const int64_t chunk = direct ? g.batch : chunk_size(g, x.element_size());
  const Tensor cols = direct ? Tensor() : column_workspace(g, chunk, x.dtype());
  if (planning()) return;
  dispatch_float(x.dtype(), "conv1d", [&]<typename T>() {
    const auto* xp = static_cast<const T*>(x.raw_data());
    const auto* wp = static_cast<const T*>(wm.raw_data());
    const T* wp2 = second ? static_cast<const T*>(wm2.raw_data()) : nullptr;
    const T* bp = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    auto* yp = static_cast<T*>(out.raw_data());
    T* yp2 = second ? static_cast<T*>(out2.raw_data()) : nullptr;
    T* cp = direct ? nullptr : static_cast<T*>(cols.raw_data());
    const int64_t ck = g.cin * g.k;
    if (bp != nullptr) {
      // The bias seeds the output and the GEMMs add onto it (beta = 1): no second pass over y.
      for (int64_t r = 0; r < g.batch * g.cout; ++r)
        std::fill(yp + r * g.t_out, yp + (r + 1) * g.t_out, bp[(r % g.cout) * bias.stride(0)]);
    }
    const T beta = bp != nullptr ? T(1) : T(0);
    for (int64_t b0 = 0; b0 < g.batch; b0 += chunk) {
      const int64_t nb = std::min(chunk, g.batch - b0);
      if (!direct) im2col(cp, xp + b0 * x.stride(0), nb, x.strides().data(), g);
      for (int64_t b = b0; b < b0 + nb; ++b) {
        T* yb = yp + b * g.cout * g.t_out;
        // The second weight (a LoRA down-projection) reads the same columns: one im2col for both GEMMs.
        if (direct) {
          blas::gemm<T>(false, lx.transposed, g.cout, g.t_out, g.cin, T(1), wp, ck, xp + b * x.stride(0), lx.ld, beta,
                        yb, g.t_out);
          if (second)
            blas::gemm<T>(false, lx.transposed, cout2, g.t_out, g.cin, T(1), wp2, ck, xp + b * x.stride(0), lx.ld,
                          T(0), yp2 + b * cout2 * g.t_out, g.t_out);
        } else {
          const T* cb = cp + (b - b0) * ck * g.t_out;
          blas::gemm<T>(false, false, g.cout, g.t_out, ck, T(1), wp, ck, cb, g.t_out, beta, yb, g.t_out);
          if (second)
            blas::gemm<T>(false, false, cout2, g.t_out, ck, T(1), wp2, ck, cb, g.t_out, T(0),
                          yp2 + b * cout2 * g.t_out, g.t_out);
        }
      }
    }
  });
}

void conv1d_backward_input(const Tensor& grad_x, const Tensor& grad_y, const Tensor& w, ops::Conv1dArgs args) {
  const ConvGeometry g = geometry(grad_x.size(0), grad_x.size(1), grad_x.size(2), w, args);
  if (grad_x.numel() == 0) return;
  if (!is_pointwise(g) &&
      onednn_conv1d_backward_input(grad_x, grad_y, w, args, column_bytes(g, grad_x.element_size())))
    return;
  const Tensor wm = weight_matrix(w);
  const Tensor gy = blas::make_blas_ready(grad_y);
  const blas::MatrixLayout lg = blas::matrix_layout(gy);
  const bool direct = is_pointwise(g);
  const int64_t chunk = direct ? g.batch : chunk_size(g, grad_x.element_size());
  const Tensor cols = direct ? Tensor() : column_workspace(g, chunk, grad_x.dtype());
  if (planning()) return;
  dispatch_float(grad_x.dtype(), "conv1d backward input", [&]<typename T>() {
    const auto* wp = static_cast<const T*>(wm.raw_data());
    const auto* gyp = static_cast<const T*>(gy.raw_data());
    auto* gxp = static_cast<T*>(grad_x.raw_data());
    T* cp = direct ? nullptr : static_cast<T*>(cols.raw_data());
    const int64_t ck = g.cin * g.k;
    for (int64_t b0 = 0; b0 < g.batch; b0 += chunk) {
      const int64_t nb = std::min(chunk, g.batch - b0);
      // W^T (Cin*K, Cout) @ grad_y_b (Cout, T_out): the gradient of every column entry (of x itself when 1x1).
      for (int64_t b = b0; b < b0 + nb; ++b) {
        T* dst = direct ? gxp + b * g.cin * g.t_in : cp + (b - b0) * ck * g.t_out;
        blas::gemm<T>(true, lg.transposed, ck, g.t_out, g.cout, T(1), wp, ck, gyp + b * gy.stride(0), lg.ld, T(0),
                      dst, g.t_out);
      }
      if (!direct) col2im(gxp + b0 * g.cin * g.t_in, cp, nb, g);
    }
  });
}

void conv1d_backward_weight(const Tensor& grad_w, const Tensor& grad_y, const Tensor& x, ops::Conv1dArgs args) {
  const ConvGeometry g = geometry(x.size(0), x.size(1), x.size(2), grad_w, args);
  if (grad_w.numel() == 0) return;
  if (!(is_pointwise(g) && blas::matrix_layout(x).ok) &&
      onednn_conv1d_backward_weight(grad_w, grad_y, x, args, column_bytes(g, x.element_size())))
    return;
  const Tensor gy = blas::make_blas_ready(grad_y);
  const blas::MatrixLayout lg = blas::matrix_layout(gy), lx = blas::matrix_layout(x);
  const bool direct = is_pointwise(g) && lx.ok;
  const int64_t chunk = direct ? g.batch : chunk_size(g, x.element_size());
  const Tensor cols = direct ? Tensor() : column_workspace(g, chunk, x.dtype());
  if (planning()) return;
  dispatch_float(x.dtype(), "conv1d backward weight", [&]<typename T>() {
    const auto* xp = static_cast<const T*>(x.raw_data());
    const auto* gyp = static_cast<const T*>(gy.raw_data());
    auto* gwp = static_cast<T*>(grad_w.raw_data());
    T* cp = direct ? nullptr : static_cast<T*>(cols.raw_data());
    const int64_t ck = g.cin * g.k;
    if (g.batch == 0) std::fill(gwp, gwp + grad_w.numel(), T(0));
    // grad_w (Cout, Cin*K) = sum_b grad_y_b (Cout, T_out) @ cols_b^T (T_out, Cin*K), accumulated by beta = 1.
    for (int64_t b0 = 0; b0 < g.batch; b0 += chunk) {
      const int64_t nb = std::min(chunk, g.batch - b0);
      if (!direct) im2col(cp, xp + b0 * x.stride(0), nb, x.strides().data(), g);
      for (int64_t b = b0; b < b0 + nb; ++b) {
        const T* gyb = gyp + b * gy.stride(0);
        const T beta = b == 0 ? T(0) : T(1);
        if (direct) {
          blas::gemm<T>(lg.transposed, !lx.transposed, g.cout, ck, g.t_out, T(1), gyb, lg.ld, xp + b * x.stride(0),
                        lx.ld, beta, gwp, ck);
        } else {
          blas::gemm<T>(lg.transposed, true, g.cout, ck, g.t_out, T(1), gyb, lg.ld, cp + (b - b0) * ck * g.t_out,
                        g.t_out, beta, gwp, ck);
        }
      }
    }
  });
}

}  // namespace agf::cpu
