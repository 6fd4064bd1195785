#pragma once
// The row-level math of batch norm, layer norm and the softmax, written once as AGF_HD inline functions: the CPU
// loops (kernels/cpu/norm.cpp, kernels/cpu/softmax.cpp) and the CUDA kernels (kernels/cuda/norm.cu) call these for
// every per-element and per-row formula, so the backends differ only in the order in which their sums add up and in
// nvcc's contraction of a multiply and an add into one FMA (its default, --fmad=true), which the CPU build does not do.
// Statistics are doubles on both backends; each function is the exact expression, operations and order, that the
// CPU loops always evaluated, so moving it here changed no CPU result.
#include <cmath>
#include <cstdint>

#include "kernels/element_math.h"
#include "tensor/hd.h"

namespace agf::math {

// ---- batch norm and layer norm

// 1 / sqrt(var + eps) for a biased variance: batch norm's invstd, layer norm's rstd.
AGF_HD double invstd(double var, double eps) { return 1.0 / ::sqrt(var + eps); }

// The unbiased variance of n values from their biased one (n > 1): what the running variance takes.
AGF_HD double unbiased_var(double var, int64_t n) {
  return var * static_cast<double>(n) / static_cast<double>(n - 1);
}

// One running-statistics step of PyTorch's BatchNorm1d: (1 - momentum) running + momentum batch.
AGF_HD double running_update(double running, double batch, double momentum) {
  return (1.0 - momentum) * running + momentum * batch;
}

// Batch norm's per-channel multiplier of (x - mean): gamma invstd, gamma = 1 without the affine transform.
AGF_HD double bn_scale(double gamma, double invstd) { return gamma * invstd; }

// One normalised batch-norm element, (x - mean) scale + shift in double, rounded once to T.
template <typename T>
AGF_HD T bn_apply(T x, double mean, double scale, double shift) {
  return static_cast<T>((static_cast<double>(x) - mean) * scale + shift);
}

// The leaky ReLU fused after batch norm, on the rounded value and with the separate op's own formula
// (element_math.h's leaky_relu), so the fused pass equals the two ops bit for bit.
template <typename T>
AGF_HD T leaky(T v, T slope) {
  return leaky_relu(v, slope);
}

// One normalised layer-norm element: (x - mean) rstd, then times gamma and plus beta where given (pointers to this
// column's gamma and beta, or null; skipped rather than multiplied by 1 so a -0 stays -0 as before).
template <typename T>
AGF_HD T layer_norm_apply(T x, double mean, double rstd, const T* gamma, const T* beta) {
  double v = (static_cast<double>(x) - mean) * rstd;
  if (gamma != nullptr) v *= static_cast<double>(*gamma);
  if (beta != nullptr) v += static_cast<double>(*beta);
  return static_cast<T>(v);
}

// The normalised input of the backward passes, (x - mean) invstd.
AGF_HD double xhat(double x, double mean, double invstd) { return (x - mean) * invstd; }

// A term of the backward's sum of g xhat, written g (x - mean) invstd (not g * xhat: a different rounding).
AGF_HD double grad_xhat_term(double g, double x, double mean, double invstd) { return g * (x - mean) * invstd; }

// The input gradient of batch norm and layer norm: scale (g - mean(g) - xhat mean(g xhat)), with g the incoming
// gradient (layer norm: times gamma) and scale = gamma invstd (layer norm: rstd). Batch norm in eval mode passes
// zero means, the statistics being constants there.
AGF_HD double norm_grad_x(double scale, double g, double mean_g, double xhat, double mean_g_xhat) {
  return scale * (g - mean_g - xhat * mean_g_xhat);
}

// ---- softmax

// What the reference model writes over a masked score (scores*mask - 1e10*(1-mask)); exp of it minus the row max
// underflows to exactly 0, so masked keys get exactly zero probability.
inline constexpr double kMaskedScore = -1e10;

// Keys 0..n_live-1 of row `row` are visible: with the causal mask, row r is query r % n_queries of its
// (n_queries, D) matrix and sees keys up to its own index.
AGF_HD int64_t softmax_live_keys(int64_t row, int64_t n_queries, int64_t D, bool causal) {
  if (!causal) return D;
  const int64_t q = row % n_queries + 1;
  return q < D ? q : D;
}

// The row maximum from the maximum of the live scores: the masked score joins it when a key is masked.
AGF_HD double softmax_row_max(double live_max, int64_t n_live, int64_t D) {
  return n_live < D ? ::fmax(live_max, kMaskedScore) : live_max;
}

// exp(score - max) of a live score and of the masked score.
AGF_HD double softmax_exp(double score, double max) { return ::exp(score - max); }
AGF_HD double softmax_masked_exp(double max) { return ::exp(kMaskedScore - max); }

// The row's sum of exponentials: the live ones' sum plus the masked keys' share.
AGF_HD double softmax_total(double live_sum, double masked_exp, int64_t n_masked) {
  return live_sum + masked_exp * static_cast<double>(n_masked);
}

// A probability from its exponential as stored (rounded to T) and 1 / total.
template <typename T>
AGF_HD T softmax_scale(T stored_exp, double inv_total) {
  return static_cast<T>(static_cast<double>(stored_exp) * inv_total);
}

// The softmax input gradient of one element: y (g - sum_j g_j y_j).
template <typename T>
AGF_HD T softmax_grad(T y, T g, double dot) {
  return static_cast<T>(static_cast<double>(y) * (static_cast<double>(g) - dot));
}

}  // namespace agf::math
