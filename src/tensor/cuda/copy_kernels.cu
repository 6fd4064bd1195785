#include "tensor/cuda/copy_kernels.h"
#include "tensor/cuda/stream.h"
#include "tensor/dtype_codes.h"

namespace agf::cuda {

namespace {

template <typename D, typename S>
__global__ void strided_copy_kernel(D* dst, const S* src, int64_t n, StridedDesc<2> d) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    offsets(d, i, off);
    dst[off[0]] = static_cast<D>(src[off[1]]);
  }
}

template <typename T>
__global__ void fill_kernel(T* dst, int64_t n, StridedDesc<1> d, T value) {
  AGF_GRID_STRIDE_LOOP(i, n) {
    int64_t off[1];
    offsets(d, i, off);
    dst[off[0]] = value;
  }
}

template <typename D>
cudaError_t copy_from(D* dst, const void* src, int src_dtype, int64_t n, const StridedDesc<2>& d) {
  const unsigned grid = grid_for(n);
  switch (src_dtype) {
    case kF32: strided_copy_kernel<<<grid, 256, 0, current_stream()>>>(dst, static_cast<const float*>(src), n, d); break;
    case kF64: strided_copy_kernel<<<grid, 256, 0, current_stream()>>>(dst, static_cast<const double*>(src), n, d); break;
    case kI64: strided_copy_kernel<<<grid, 256, 0, current_stream()>>>(dst, static_cast<const int64_t*>(src), n, d); break;
    case kI32: strided_copy_kernel<<<grid, 256, 0, current_stream()>>>(dst, static_cast<const int32_t*>(src), n, d); break;
    case kU8: strided_copy_kernel<<<grid, 256, 0, current_stream()>>>(dst, static_cast<const uint8_t*>(src), n, d); break;
    case kBool: strided_copy_kernel<<<grid, 256, 0, current_stream()>>>(dst, static_cast<const bool*>(src), n, d); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_strided_copy(void* dst, int dst_dtype, const void* src, int src_dtype, int64_t n,
                                const StridedDesc<2>& d) {
  switch (dst_dtype) {
    case kF32: return copy_from(static_cast<float*>(dst), src, src_dtype, n, d);
    case kF64: return copy_from(static_cast<double*>(dst), src, src_dtype, n, d);
    case kI64: return copy_from(static_cast<int64_t*>(dst), src, src_dtype, n, d);
    case kI32: return copy_from(static_cast<int32_t*>(dst), src, src_dtype, n, d);
    case kU8: return copy_from(static_cast<uint8_t*>(dst), src, src_dtype, n, d);
    case kBool: return copy_from(static_cast<bool*>(dst), src, src_dtype, n, d);
    default: return cudaErrorInvalidValue;
  }
}

cudaError_t launch_fill(void* dst, int dtype, double value, int64_t n, const StridedDesc<1>& d) {
  const unsigned grid = grid_for(n);
  switch (dtype) {
    case kF32: fill_kernel<<<grid, 256, 0, current_stream()>>>(static_cast<float*>(dst), n, d, static_cast<float>(value)); break;
    case kF64: fill_kernel<<<grid, 256, 0, current_stream()>>>(static_cast<double*>(dst), n, d, value); break;
    case kI64: fill_kernel<<<grid, 256, 0, current_stream()>>>(static_cast<int64_t*>(dst), n, d, static_cast<int64_t>(value)); break;
    case kI32: fill_kernel<<<grid, 256, 0, current_stream()>>>(static_cast<int32_t*>(dst), n, d, static_cast<int32_t>(value)); break;
    case kU8: fill_kernel<<<grid, 256, 0, current_stream()>>>(static_cast<uint8_t*>(dst), n, d, static_cast<uint8_t>(value)); break;
    case kBool: fill_kernel<<<grid, 256, 0, current_stream()>>>(static_cast<bool*>(dst), n, d, value != 0.0); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

}  // namespace agf::cuda
