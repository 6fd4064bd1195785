// Batch norm, layer norm, softmax and BCE-with-logits kernels. The formulas are kernels/row_math.h and
// kernels/element_math.h, the inline functions the CPU backend calls; statistics and sums are doubles, as there.
// Per-channel and per-row work takes one block each (block-stride loops), and every sum is a fixed tree (a thread's
// own elements in order, a warp-shuffle tree, then the warps' partials the same way), so results are bit-identical
// from run to run and independent of the grid size; the block size is a function of the shape alone.
#include <cmath>

#include "kernels/cuda/norm_launch.h"
#include "kernels/element_math.h"
#include "kernels/row_math.h"
#include "tensor/cuda/stream.h"

namespace agf::cuda {

namespace {

constexpr int kWarp = 32;
constexpr int kRowThreads = 256;   // the most threads per channel or row
constexpr int kSumThreads = 1024;  // the single block of a BCE sum
constexpr int kThreads = 256;      // element-wise kernels

// Threads for a block that reduces `len` values: the next power of two from one warp up to `most`, so short rows do
// not leave most of a block idle.
int threads_for(int64_t len, int most = kRowThreads) {
  int t = kWarp;
  while (t < most && t < len) t *= 2;
  return t;
}

struct SumOp {
  static __device__ double identity() { return 0.0; }
  __device__ double operator()(double a, double b) const { return a + b; }
};
// fmax, as the CPU's row maximum: a NaN is skipped (it still poisons the sum of exponentials later).
struct MaxOp {
  static __device__ double identity() { return -INFINITY; }
  __device__ double operator()(double a, double b) const { return ::fmax(a, b); }
};

// Shared memory of block_reduce for N values: a slot per warp and one for the result, per value.
constexpr int kSlots = kWarp + 1;

// Combines each v[k] over the block and gives every thread the result. blockDim.x is a multiple of 32 (at most
// 1024) and every thread of the block calls it. The order is fixed: a shuffle tree within each warp, then warp 0
// combines the warps' results the same way.
template <int N, typename Op>
__device__ void block_reduce(double (&v)[N], double* smem, Op op) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
  for (int o = kWarp / 2; o > 0; o /= 2)
    for (int k = 0; k < N; ++k) v[k] = op(v[k], __shfl_down_sync(0xffffffffu, v[k], o));
  __syncthreads();  // every thread has read the previous call's result
  if (lane == 0)
    for (int k = 0; k < N; ++k) smem[k * kSlots + warp] = v[k];
  __syncthreads();
  if (warp == 0) {
    for (int k = 0; k < N; ++k) v[k] = lane < nwarps ? smem[k * kSlots + lane] : Op::identity();
    for (int o = kWarp / 2; o > 0; o /= 2)
      for (int k = 0; k < N; ++k) v[k] = op(v[k], __shfl_down_sync(0xffffffffu, v[k], o));
    if (lane == 0)
      for (int k = 0; k < N; ++k) smem[k * kSlots + kWarp] = v[k];
  }
  __syncthreads();
  for (int k = 0; k < N; ++k) v[k] = smem[k * kSlots + kWarp];
}

// Calls f(b, t) for this thread's positions threadIdx.x + j blockDim.x of a channel's (B, T) plane in row-major
// order, stepping (b, t) without a division per element.
template <typename F>
__device__ __forceinline__ void for_plane(int64_t B, int64_t T, F&& f) {
  if (T <= 0) return;
  const int64_t db = blockDim.x / T, dt = blockDim.x % T;
  int64_t b = threadIdx.x / T, t = threadIdx.x % T;
  while (b < B) {
    f(b, t);
    b += db;
    t += dt;
    if (t >= T) {
      t -= T;
      ++b;
    }
  }
}

// ------------------------------------------------------------------------------------------------ batch norm

// One block per channel. Training: two passes over the channel for the mean and the centred sum of squares (which
// does not cancel the way E[x^2] - E[x]^2 does), then the normalising pass. y may be x itself: each element is read
// and then written by one thread, and the statistics passes end at a block barrier before any write.
template <typename T>
__global__ void batch_norm_kernel(BatchNormArgs<T> a) {
  __shared__ double smem[kSlots];
  const int64_t n = a.batch * a.time;
  AGF_BLOCK_STRIDE_LOOP(c, a.channels) {
    const T* xc = a.x + c * a.xs.c;
    T* yc = a.y + c * a.ys.c;
    double mean, invstd;
    if (a.training) {
      double s[1] = {0.0};
      for_plane(a.batch, a.time,
                [&](int64_t b, int64_t t) { s[0] += static_cast<double>(xc[b * a.xs.b + t * a.xs.t]); });
      block_reduce(s, smem, SumOp{});
      mean = s[0] / static_cast<double>(n);
      double ss[1] = {0.0};
      for_plane(a.batch, a.time, [&](int64_t b, int64_t t) {
        const double d = static_cast<double>(xc[b * a.xs.b + t * a.xs.t]) - mean;
        ss[0] += d * d;
      });
      block_reduce(ss, smem, SumOp{});
      const double var = ss[0] / static_cast<double>(n);
      invstd = math::invstd(var, a.eps);
      if (a.running_mean != nullptr && threadIdx.x == 0) {
        // The running variance takes the unbiased estimate, as PyTorch's BatchNorm1d does.
        const double unbiased = math::unbiased_var(var, n);
        T& rm = a.running_mean[c * a.s_rm];
        T& rv = a.running_var[c * a.s_rv];
        rm = static_cast<T>(math::running_update(static_cast<double>(rm), mean, a.momentum));
        rv = static_cast<T>(math::running_update(static_cast<double>(rv), unbiased, a.momentum));
      }
    } else {
      mean = static_cast<double>(a.running_mean[c * a.s_rm]);
      invstd = math::invstd(static_cast<double>(a.running_var[c * a.s_rv]), a.eps);
    }
    if (threadIdx.x == 0) {
      a.save_mean[c * a.s_sm] = static_cast<T>(mean);
      a.save_invstd[c * a.s_si] = static_cast<T>(invstd);
    }
    const double scale = math::bn_scale(a.gamma != nullptr ? static_cast<double>(a.gamma[c * a.s_gamma]) : 1.0, invstd);
    const double shift = a.beta != nullptr ? static_cast<double>(a.beta[c * a.s_beta]) : 0.0;
    for_plane(a.batch, a.time, [&](int64_t b, int64_t t) {
      const T v = math::bn_apply(xc[b * a.xs.b + t * a.xs.t], mean, scale, shift);
      yc[b * a.ys.b + t * a.ys.t] = a.leaky ? math::leaky(v, a.slope) : v;
    });
  }
}

// One block per channel: the two sums of the channel (needed in training, or for grad_gamma / grad_beta), then
// grad_x. In eval mode the statistics are constants, so the sums' means drop out.
template <typename T>
__global__ void batch_norm_backward_kernel(BatchNormBackwardArgs<T> a) {
  __shared__ double smem[2 * kSlots];
  const int64_t n = a.batch * a.time;
  AGF_BLOCK_STRIDE_LOOP(c, a.channels) {
    const T* xc = a.x + c * a.xs.c;
    const T* gyc = a.grad_y + c * a.gys.c;
    T* gxc = a.grad_x + c * a.gxs.c;
    const double mean = static_cast<double>(a.save_mean[c * a.s_sm]);
    const double invstd = static_cast<double>(a.save_invstd[c * a.s_si]);
    double s[2] = {0.0, 0.0};  // sum gy, sum gy xhat
    if (a.training || a.gamma != nullptr) {
      for_plane(a.batch, a.time, [&](int64_t b, int64_t t) {
        const double gy = static_cast<double>(gyc[b * a.gys.b + t * a.gys.t]);
        s[0] += gy;
        s[1] += math::grad_xhat_term(gy, static_cast<double>(xc[b * a.xs.b + t * a.xs.t]), mean, invstd);
      });
      block_reduce(s, smem, SumOp{});
    }
    if (a.gamma != nullptr && threadIdx.x == 0) {
      a.grad_gamma[c * a.s_gg] = static_cast<T>(s[1]);
      a.grad_beta[c * a.s_gb] = static_cast<T>(s[0]);
    }
    const double scale = math::bn_scale(a.gamma != nullptr ? static_cast<double>(a.gamma[c * a.s_gamma]) : 1.0, invstd);
    const double mean_gy = a.training ? s[0] / static_cast<double>(n) : 0.0;
    const double mean_gy_xhat = a.training ? s[1] / static_cast<double>(n) : 0.0;
    for_plane(a.batch, a.time, [&](int64_t b, int64_t t) {
      const double gy = static_cast<double>(gyc[b * a.gys.b + t * a.gys.t]);
      const double xhat = math::xhat(static_cast<double>(xc[b * a.xs.b + t * a.xs.t]), mean, invstd);
      gxc[b * a.gxs.b + t * a.gxs.t] = static_cast<T>(math::norm_grad_x(scale, gy, mean_gy, xhat, mean_gy_xhat));
    });
  }
}

// ------------------------------------------------------------------------------------------------ layer norm

// One block per row: mean, centred sum of squares, then the normalised row.
template <typename T>
__global__ void layer_norm_kernel(LayerNormArgs<T> a) {
  __shared__ double smem[kSlots];
  AGF_BLOCK_STRIDE_LOOP(r, a.rows) {
    int64_t o[4];
    offsets(a.rd, r, o);
    const T* xr = a.x + o[0];
    T* yr = a.y + o[1];
    double s[1] = {0.0};
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) s[0] += static_cast<double>(xr[d * a.sx]);
    block_reduce(s, smem, SumOp{});
    const double mean = s[0] / static_cast<double>(a.D);
    double ss[1] = {0.0};
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
      const double c = static_cast<double>(xr[d * a.sx]) - mean;
      ss[0] += c * c;
    }
    block_reduce(ss, smem, SumOp{});
    const double rstd = math::invstd(ss[0] / static_cast<double>(a.D), a.eps);
    if (threadIdx.x == 0) {
      a.mean[o[2]] = static_cast<T>(mean);
      a.rstd[o[3]] = static_cast<T>(rstd);
    }
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x)
      yr[d * a.sy] = math::layer_norm_apply(xr[d * a.sx], mean, rstd,
                                            a.gamma != nullptr ? a.gamma + d * a.s_gamma : nullptr,
                                            a.beta != nullptr ? a.beta + d * a.s_beta : nullptr);
  }
}

// One block per row: with gh = grad_y * gamma, grad_x = rstd (gh - mean(gh) - xhat mean(gh xhat)).
template <typename T>
__global__ void layer_norm_backward_kernel(LayerNormBackwardArgs<T> a) {
  __shared__ double smem[2 * kSlots];
  AGF_BLOCK_STRIDE_LOOP(r, a.rows) {
    int64_t o[5];
    offsets(a.rd, r, o);
    const T* xr = a.x + o[0];
    const T* gyr = a.grad_y + o[1];
    T* gxr = a.grad_x + o[2];
    const double mu = static_cast<double>(a.mean[o[3]]), rs = static_cast<double>(a.rstd[o[4]]);
    double s[2] = {0.0, 0.0};  // sum gh, sum gh xhat
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
      const double gh = static_cast<double>(gyr[d * a.sgy]) *
                        (a.gamma != nullptr ? static_cast<double>(a.gamma[d * a.s_gamma]) : 1.0);
      s[0] += gh;
      s[1] += math::grad_xhat_term(gh, static_cast<double>(xr[d * a.sx]), mu, rs);
    }
    block_reduce(s, smem, SumOp{});
    const double mean_gh = s[0] / static_cast<double>(a.D), mean_gh_xhat = s[1] / static_cast<double>(a.D);
    for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) {
      const double gh = static_cast<double>(gyr[d * a.sgy]) *
                        (a.gamma != nullptr ? static_cast<double>(a.gamma[d * a.s_gamma]) : 1.0);
      const double xhat = math::xhat(static_cast<double>(xr[d * a.sx]), mu, rs);
      gxr[d * a.sgx] = static_cast<T>(math::norm_grad_x(rs, gh, mean_gh, xhat, mean_gh_xhat));
    }
  }
}

// grad_gamma / grad_beta: column sums over the rows, without a workspace. A block takes kColumns adjacent columns
// (a warp's lanes, so row reads coalesce) and kRowLanes interleaved subsets of the rows; each thread sums its rows in
// order and the kRowLanes partials of a column are then added in lane order: a fixed order for any grid.
constexpr int kColumns = kWarp, kRowLanes = 8;

template <typename T>
__global__ void layer_norm_param_grad_kernel(LayerNormBackwardArgs<T> a) {
  __shared__ double part[2][kRowLanes][kColumns];
  const int64_t groups = (a.D + kColumns - 1) / kColumns;
  AGF_BLOCK_STRIDE_LOOP(grp, groups) {
    const int64_t d = grp * kColumns + threadIdx.x;
    double sg = 0.0, sb = 0.0;
    if (d < a.D) {
      for (int64_t r = threadIdx.y; r < a.rows; r += kRowLanes) {
        int64_t o[5];
        offsets(a.rd, r, o);
        const double gy = static_cast<double>(a.grad_y[o[1] + d * a.sgy]);
        const double mu = static_cast<double>(a.mean[o[3]]), rs = static_cast<double>(a.rstd[o[4]]);
        sg += math::grad_xhat_term(gy, static_cast<double>(a.x[o[0] + d * a.sx]), mu, rs);
        sb += gy;
      }
    }
    part[0][threadIdx.y][threadIdx.x] = sg;
    part[1][threadIdx.y][threadIdx.x] = sb;
    __syncthreads();
    if (threadIdx.y == 0 && d < a.D) {
      double tg = 0.0, tb = 0.0;
      for (int k = 0; k < kRowLanes; ++k) {
        tg += part[0][k][threadIdx.x];
        tb += part[1][k][threadIdx.x];
      }
      a.grad_gamma[d * a.s_gg] = static_cast<T>(tg);
      a.grad_beta[d * a.s_gb] = static_cast<T>(tb);
    }
    __syncthreads();  // part is read before the next group overwrites it
  }
}

// ------------------------------------------------------------------------------------------------ softmax

// One block per row: the maximum (masked score included), exp(x - max) stored once in y and summed in double, then
// y scaled by 1 / sum. The scaling pass reads back only what the same thread stored, so it needs no barrier.
template <typename T>
__global__ void softmax_kernel(SoftmaxArgs<T> a) {
  __shared__ double smem[kSlots];
  AGF_BLOCK_STRIDE_LOOP(r, a.rows) {
    int64_t o[2];
    offsets(a.rd, r, o);
    const T* xr = a.x + o[0];
    T* yr = a.y + o[1];
    const int64_t n_live = math::softmax_live_keys(r, a.n_queries, a.D, a.causal);
    double mx[1] = {-INFINITY};
    for (int64_t j = threadIdx.x; j < n_live; j += blockDim.x) mx[0] = ::fmax(mx[0], static_cast<double>(xr[j * a.sx]));
    block_reduce(mx, smem, MaxOp{});
    const double row_max = math::softmax_row_max(mx[0], n_live, a.D);
    double s[1] = {0.0};
    for (int64_t j = threadIdx.x; j < n_live; j += blockDim.x) {
      const double e = math::softmax_exp(static_cast<double>(xr[j * a.sx]), row_max);
      yr[j * a.sy] = static_cast<T>(e);
      s[0] += e;
    }
    block_reduce(s, smem, SumOp{});
    const double masked_e = math::softmax_masked_exp(row_max);
    const double inv = 1.0 / math::softmax_total(s[0], masked_e, a.D - n_live);
    for (int64_t j = threadIdx.x; j < n_live; j += blockDim.x) yr[j * a.sy] = math::softmax_scale(yr[j * a.sy], inv);
    for (int64_t j = n_live + threadIdx.x; j < a.D; j += blockDim.x) yr[j * a.sy] = static_cast<T>(masked_e * inv);
  }
}

template <typename T>
__global__ void softmax_backward_kernel(SoftmaxBackwardArgs<T> a) {
  __shared__ double smem[kSlots];
  AGF_BLOCK_STRIDE_LOOP(r, a.rows) {
    int64_t o[3];
    offsets(a.rd, r, o);
    T* gxr = a.grad_x + o[0];
    const T* gyr = a.grad_y + o[1];
    const T* yr = a.y + o[2];
    double dot[1] = {0.0};
    for (int64_t j = threadIdx.x; j < a.D; j += blockDim.x)
      dot[0] += static_cast<double>(gyr[j * a.sgy]) * static_cast<double>(yr[j * a.sy]);
    block_reduce(dot, smem, SumOp{});
    for (int64_t j = threadIdx.x; j < a.D; j += blockDim.x)
      gxr[j * a.sgx] = math::softmax_grad(yr[j * a.sy], gyr[j * a.sgy], dot[0]);
  }
}

// ------------------------------------------------------------------------------------------------ BCE with logits

template <typename T>
__device__ __forceinline__ T pos_weight_at(const T* pw, int64_t off) {
  return pw != nullptr ? pw[off] : T(1);
}

template <typename T>
__global__ void bce_kernel(T* out, const T* x, const T* y, const T* pw, int64_t n, StridedDesc<4> d) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[4];
    offsets(d, i, o);
    out[o[0]] = math::bce_with_logits(x[o[1]], y[o[2]], pos_weight_at(pw, o[3]));
  }
}

// The mean or sum in one block (a loss is small): each element's loss in T, summed in double like the CPU's.
template <typename T>
__global__ void bce_sum_kernel(T* out, const T* x, const T* y, const T* pw, int64_t n, StridedDesc<3> d, bool mean) {
  __shared__ double smem[kSlots];
  AGF_BLOCK_STRIDE_LOOP(blk, 1) {
    double s[1] = {0.0};
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      int64_t o[3];
      offsets(d, i, o);
      s[0] += static_cast<double>(math::bce_with_logits(x[o[0]], y[o[1]], pos_weight_at(pw, o[2])));
    }
    block_reduce(s, smem, SumOp{});
    if (threadIdx.x == 0) {
      double total = s[0];
      if (mean) total /= static_cast<double>(n);
      *out = static_cast<T>(total);
    }
  }
}

template <typename T>
__global__ void bce_backward_kernel(T* gx, const T* g, const T* x, const T* y, const T* pw, int64_t n,
                                    StridedDesc<5> d, T scale) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[5];
    offsets(d, i, o);
    gx[o[0]] = g[o[1]] * scale * math::bce_with_logits_grad(x[o[2]], y[o[3]], pos_weight_at(pw, o[4]));
  }
}

}  // namespace

template <typename T>
cudaError_t launch_batch_norm(const BatchNormArgs<T>& a) {
  batch_norm_kernel<<<grid_for_rows(a.channels), threads_for(a.batch * a.time), 0, current_stream()>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_batch_norm_backward(const BatchNormBackwardArgs<T>& a) {
  batch_norm_backward_kernel<<<grid_for_rows(a.channels), threads_for(a.batch * a.time), 0, current_stream()>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_layer_norm(const LayerNormArgs<T>& a) {
  layer_norm_kernel<<<grid_for_rows(a.rows), threads_for(a.D), 0, current_stream()>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_layer_norm_backward(const LayerNormBackwardArgs<T>& a) {
  layer_norm_backward_kernel<<<grid_for_rows(a.rows), threads_for(a.D), 0, current_stream()>>>(a);
  if (a.gamma == nullptr) return cudaGetLastError();
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  const int64_t groups = (a.D + kColumns - 1) / kColumns;
  layer_norm_param_grad_kernel<<<grid_for_rows(groups), dim3(kColumns, kRowLanes), 0, current_stream()>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_softmax(const SoftmaxArgs<T>& a) {
  softmax_kernel<<<grid_for_rows(a.rows), threads_for(a.D), 0, current_stream()>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_softmax_backward(const SoftmaxBackwardArgs<T>& a) {
  softmax_backward_kernel<<<grid_for_rows(a.rows), threads_for(a.D), 0, current_stream()>>>(a);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_bce_with_logits(T* out, const T* logits, const T* targets, const T* pos_weight, int64_t n,
                                   const StridedDesc<4>& d) {
  bce_kernel<<<grid_for(n, kThreads), kThreads, 0, current_stream()>>>(out, logits, targets, pos_weight, n, d);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_bce_with_logits_sum(T* out, const T* logits, const T* targets, const T* pos_weight, int64_t n,
                                       const StridedDesc<3>& d, bool mean) {
  bce_sum_kernel<<<grid_for_rows(1), threads_for(n, kSumThreads), 0, current_stream()>>>(out, logits, targets,
                                                                                          pos_weight, n, d, mean);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_bce_with_logits_backward(T* grad_logits, const T* grad, const T* logits, const T* targets,
                                            const T* pos_weight, int64_t n, const StridedDesc<5>& d, T scale) {
  bce_backward_kernel<<<grid_for(n, kThreads), kThreads, 0, current_stream()>>>(grad_logits, grad, logits, targets,
                                                                                pos_weight, n, d, scale);
  return cudaGetLastError();
}

#define AGF_INSTANTIATE(T)                                                                                         \
  template cudaError_t launch_batch_norm<T>(const BatchNormArgs<T>&);                                              \
  template cudaError_t launch_batch_norm_backward<T>(const BatchNormBackwardArgs<T>&);                             \
  template cudaError_t launch_layer_norm<T>(const LayerNormArgs<T>&);                                              \
  template cudaError_t launch_layer_norm_backward<T>(const LayerNormBackwardArgs<T>&);                             \
  template cudaError_t launch_softmax<T>(const SoftmaxArgs<T>&);                                                   \
  template cudaError_t launch_softmax_backward<T>(const SoftmaxBackwardArgs<T>&);                                  \
  template cudaError_t launch_bce_with_logits<T>(T*, const T*, const T*, const T*, int64_t, const StridedDesc<4>&); \
  template cudaError_t launch_bce_with_logits_sum<T>(T*, const T*, const T*, const T*, int64_t,                    \
                                                     const StridedDesc<3>&, bool);                                 \
  template cudaError_t launch_bce_with_logits_backward<T>(T*, const T*, const T*, const T*, const T*, int64_t,     \
                                                          const StridedDesc<5>&, T);

AGF_INSTANTIATE(float)
AGF_INSTANTIATE(double)

}  // namespace agf::cuda
