// Batch norm and layer norm on the CPU. Statistics and the per-row/per-channel sums of the backward are kept in
// double; each element is normalised in double and rounded once to the output dtype. Inputs may have any strides.
// The formulas are kernels/row_math.h, shared with the CUDA kernels.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/rows.h"
#include "kernels/row_math.h"
#include "tensor/ledger.h"
#include "tensor/planning.h"

namespace agf::cpu {

namespace {

template <typename T>
const T* cptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <typename T>
T* mptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}
int64_t stride0(const Tensor& t) { return t.defined() ? t.stride(0) : 0; }

// A batch-norm operand seen as (B, C, T); a (B, C) tensor has T = 1.
struct ChannelView {
  int64_t B, C, T, sb, sc, st;
  explicit ChannelView(const Tensor& t)
      : B(t.size(0)),
        C(t.size(1)),
        T(t.dim() == 3 ? t.size(2) : 1),
        sb(t.stride(0)),
        sc(t.stride(1)),
        st(t.dim() == 3 ? t.stride(2) : 0) {}
  int64_t at(int64_t b, int64_t c, int64_t t) const { return b * sb + c * sc + t * st; }
};

}  // namespace

// ------------------------------------------------------------------------------------------------ batch norm

void batch_norm(const ops::BatchNormOut& out, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                const Tensor& running_mean, const Tensor& running_var, bool training, double momentum, double eps,
                const double* leaky_slope) {
  const ChannelView xv(x), yv(out.y);
  const int64_t n = xv.B * xv.T;
  dispatch_float(x.dtype(), "batch_norm", [&]<typename T>() {
    const T* xp = cptr<T>(x);
    T* yp = mptr<T>(out.y);
    const T *g = cptr<T>(gamma), *b = cptr<T>(beta);
    T *rm = mptr<T>(running_mean), *rv = mptr<T>(running_var);
    T *sm = mptr<T>(out.save_mean), *si = mptr<T>(out.save_invstd);
    const int64_t sg = stride0(gamma), sbeta = stride0(beta), srm = stride0(running_mean),
                  srv = stride0(running_var), ssm = stride0(out.save_mean), ssi = stride0(out.save_invstd);
    const T slope = leaky_slope != nullptr ? static_cast<T>(*leaky_slope) : T(0);
    // One body for any time strides xs, ys; called with compile-time 1s when both rows are contiguous (every EcgNet
    // map), so that instance runs on plain pointers the compiler vectorises. Same arithmetic either way (the order of
    // the simd sums is the compiled loop's, and may differ between the two instances in the last bit).
    const auto channels = [&](auto xs, auto ys) {
#pragma omp parallel for schedule(static) if (xv.C > 1 && worth_threads(x.numel()))
      for (int64_t c = 0; c < xv.C; ++c) {
        double mean, invstd;
        if (training) {
          // Two passes: the centred sum of squares does not cancel the way E[x^2] - E[x]^2 does.
          // The sums are `simd` reductions: a partial sum per lane, added at the end, in an order fixed by the build
          // (so every run and every thread count gives the same result); one scalar chain of dependent double
          // additions made batch norm 7% of a tinylight backprop step.
          double sum = 0;
          for (int64_t bi = 0; bi < xv.B; ++bi) {
            const T* xr = xp + xv.at(bi, c, 0);
#pragma omp simd reduction(+ : sum)
            for (int64_t t = 0; t < xv.T; ++t) sum += static_cast<double>(xr[t * xs]);
          }
          mean = sum / static_cast<double>(n);
          double ss = 0;
          for (int64_t bi = 0; bi < xv.B; ++bi) {
            const T* xr = xp + xv.at(bi, c, 0);
#pragma omp simd reduction(+ : ss)
            for (int64_t t = 0; t < xv.T; ++t) {
              const double d = static_cast<double>(xr[t * xs]) - mean;
              ss += d * d;
            }
          }
          const double var = ss / static_cast<double>(n);
          invstd = math::invstd(var, eps);
          if (rm != nullptr) {
            // The running variance takes the unbiased estimate, as PyTorch's BatchNorm1d does.
            const double unbiased = math::unbiased_var(var, n);
            rm[c * srm] = static_cast<T>(math::running_update(static_cast<double>(rm[c * srm]), mean, momentum));
            rv[c * srv] = static_cast<T>(math::running_update(static_cast<double>(rv[c * srv]), unbiased, momentum));
          }
        } else {
          mean = static_cast<double>(rm[c * srm]);
          invstd = math::invstd(static_cast<double>(rv[c * srv]), eps);
        }
        sm[c * ssm] = static_cast<T>(mean);
        si[c * ssi] = static_cast<T>(invstd);
        const double scale = math::bn_scale(g != nullptr ? static_cast<double>(g[c * sg]) : 1.0, invstd);
        const double shift = b != nullptr ? static_cast<double>(b[c * sbeta]) : 0.0;
        // y may be x itself (batch_norm_leaky_ under NoGrad): each element is read before it is written, and the
        // channels are disjoint across threads. The leaky ReLU applies to the rounded value, as the separate op would.
        for (int64_t bi = 0; bi < xv.B; ++bi) {
          const T* xr = xp + xv.at(bi, c, 0);
          T* yr = yp + yv.at(bi, c, 0);
          // Two loops, not a test per element: with it inside, the loop did not vectorise.
          if (leaky_slope != nullptr) {
#pragma omp simd
            for (int64_t t = 0; t < xv.T; ++t)
              yr[t * ys] = math::leaky(math::bn_apply(xr[t * xs], mean, scale, shift), slope);
          } else {
#pragma omp simd
            for (int64_t t = 0; t < xv.T; ++t) yr[t * ys] = math::bn_apply(xr[t * xs], mean, scale, shift);
          }
        }
      }
    };
    if (xv.st == 1 && yv.st == 1)
      channels(std::integral_constant<int64_t, 1>{}, std::integral_constant<int64_t, 1>{});
    else
      channels(xv.st, yv.st);
  });
}

void batch_norm_backward(const ops::NormGrads& out, const Tensor& grad_y, const Tensor& x, const Tensor& gamma,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training) {
  const ChannelView xv(x), gyv(grad_y), gxv(out.grad_x);
  const int64_t n = xv.B * xv.T;
  dispatch_float(x.dtype(), "batch_norm backward", [&]<typename T>() {
    const T *xp = cptr<T>(x), *gyp = cptr<T>(grad_y), *g = cptr<T>(gamma);
    const T *sm = cptr<T>(save_mean), *si = cptr<T>(save_invstd);
    T *gxp = mptr<T>(out.grad_x), *gg = mptr<T>(out.grad_gamma), *gb = mptr<T>(out.grad_beta);
    const int64_t sg = stride0(gamma), ssm = stride0(save_mean), ssi = stride0(save_invstd),
                  sgg = stride0(out.grad_gamma), sgb = stride0(out.grad_beta);
    // As in the forward: one body for any time strides, instantiated with compile-time 1s for contiguous rows so
    // that the loops vectorise, and `simd` reductions for the sums.
    const auto channels = [&](auto xs, auto gys, auto gxs) {
#pragma omp parallel for schedule(static) if (xv.C > 1 && worth_threads(x.numel()))
      for (int64_t c = 0; c < xv.C; ++c) {
        const double mean = static_cast<double>(sm[c * ssm]), invstd = static_cast<double>(si[c * ssi]);
        double sum_gy = 0, sum_gy_xhat = 0;
        if (training || g != nullptr) {
          for (int64_t bi = 0; bi < xv.B; ++bi) {
            const T* xr = xp + xv.at(bi, c, 0);
            const T* gyr = gyp + gyv.at(bi, c, 0);
#pragma omp simd reduction(+ : sum_gy, sum_gy_xhat)
            for (int64_t t = 0; t < xv.T; ++t) {
              const double gy = static_cast<double>(gyr[t * gys]);
              sum_gy += gy;
              sum_gy_xhat += math::grad_xhat_term(gy, static_cast<double>(xr[t * xs]), mean, invstd);
            }
          }
        }
        if (g != nullptr) {
          gg[c * sgg] = static_cast<T>(sum_gy_xhat);
          gb[c * sgb] = static_cast<T>(sum_gy);
        }
        const double scale = math::bn_scale(g != nullptr ? static_cast<double>(g[c * sg]) : 1.0, invstd);
        // Training: the batch statistics depend on x, which removes the gradient's mean and its projection on xhat.
        const double mean_gy = training ? sum_gy / static_cast<double>(n) : 0.0;
        const double mean_gy_xhat = training ? sum_gy_xhat / static_cast<double>(n) : 0.0;
        for (int64_t bi = 0; bi < xv.B; ++bi) {
          const T* xr = xp + xv.at(bi, c, 0);
          const T* gyr = gyp + gyv.at(bi, c, 0);
          T* gxr = gxp + gxv.at(bi, c, 0);
#pragma omp simd
          for (int64_t t = 0; t < xv.T; ++t) {
            const double gy = static_cast<double>(gyr[t * gys]);
            const double xhat = math::xhat(static_cast<double>(xr[t * xs]), mean, invstd);
            gxr[t * gxs] = static_cast<T>(math::norm_grad_x(scale, gy, mean_gy, xhat, mean_gy_xhat));
          }
        }
      }
    };
    if (xv.st == 1 && gyv.st == 1 && gxv.st == 1)
      channels(std::integral_constant<int64_t, 1>{}, std::integral_constant<int64_t, 1>{},
               std::integral_constant<int64_t, 1>{});
    else
      channels(xv.st, gyv.st, gxv.st);
  });
}

// ------------------------------------------------------------------------------------------------ layer norm

void layer_norm(const ops::LayerNormOut& out, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const int64_t D = x.size(-1);
  const int64_t rows = D > 0 ? x.numel() / D : 0;
  const RowWalker xr(x), yr(out.y), mr(out.mean, false), rr(out.rstd, false);
  const int64_t sx = x.stride(-1), sy = out.y.stride(-1), sg = stride0(gamma), sb = stride0(beta);
  dispatch_float(x.dtype(), "layer_norm", [&]<typename T>() {
    const T *xp = cptr<T>(x), *g = cptr<T>(gamma), *b = cptr<T>(beta);
    T *yp = mptr<T>(out.y), *mp = mptr<T>(out.mean), *rp = mptr<T>(out.rstd);
#pragma omp parallel for schedule(static) if (rows > 1 && worth_threads(x.numel()))
    for (int64_t r = 0; r < rows; ++r) {
      const T* xrow = xp + xr.offset(r);
      T* yrow = yp + yr.offset(r);
      double sum = 0;
      for (int64_t d = 0; d < D; ++d) sum += static_cast<double>(xrow[d * sx]);
      const double mean = sum / static_cast<double>(D);
      double ss = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double c = static_cast<double>(xrow[d * sx]) - mean;
        ss += c * c;
      }
      const double rstd = math::invstd(ss / static_cast<double>(D), eps);
      mp[mr.offset(r)] = static_cast<T>(mean);
      rp[rr.offset(r)] = static_cast<T>(rstd);
      for (int64_t d = 0; d < D; ++d)
        yrow[d * sy] = math::layer_norm_apply(xrow[d * sx], mean, rstd, g != nullptr ? g + d * sg : nullptr,
                                              b != nullptr ? b + d * sb : nullptr);
    }
  });
}

void layer_norm_backward(const ops::NormGrads& out, const Tensor& grad_y, const Tensor& x, const Tensor& gamma,
                         const Tensor& mean, const Tensor& rstd) {
  const int64_t D = x.size(-1);
  const int64_t rows = D > 0 ? x.numel() / D : 0;
  const RowWalker xr(x), gyr(grad_y), gxr(out.grad_x), mr(mean, false), rr(rstd, false);
  const int64_t sx = x.stride(-1), sgy = grad_y.stride(-1), sgx = out.grad_x.stride(-1), sg = stride0(gamma);
  // grad_gamma / grad_beta sum over rows in fixed chunks: their partial sums are the workspace.
  const int64_t chunk = rows_per_chunk(D);
  const int64_t nchunks = (rows + chunk - 1) / chunk;
  Tensor partial;
  if (gamma.defined()) {
    MemScope scope(MemTag::workspace);
    partial = zeros({std::max<int64_t>(nchunks, 1), 2, D}, DType::f64, Device::cpu());
  }
  if (planning()) return;
  dispatch_float(x.dtype(), "layer_norm backward", [&]<typename T>() {
    const T *xp = cptr<T>(x), *gyp = cptr<T>(grad_y), *g = cptr<T>(gamma), *mp = cptr<T>(mean),
            *rp = cptr<T>(rstd);
    T* gxp = mptr<T>(out.grad_x);
#pragma omp parallel for schedule(static) if (rows > 1 && worth_threads(x.numel()))
    for (int64_t r = 0; r < rows; ++r) {
      const T* xrow = xp + xr.offset(r);
      const T* gyrow = gyp + gyr.offset(r);
      T* gxrow = gxp + gxr.offset(r);
      const double mu = static_cast<double>(mp[mr.offset(r)]), rs = static_cast<double>(rp[rr.offset(r)]);
      // With gh = grad_y * gamma: grad_x = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)).
      double sum_gh = 0, sum_gh_xhat = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double gh = static_cast<double>(gyrow[d * sgy]) * (g != nullptr ? static_cast<double>(g[d * sg]) : 1.0);
        sum_gh += gh;
        sum_gh_xhat += math::grad_xhat_term(gh, static_cast<double>(xrow[d * sx]), mu, rs);
      }
      const double mean_gh = sum_gh / static_cast<double>(D), mean_gh_xhat = sum_gh_xhat / static_cast<double>(D);
      for (int64_t d = 0; d < D; ++d) {
        const double gh = static_cast<double>(gyrow[d * sgy]) * (g != nullptr ? static_cast<double>(g[d * sg]) : 1.0);
        const double xhat = math::xhat(static_cast<double>(xrow[d * sx]), mu, rs);
        gxrow[d * sgx] = static_cast<T>(math::norm_grad_x(rs, gh, mean_gh, xhat, mean_gh_xhat));
      }
    }
    if (g == nullptr) return;

    // grad_gamma / grad_beta sum over rows: fixed chunks of rows in parallel, then merged in chunk order, so the
    // result is the same for any thread count (the runs are bit-reproducible).
    double* pp = partial.data<double>();
#pragma omp parallel for schedule(static) if (nchunks > 1 && worth_threads(x.numel()))
    for (int64_t k = 0; k < nchunks; ++k) {
      double* pg = pp + k * 2 * D;
      double* pb = pg + D;
      const int64_t r_end = std::min(rows, (k + 1) * chunk);
      for (int64_t r = k * chunk; r < r_end; ++r) {
        const T* xrow = xp + xr.offset(r);
        const T* gyrow = gyp + gyr.offset(r);
        const double mu = static_cast<double>(mp[mr.offset(r)]), rs = static_cast<double>(rp[rr.offset(r)]);
        for (int64_t d = 0; d < D; ++d) {
          const double gy = static_cast<double>(gyrow[d * sgy]);
          pg[d] += math::grad_xhat_term(gy, static_cast<double>(xrow[d * sx]), mu, rs);
          pb[d] += gy;
        }
      }
    }
    T *gg = mptr<T>(out.grad_gamma), *gb = mptr<T>(out.grad_beta);
    const int64_t sgg = stride0(out.grad_gamma), sgb = stride0(out.grad_beta);
    for (int64_t d = 0; d < D; ++d) {
      double sg_d = 0, sb_d = 0;
      for (int64_t k = 0; k < nchunks; ++k) {
        sg_d += pp[k * 2 * D + d];
        sb_d += pp[k * 2 * D + D + d];
      }
      gg[d * sgg] = static_cast<T>(sg_d);
      gb[d * sgb] = static_cast<T>(sb_d);
    }
  });
}

}  // namespace agf::cpu
