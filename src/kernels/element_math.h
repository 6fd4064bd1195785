#pragma once
// The element math of every element-wise op, written once as AGF_HD inline functions: the CPU loops
// (kernels/cpu) and the CUDA kernels (kernels/cuda) both call these, so the two backends compute the same thing.
#include <cmath>
#include <cstdint>

#include "tensor/hd.h"

namespace agf {

enum class UnaryOp : uint8_t {
  neg,
  exp,
  log,
  sqrt,
  abs,
  sign,
  sigmoid,
  leaky_relu,  // param = negative slope
  relu,
  tanh,
  square,
  reciprocal,
  add_scalar,  // x + param
  mul_scalar,  // x * param
  pow_scalar,  // x ^ param
  gt_scalar,   // 1 if x > param else 0 (a mask; zero gradient)
};
inline constexpr int kNumUnaryOps = 16;

enum class BinaryOp : uint8_t { add, sub, mul, div, maximum, minimum };
inline constexpr int kNumBinaryOps = 6;

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

namespace math {

// Precision-exact overloads: float math stays float on both host and device (an unqualified exp(float) could
// silently promote to double on the host and make the backends disagree).
AGF_HD float exp_(float x) { return expf(x); }
AGF_HD double exp_(double x) { return ::exp(x); }
AGF_HD float log_(float x) { return logf(x); }
AGF_HD double log_(double x) { return ::log(x); }
AGF_HD float log1p_(float x) { return log1pf(x); }
AGF_HD double log1p_(double x) { return ::log1p(x); }
AGF_HD float sqrt_(float x) { return sqrtf(x); }
AGF_HD double sqrt_(double x) { return ::sqrt(x); }
AGF_HD float tanh_(float x) { return tanhf(x); }
AGF_HD double tanh_(double x) { return ::tanh(x); }
AGF_HD float pow_(float x, float y) { return powf(x, y); }
AGF_HD double pow_(double x, double y) { return ::pow(x, y); }

template <typename T>
AGF_HD T sigmoid(T x) {
  // Two branches keep exp() from overflowing for large |x|.
  if (x >= T(0)) {
    const T e = exp_(-x);
    return T(1) / (T(1) + e);
  }
  const T e = exp_(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) without overflow.
template <typename T>
AGF_HD T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p_(exp_(-(x < T(0) ? -x : x)));
}

// Leaky ReLU as two selects against zero and a sum, not `x > 0 ? x : p * x`: GCC keeps that form a branch (a
// product made on one side only may not be hoisted, it could trap), which random signs mispredict half the time, and
// does not vectorise it; this form compiles to compares and blends. The same values (x > 0: x + p * 0; otherwise
// 0 + p * x), a NaN kept as NaN, and only a zero's sign may differ.
template <typename T>
AGF_HD T leaky_relu(T x, T p) {
  const T pos = x > T(0) ? x : T(0);
  const T neg = x > T(0) ? T(0) : x;
  return pos + p * neg;
}
template <typename T>
AGF_HD T leaky_relu_grad(T g, T x, T p) {
  const T pos = x > T(0) ? g : T(0);
  const T neg = x > T(0) ? T(0) : g;
  return pos + p * neg;
}

template <typename T>
AGF_HD T unary(UnaryOp op, T x, T p) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return exp_(x);
    case UnaryOp::log: return log_(x);
    case UnaryOp::sqrt: return sqrt_(x);
    case UnaryOp::abs: return x < T(0) ? -x : x;
    case UnaryOp::sign: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::sigmoid: return sigmoid(x);
    case UnaryOp::leaky_relu: return leaky_relu(x, p);
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::tanh: return tanh_(x);
    case UnaryOp::square: return x * x;
    case UnaryOp::reciprocal: return T(1) / x;
    case UnaryOp::add_scalar: return x + p;
    case UnaryOp::mul_scalar: return x * p;
    case UnaryOp::pow_scalar: return pow_(x, p);
    case UnaryOp::gt_scalar: return x > p ? T(1) : T(0);
  }
  return x;
}

// d unary(x) / dx times the incoming gradient g; y = unary(x) is passed so exp/sigmoid/sqrt/tanh reuse it.
template <typename T>
AGF_HD T unary_grad(UnaryOp op, T g, T x, T y, T p) {
  switch (op) {
    case UnaryOp::neg: return -g;
    case UnaryOp::exp: return g * y;
    case UnaryOp::log: return g / x;
    case UnaryOp::sqrt: return g / (T(2) * y);
    case UnaryOp::abs: return x > T(0) ? g : (x < T(0) ? -g : T(0));
    case UnaryOp::sign: return T(0);
    case UnaryOp::sigmoid: return g * y * (T(1) - y);
    case UnaryOp::leaky_relu: return leaky_relu_grad(g, x, p);
    case UnaryOp::relu: return x > T(0) ? g : T(0);
    case UnaryOp::tanh: return g * (T(1) - y * y);
    case UnaryOp::square: return g * T(2) * x;
    case UnaryOp::reciprocal: return -g * y * y;
    case UnaryOp::add_scalar: return g;
    case UnaryOp::mul_scalar: return g * p;
    case UnaryOp::pow_scalar: return p == T(0) ? T(0) : g * p * pow_(x, p - T(1));
    case UnaryOp::gt_scalar: return T(0);
  }
  return g;
}

template <typename T>
AGF_HD T binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return a > b ? a : b;
    case BinaryOp::minimum: return a < b ? a : b;
  }
  return a;
}

// Index of the maximum of p[0], p[stride], ..., p[(n-1)*stride] (n >= 1): the first maximum wins ties, and a NaN
// counts as the maximum so that it propagates (PyTorch's max and max_pool agree). Shared by max over a dim and max
// pooling. `v != v` is the NaN test that works on both host and device.
template <typename T>
AGF_HD int64_t argmax_nan_first(const T* p, int64_t n, int64_t stride) {
  T best = p[0];
  int64_t arg = 0;
  for (int64_t j = 1; j < n && best == best; ++j) {
    const T v = p[j * stride];
    if (v > best || v != v) {
      best = v;
      arg = j;
    }
  }
  return arg;
}

// BCE with logits for one element, soft target y, positive-class weight pw (1 = unweighted):
//   l = (1 - y) x + (1 + (pw - 1) y) softplus(-x)
template <typename T>
AGF_HD T bce_with_logits(T x, T y, T pw) {
  return (T(1) - y) * x + (T(1) + (pw - T(1)) * y) * softplus(-x);
}

// d l / d x for the element above: (1 - y) - (1 + (pw - 1) y) sigmoid(-x)
template <typename T>
AGF_HD T bce_with_logits_grad(T x, T y, T pw) {
  return (T(1) - y) - (T(1) + (pw - T(1)) * y) * sigmoid(-x);
}

// One AdamW element update in the order and form of torch.optim.AdamW (1.13's single-tensor path; torch 2 writes the
// first moment as a lerp, equal up to rounding): decoupled decay first, then
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  theta -= step_size * m / (sqrt(v) / sqrt(bc2) + eps)
// with step_size = lr / bc1, bc = 1 - beta^t. The scalars (decay = 1 - lr wd, 1 - b1, 1 - b2, ...) are formed once
// per tensor in double by the caller, as PyTorch forms them in Python, so f32 runs round like PyTorch's.
template <typename T>
AGF_HD void adamw(T& theta, T& m, T& v, T g, T decay, T b1, T one_minus_b1, T b2, T one_minus_b2, T step_size,
                  T bc2_sqrt, T eps) {
  theta = theta * decay;
  m = b1 * m + one_minus_b1 * g;
  v = b2 * v + one_minus_b2 * g * g;
  const T denom = sqrt_(v) / bc2_sqrt + eps;
  theta = theta - step_size * (m / denom);
}

// The per-tensor scalars of an AdamW step, in double.
struct AdamWScalars {
  double decay, b1, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps;
};
inline AdamWScalars adamw_scalars(double lr, double beta1, double beta2, double eps, double weight_decay,
                                  int64_t step) {
  const double bc1 = 1.0 - ::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - ::pow(beta2, static_cast<double>(step));
  return {1.0 - lr * weight_decay, beta1, 1.0 - beta1, beta2, 1.0 - beta2, lr / bc1, ::sqrt(bc2), eps};
}

// ---- SPSA directions (AdaGrad-Fusion). One query of a zeroth-order direction: the standard normals z(seed, i) and,
// with sparsity s > 0, the mask [uniform(spsa_mask_seed(seed), i) >= s]; `weight` scales it in a combination of
// queries. Both are pure functions of (seed, global element index), regenerated wherever they are needed.
struct SpsaQuery {
  uint64_t seed;
  float weight;
};
// The mask's stream: a fixed bijection of the step's seed, so the mask is independent of z and never stored.
AGF_HD uint64_t spsa_mask_seed(uint64_t seed) { return seed ^ 0x6A09E667F3BCC909ull; }

// theta += a * z as one rounding (fma), so CPU and GPU agree bit for bit given the same z.
AGF_HD float perturb(float theta, float a, float z) { return fmaf(a, z, theta); }
AGF_HD double perturb(double theta, double a, float z) { return fma(a, static_cast<double>(z), theta); }
AGF_HD double perturb(double theta, double a, double d) { return fma(a, d, theta); }  // a combination of queries

}  // namespace math
}  // namespace agf
