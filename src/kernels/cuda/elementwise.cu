// Element-wise, AdamW and SPSA perturbation kernels. The math is kernels/element_math.h and tensor/philox.h,
// the same inline functions the CPU backend calls. Element-wise ops whose operands are all contiguous and 16-byte
// aligned (the common case: fresh tensors) take a vectorised path, one 16-byte load and store per operand and
// thread (4 floats or 2 doubles); any other layout walks its strided descriptor.
#include "kernels/cuda/launchers.h"
#include "tensor/cuda/stream.h"
#include "tensor/philox.h"

namespace agf::cuda {

namespace {

constexpr int kThreads = 256;

// 16 bytes of T, loaded and stored as one vector instruction.
template <typename T>
struct alignas(16) Vec16 {
  static constexpr int kLanes = 16 / sizeof(T);
  T v[kLanes];
};

// True when every operand of the descriptor is one contiguous run and every pointer 16-byte aligned.
template <int N>
bool vectorisable(const StridedDesc<N>& d, const void* const (&ptrs)[N]) {
  if (d.ndim != 1) return false;
  for (int k = 0; k < N; ++k)
    if (d.strides[k][0] != 1 || (reinterpret_cast<uintptr_t>(ptrs[k]) & 15) != 0) return false;
  return true;
}

// The vectorised kernels: thread-vectors over the first n / kLanes * kLanes elements, then the tail one by one.
template <typename T>
__global__ void unary_vec_kernel(T* out, const T* x, int64_t n, UnaryOp op, T p) {
  using V = Vec16<T>;
  const int64_t nv = n / V::kLanes;
  AGF_GRID_STRIDE_LOOP(i, nv) {
    V a = reinterpret_cast<const V*>(x)[i];
    for (int k = 0; k < V::kLanes; ++k) a.v[k] = math::unary(op, a.v[k], p);
    reinterpret_cast<V*>(out)[i] = a;
  }
  AGF_GRID_STRIDE_LOOP(j, n - nv * V::kLanes) {
    const int64_t i = nv * V::kLanes + j;
    out[i] = math::unary(op, x[i], p);
  }
}

template <typename T>
__global__ void binary_vec_kernel(T* out, const T* a, const T* b, int64_t n, BinaryOp op) {
  using V = Vec16<T>;
  const int64_t nv = n / V::kLanes;
  AGF_GRID_STRIDE_LOOP(i, nv) {
    V va = reinterpret_cast<const V*>(a)[i];
    const V vb = reinterpret_cast<const V*>(b)[i];
    for (int k = 0; k < V::kLanes; ++k) va.v[k] = math::binary(op, va.v[k], vb.v[k]);
    reinterpret_cast<V*>(out)[i] = va;
  }
  AGF_GRID_STRIDE_LOOP(j, n - nv * V::kLanes) {
    const int64_t i = nv * V::kLanes + j;
    out[i] = math::binary(op, a[i], b[i]);
  }
}

template <typename T>
__global__ void axpy_vec_kernel(T* y, const T* x, int64_t n, T alpha) {
  using V = Vec16<T>;
  const int64_t nv = n / V::kLanes;
  AGF_GRID_STRIDE_LOOP(i, nv) {
    V vy = reinterpret_cast<const V*>(y)[i];
    const V vx = reinterpret_cast<const V*>(x)[i];
    for (int k = 0; k < V::kLanes; ++k) vy.v[k] += alpha * vx.v[k];
    reinterpret_cast<V*>(y)[i] = vy;
  }
  AGF_GRID_STRIDE_LOOP(j, n - nv * V::kLanes) {
    const int64_t i = nv * V::kLanes + j;
    y[i] += alpha * x[i];
  }
}

template <typename T>
unsigned vec_grid(int64_t n) {
  return grid_for(n / Vec16<T>::kLanes + 1, kThreads);
}

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
  if (vectorisable<2>(d, {out, x}))
    unary_vec_kernel<<<vec_grid<T>(n), kThreads, 0, current_stream()>>>(out, x, n, op, p);
  else
    unary_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(out, x, n, d, op, p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_unary_backward(T* gx, const T* gy, const T* x, const T* y, int64_t n, const StridedDesc<4>& d,
                                  UnaryOp op, T p) {
  unary_backward_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(gx, gy, x, y, n, d, op, p);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_binary(T* out, const T* a, const T* b, int64_t n, const StridedDesc<3>& d, BinaryOp op) {
  if (vectorisable<3>(d, {out, a, b}))
    binary_vec_kernel<<<vec_grid<T>(n), kThreads, 0, current_stream()>>>(out, a, b, n, op);
  else
    binary_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(out, a, b, n, d, op);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_axpy(T* y, const T* x, int64_t n, const StridedDesc<2>& d, T alpha) {
  if (vectorisable<2>(d, {y, x}))
    axpy_vec_kernel<<<vec_grid<T>(n), kThreads, 0, current_stream()>>>(y, x, n, alpha);
  else
    axpy_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(y, x, n, d, alpha);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_adamw(T* theta, T* m, T* v, const T* grad, int64_t n, const StridedDesc<1>& gd,
                         const math::AdamWScalars& s) {
  adamw_kernel<<<grid_for(n), kThreads, 0, current_stream()>>>(theta, m, v, grad, n, gd, T(s.decay), T(s.b1),
                                                               T(s.one_minus_b1), T(s.b2), T(s.one_minus_b2),
                                                               T(s.step_size), T(s.bc2_sqrt), T(s.eps));
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_perturb(T* theta, int64_t n, uint64_t seed, uint64_t offset, T scale) {
  if (n == 0) return cudaSuccess;
  perturb_kernel<<<grid_for(n / 4 + 2), kThreads, 0, current_stream()>>>(theta, n, seed, offset, scale);
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
