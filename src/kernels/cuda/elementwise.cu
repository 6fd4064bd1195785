// Element-wise, AdamW and SPSA perturbation kernels. The math is kernels/element_math.h and tensor/philox.h,
// the same inline functions the CPU backend calls.
#include "kernels/cuda/launchers.h"
#include "tensor/philox.h"

namespace agf::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void unary_kernel(T* out, const T* x, int64_t n, StridedDesc<2> d, UnaryOp op, T p) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[2];
    offsets(d, i, o);
    out[o[0]] = math::unary(op, x[o[1]], p);
  }
}

template <typename T>
__global__ void unary_backward_kernel(T* gx, const T* gy, const T* x, const T* y, int64_t n, StridedDesc<4> d,
                                      UnaryOp op, T p) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[4];
    offsets(d, i, o);
    gx[o[0]] = math::unary_grad(op, gy[o[1]], x[o[2]], y[o[3]], p);
  }
}

template <typename T>
__global__ void binary_kernel(T* out, const T* a, const T* b, int64_t n, StridedDesc<3> d, BinaryOp op) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[3];
    offsets(d, i, o);
    out[o[0]] = math::binary(op, a[o[1]], b[o[2]]);
  }
}

template <typename T>
__global__ void axpy_kernel(T* y, const T* x, int64_t n, StridedDesc<2> d, T alpha) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[2];
    offsets(d, i, o);
    y[o[0]] += alpha * x[o[1]];
  }
}

template <typename T>
__global__ void adamw_kernel(T* theta, T* m, T* v, const T* grad, int64_t n, StridedDesc<1> gd, T decay, T b1,
                             T omb1, T b2, T omb2, T step_size, T bc2_sqrt, T eps) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t o[1];
    offsets(gd, i, o);
    math::adamw(theta[i], m[i], v[i], grad[o[0]], decay, b1, omb1, b2, omb2, step_size, bc2_sqrt, eps);
  }
}

// One thread per aligned block of 4 counter indices: one Philox call gives the 4 normals of the block.
template <typename T>
__global__ void perturb_kernel(T* theta, int64_t n, uint64_t seed, uint64_t offset, T scale) {
  const uint64_t first_block = offset >> 2;
  const uint64_t last_block = (offset + static_cast<uint64_t>(n) - 1) >> 2;
  const int64_t nblocks = static_cast<int64_t>(last_block - first_block + 1);
  AGF_GRID_STRIDE_LOOP(b, nblocks) {
    const uint64_t blk = first_block + static_cast<uint64_t>(b);
    float z[4];
    philox::normals_from_block(philox::block(seed, blk), z);
    for (int k = 0; k < 4; ++k) {
      const uint64_t g = 4 * blk + k;  // global counter index
      if (g < offset || g >= offset + static_cast<uint64_t>(n)) continue;
      T& t = theta[g - offset];
      t = math::perturb(t, scale, z[k]);
    }
  }
}

}  // namespace

template <typename T>
cudaError_t launch_unary(T* out, const T* x, int64_t n, const StridedDesc<2>& d, UnaryOp op, T p) {
  unary_kernel<<<grid_for(n), kThreads>>>(out, x, n, d, op, p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_unary_backward(T* gx, const T* gy, const T* x, const T* y, int64_t n, const StridedDesc<4>& d,
                                  UnaryOp op, T p) {
  unary_backward_kernel<<<grid_for(n), kThreads>>>(gx, gy, x, y, n, d, op, p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_binary(T* out, const T* a, const T* b, int64_t n, const StridedDesc<3>& d, BinaryOp op) {
  binary_kernel<<<grid_for(n), kThreads>>>(out, a, b, n, d, op);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_axpy(T* y, const T* x, int64_t n, const StridedDesc<2>& d, T alpha) {
  axpy_kernel<<<grid_for(n), kThreads>>>(y, x, n, d, alpha);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_adamw(T* theta, T* m, T* v, const T* grad, int64_t n, const StridedDesc<1>& gd,
                         const math::AdamWScalars& s) {
  adamw_kernel<<<grid_for(n), kThreads>>>(theta, m, v, grad, n, gd, T(s.decay), T(s.b1), T(s.one_minus_b1), T(s.b2),
                                          T(s.one_minus_b2), T(s.step_size), T(s.bc2_sqrt), T(s.eps));
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_perturb(T* theta, int64_t n, uint64_t seed, uint64_t offset, T scale) {
  if (n == 0) return cudaSuccess;
  perturb_kernel<<<grid_for(n / 4 + 2), kThreads>>>(theta, n, seed, offset, scale);
  return cudaGetLastError();
}

#define AGF_INSTANTIATE(T)                                                                                       \
  template cudaError_t launch_unary<T>(T*, const T*, int64_t, const StridedDesc<2>&, UnaryOp, T);                \
  template cudaError_t launch_unary_backward<T>(T*, const T*, const T*, const T*, int64_t, const StridedDesc<4>&, \
                                                UnaryOp, T);                                                     \
  template cudaError_t launch_binary<T>(T*, const T*, const T*, int64_t, const StridedDesc<3>&, BinaryOp);       \
  template cudaError_t launch_axpy<T>(T*, const T*, int64_t, const StridedDesc<2>&, T);                          \
  template cudaError_t launch_adamw<T>(T*, T*, T*, const T*, int64_t, const StridedDesc<1>&,                        \
                                       const math::AdamWScalars&);                                               \
  template cudaError_t launch_perturb<T>(T*, int64_t, uint64_t, uint64_t, T);

AGF_INSTANTIATE(float)
AGF_INSTANTIATE(double)

}  // namespace agf::cuda
