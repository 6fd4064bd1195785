#pragma once
// Every op of the engine, declared once. These are raw kernels: no autograd (src/autograd wraps them). Each
// checks its arguments (shapes, dtypes, devices; the message names what is wrong), allocates its outputs under the
// caller's MemScope, and dispatches to kernels/cpu or kernels/cuda by the device of its inputs.
//
// Floating ops take f32 or f64 (f64 is what gradcheck runs in); all inputs of an op share one dtype and device.
// `_out` variants write into a caller-provided, correctly shaped output (any strides for element-wise ops,
// contiguous otherwise) and allocate nothing but workspaces.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/element_math.h"
#include "tensor/tensor.h"

namespace agf::ops {

// ---------------------------------------------------------------- element-wise
Tensor unary(UnaryOp op, const Tensor& x, double param = 0.0);
void unary_out(const Tensor& out, UnaryOp op, const Tensor& x, double param = 0.0);  // out may alias x
// grad_x = grad_y * d op(x)/dx; y = op(x) from the forward (used by exp, sqrt, sigmoid, tanh, reciprocal).
Tensor unary_backward(UnaryOp op, const Tensor& grad_y, const Tensor& x, const Tensor& y, double param = 0.0);
// Broadcasting binary op; out has the broadcast shape and may alias a or b.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
void binary_out(const Tensor& out, BinaryOp op, const Tensor& a, const Tensor& b);
// y += alpha * x (same shape), in place: gradient accumulation and SGD.
void axpy_(const Tensor& y, double alpha, const Tensor& x);
// 1 where x > threshold, else 0, in x's dtype (e.g. the gate mask sigmoid(aux) > positive_threshold).
Tensor greater_than(const Tensor& x, double threshold);

inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }
inline Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::abs, x); }
inline Tensor sign(const Tensor& x) { return unary(UnaryOp::sign, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
inline Tensor scale(const Tensor& x, double s) { return unary(UnaryOp::mul_scalar, x, s); }
inline Tensor add_scalar(const Tensor& x, double s) { return unary(UnaryOp::add_scalar, x, s); }

// ---------------------------------------------------------------- reductions
enum class ReduceOp : uint8_t { sum, mean, max, min, sumsq };
// Reduces over `dims` (empty = all dims, giving a 0-dim tensor). Floating sums accumulate in double on the CPU.
Tensor reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
inline Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  return reduce(ReduceOp::sum, x, dims, keepdim);
}
inline Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false) {
  return reduce(ReduceOp::mean, x, dims, keepdim);
}
inline Tensor squared_norm(const Tensor& x) { return reduce(ReduceOp::sumsq, x); }
// Sums a broadcast result back to `shape` (the backward of broadcasting); x.shape must broadcast from shape.
Tensor sum_to(const Tensor& x, const Shape& shape);

struct MaxResult {
  Tensor values;
  Tensor indices;  // i64: position along the reduced dim (the first maximum on ties)
};
MaxResult max_dim(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
// Scatters grad_values to the argmax positions of an input of `input_shape`; zeros elsewhere.
Tensor max_dim_backward(const Tensor& grad_values, const Tensor& indices, const Shape& input_shape, int64_t dim,
                        bool keepdim = false);

// ---------------------------------------------------------------- linear algebra
// a (..., M, K) or (..., K, M) when trans_a; b (..., K, N) or (..., N, K) when trans_b; batch dims broadcast.
// Result (..., M, N). Both operands need at least 2 dims.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// out = alpha * op(a) op(b) + beta * out, out contiguous with the result's shape.
void matmul_out(const Tensor& out, const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false,
                double alpha = 1.0, double beta = 0.0);

// ---------------------------------------------------------------- convolution and pooling over time
struct Conv1dArgs {
  int64_t stride = 1;
  int64_t padding = 0;  // zeros on both ends
};
inline int64_t conv1d_out_len(int64_t t_in, int64_t k, Conv1dArgs a) { return (t_in + 2 * a.padding - k) / a.stride + 1; }
// x (B, Cin, T), w (Cout, Cin, K), bias (Cout) or undefined -> (B, Cout, T_out).
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& bias, Conv1dArgs args);
void conv1d_out(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Conv1dArgs args);
// out = conv(x, w) + bias and out2 = conv(x, w2) together: w2 has w's input channels and kernel size (a LoRA
// down-projection A beside its frozen weight), and both GEMMs read one im2col of x. Each output is bit for bit what
// conv1d_out gives alone; the columns are made once instead of twice.
void conv1d_pair_out(const Tensor& out, const Tensor& out2, const Tensor& x, const Tensor& w, const Tensor& bias,
                     const Tensor& w2, Conv1dArgs args);
Tensor conv1d_backward_input(const Tensor& grad_y, const Tensor& w, int64_t t_in, Conv1dArgs args);
Tensor conv1d_backward_weight(const Tensor& grad_y, const Tensor& x, int64_t k, Conv1dArgs args);
Tensor conv1d_backward_bias(const Tensor& grad_y);  // sum over batch and time -> (Cout)

// Pools over the last dim of (B, C, T) (or any (..., T)), no padding: T_out = (T - k) / s + 1.
Tensor avg_pool1d(const Tensor& x, int64_t k, int64_t s);
Tensor avg_pool1d_backward(const Tensor& grad_y, int64_t t_in, int64_t k, int64_t s);
MaxResult max_pool1d(const Tensor& x, int64_t k, int64_t s);  // indices: position in [0, T) of each window's max
Tensor max_pool1d_backward(const Tensor& grad_y, const Tensor& indices, int64_t t_in);

// ---------------------------------------------------------------- normalisation
struct BatchNormOut {
  Tensor y;
  Tensor save_mean;    // (C): the mean used (batch mean in training, running mean in eval)
  Tensor save_invstd;  // (C): 1 / sqrt(var + eps) with the variance used
};
// x (B, C) or (B, C, T), statistics per channel over batch and time. Training: batch statistics (biased
// variance); running statistics, when given, are updated in place with momentum m and the unbiased variance:
// r_mean = (1 - m) r_mean + m mean, r_var = (1 - m) r_var + m var * n / (n - 1). Eval: running statistics.
// gamma/beta may be undefined (no affine).
BatchNormOut batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps);
// x = leaky_relu(batch_norm(x), slope) in place and in one pass, running statistics as batch_norm: the forward of
// BatchNorm + leaky ReLU when no graph is recorded (nothing needs x or the normalised values afterwards). Bit for
// bit what batch_norm followed by unary leaky_relu gives.
void batch_norm_leaky_(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps, double slope);
struct NormGrads {
  Tensor grad_x, grad_gamma, grad_beta;  // grad_gamma/grad_beta undefined when gamma was
};
NormGrads batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training);

struct LayerNormOut {
  Tensor y;
  Tensor mean;  // x.shape[:-1]
  Tensor rstd;  // x.shape[:-1]
};
// Normalises over the last dim (biased variance).
LayerNormOut layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
NormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                              const Tensor& rstd);

// ---------------------------------------------------------------- attention pieces
// Softmax over the last dim. causal: x is (..., Tq, Tk) and entries with key j > query i are replaced by -1e10
// before the softmax (the reference's scores*mask - 1e10*(1 - mask)), so they come out exactly 0.
Tensor softmax(const Tensor& x, bool causal = false);
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y);
// Concatenates along `dim`; all other dims must match.
Tensor cat(const std::vector<Tensor>& ts, int64_t dim);

// ---------------------------------------------------------------- losses
enum class Reduction : uint8_t { mean, sum, none };
// Binary cross-entropy on logits with soft targets in [0, 1]; pos_weight (K) broadcasts over the last dim, or is
// undefined. Mean/sum give a 0-dim tensor, none the element-wise losses.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& pos_weight = {},
                       Reduction reduction = Reduction::mean);
// grad: 0-dim for mean/sum, logits' shape for none. Returns d loss / d logits.
Tensor bce_with_logits_backward(const Tensor& grad, const Tensor& logits, const Tensor& targets,
                                const Tensor& pos_weight = {}, Reduction reduction = Reduction::mean);

// ---------------------------------------------------------------- optimiser and SPSA
struct AdamWArgs {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  int64_t step = 1;  // 1-based step count for the bias corrections
};
// In place on contiguous param, m, v of one shape; grad of the same shape (any strides).
void adamw_step_(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, const AdamWArgs& args);
// param[i] += scale * philox::normal(seed, offset + i), in place, one fma per element; param contiguous.
void perturb_(const Tensor& param, uint64_t seed, uint64_t offset, double scale);

// ---------------------------------------------------------------- SPSA directions (AdaGrad-Fusion)
// A zeroth-order direction over a set of parameter tensors, each owning the counter range [offset, offset + numel):
//   d_i = sum_j w_j * z_j(offset + i) * m_j(offset + i),  z_j = philox::normal(seed_j, .),
//   m_j = 1, or with sparsity s > 0, [philox::uniform(spsa_mask_seed(seed_j), .) >= s].
// Nothing of it is ever stored: every op below regenerates it element by element.
struct SpsaDirection {
  std::vector<math::SpsaQuery> queries;  // one query of weight 1: the plain z of one step
  double sparsity = 0.0;                 // in [0, 1)
};
// param_t[i] += scale * d_i for every tensor t of the set, in one call (the CPU loop is the reference of the single
// fused CUDA launch), `repeats` times over per element, each a rounding of its own (one fma). Tensors contiguous, f32
// or f64. With one query of weight 1, no sparsity and one repeat this is perturb_.
// Why repeats: the ZO passes go theta -> theta + eps z -> theta - eps z -> theta. Stepping down by -eps z twice,
// rather than by -2 eps z once, makes the first of the two roundings land back on theta exactly (it undoes the +eps
// rounding), so L- is evaluated at round(theta - eps z) and the restore lands on theta bit for bit; only an element
// whose theta +- eps z crosses a power of two (or a rounding tie) keeps a rounding of drift.
void spsa_perturb_(const std::vector<Tensor>& params, const std::vector<uint64_t>& offsets, const SpsaDirection& d,
                   double scale, int repeats = 1);
// Per tensor (numel, offset): sum_i d_i^2, in double, in an order independent of the thread count, computed on
// `device` (the parameters' device: on a GPU the regeneration runs there, one launch for the whole set).
std::vector<double> spsa_sqnorms(const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets,
                                 const SpsaDirection& d, Device device = Device::cpu());

// The gradient of one parameter tensor as the fused update forms it, element by element, never materialised:
//   g_i = fo_scale * g_fo[i] + zo_scale * d_i   (g_fo undefined: 0; zo_scale 0 or no query: no d at all)
// and 0 where |g_i| < keep_threshold (the grad_topk mask; 0 keeps every element).
struct FusedGradient {
  Tensor g_fo;                 // the first-order gradient, param's shape (any strides), or undefined
  double fo_scale = 1.0;
  double zo_scale = 0.0;
  SpsaDirection direction;
  uint64_t offset = 0;         // the tensor's counter offset in the direction
  double keep_threshold = 0.0;
};
// One AdamW step of param, m, v (contiguous, one shape) with the fused gradient: one read and one write of each, no
// buffer of param's size. With fo_scale 1 and zo_scale 0 it is adamw_step_ bit for bit.
void fused_adamw_(const Tensor& param, const Tensor& m, const Tensor& v, const FusedGradient& g, const AdamWArgs& args);
// The k-th largest |g_i| (1 <= k <= numel) of the fused gradient of a tensor of `numel` elements, found by selection
// (four radix passes of 8 bits over the float32 bit patterns of |g|, each regenerating g), not by sorting a copy.
// For f64 gradients the selection runs on |g| rounded to float32.
double fused_gradient_kth_abs(int64_t numel, const FusedGradient& g, int64_t k, Device device = Device::cpu());

// ---------------------------------------------------------------- runtime
// One line naming what the CPU kernels run on: OpenMP threads, the BLAS library with its configuration and the core
// it chose (a BLAS that falls back to a generic core on an unknown CPU is several times slower: never silently).
std::string cpu_backend_summary();
// The same for a CUDA device: its name, the CUDA runtime and driver, cuBLAS and cuDNN, and the float32 math policy.
std::string device_summary(Device device);
// OpenBLAS cores by vector width: 3 AVX-512 (SkylakeX, Cooperlake, SapphireRapids), 2 AVX2 (Haswell, Zen),
// 1 AVX (Sandybridge, ...), 0 older or unknown. Names compare without case.
int blas_core_width(const std::string& core);
bool same_blas_core(const std::string& a, const std::string& b);
// The widest OpenBLAS core this CPU's features allow ("" for none above SSE), whatever its model number.
std::string widest_blas_core();

}  // namespace agf::ops
