// The CUDA side of the tensor layer, compiled by g++ against the CUDA runtime: device discovery, the caching
// allocator's raw calls, byte copies, and the calls into the copy/fill kernels (copy_kernels.cu).
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "tensor/cuda/copy_kernels.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/cuda/strided_desc.h"
#include "tensor/dtype_codes.h"
#include "tensor/nvtx.h"
#include "tensor/tensor.h"

namespace agf {

static_assert(static_cast<int>(DType::f32) == cuda::kF32 && static_cast<int>(DType::f64) == cuda::kF64 &&
              static_cast<int>(DType::i64) == cuda::kI64 && static_cast<int>(DType::i32) == cuda::kI32 &&
              static_cast<int>(DType::u8) == cuda::kU8 && static_cast<int>(DType::boolean) == cuda::kBool);

namespace {
struct Discovery {
  int count = 0;
  std::string reason;
};

const Discovery& discovery() {
  static const Discovery d = [] {
    Discovery r;
    if (const char* env = std::getenv("AGF_DISABLE_CUDA"); env != nullptr && std::string(env) != "0") {
      r.reason = "CUDA disabled by AGF_DISABLE_CUDA";
      return r;
    }
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the error so later calls are not poisoned
      r.reason = fmt::format("no usable CUDA device: {}", cudaGetErrorString(err));
      return r;
    }
    if (n == 0) {
      r.reason = "no CUDA device found";
      return r;
    }
    r.count = n;
    return r;
  }();
  return d;
}

}  // namespace

bool cuda_available() { return discovery().count > 0; }
int cuda_device_count() { return discovery().count; }
std::string cuda_unavailable_reason() { return discovery().reason; }

std::string cuda_device_name(int index) {
  require_device(Device::cuda(index));
  cudaDeviceProp prop{};
  AGF_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return fmt::format("{} (sm_{}{}, {} MiB)", prop.name, prop.major, prop.minor, prop.totalGlobalMem >> 20);
}

void cuda_synchronize() {
  if (cuda_available()) AGF_CUDA_CHECK(cudaDeviceSynchronize());
}

CudaMemInfo cuda_mem_info(int index) {
  require_device(Device::cuda(index));
  AGF_CUDA_CHECK(cudaSetDevice(index));
  size_t free_b = 0, total_b = 0;
  AGF_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return {static_cast<int64_t>(free_b), static_cast<int64_t>(total_b)};
}

CudaStreamTimer::CudaStreamTimer(int index) : index_(index) {
  require_device(Device::cuda(index));
  AGF_CUDA_CHECK(cudaSetDevice(index));
  cudaEvent_t a = nullptr, b = nullptr;
  AGF_CUDA_CHECK(cudaEventCreate(&a));
  AGF_CUDA_CHECK(cudaEventCreate(&b));
  start_ = a;
  stop_ = b;
  AGF_CUDA_CHECK(cudaEventRecord(a, cuda::device_stream(index)));
}

CudaStreamTimer::~CudaStreamTimer() {
  if (start_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}

double CudaStreamTimer::seconds() {
  auto* b = static_cast<cudaEvent_t>(stop_);
  AGF_CUDA_CHECK(cudaSetDevice(index_));
  AGF_CUDA_CHECK(cudaEventRecord(b, cuda::device_stream(index_)));
  AGF_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0.0f;
  AGF_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), b));
  return ms / 1e3;
}

void profiler_start() {
  if (cuda_available()) AGF_CUDA_CHECK(cudaProfilerStart());
}

void profiler_stop() {
  if (cuda_available()) AGF_CUDA_CHECK(cudaProfilerStop());
}

namespace cuda {

cudaStream_t device_stream(int index) {
  static std::mutex mu;
  static auto* streams = new std::vector<cudaStream_t>();  // never destroyed: the driver may be gone at exit
  std::lock_guard lk(mu);
  if (streams->empty()) streams->resize(cuda_device_count(), nullptr);
  AGF_CHECK(index >= 0 && index < static_cast<int>(streams->size()), "no CUDA device {}", index);
  cudaStream_t& st = (*streams)[index];
  if (st == nullptr) {
    int prev = 0;
    AGF_CUDA_CHECK(cudaGetDevice(&prev));
    AGF_CUDA_CHECK(cudaSetDevice(index));
    AGF_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamDefault));
    AGF_CUDA_CHECK(cudaSetDevice(prev));
  }
  return st;
}

cudaStream_t current_stream() {
  int index = 0;
  AGF_CUDA_CHECK(cudaGetDevice(&index));
  return device_stream(index);
}

}  // namespace cuda

namespace detail {

Allocator& cuda_allocator(int index) {
  static std::mutex mu;
  static auto* allocators = new std::vector<std::unique_ptr<CachingAllocator>>();
  std::lock_guard lk(mu);
  if (allocators->empty()) allocators->resize(cuda_device_count());
  auto& a = (*allocators)[index];
  if (!a) {
    a = std::make_unique<CachingAllocator>(
        Device::cuda(index),
        [index](size_t n) -> void* {
          void* p = nullptr;
          AGF_CUDA_CHECK(cudaSetDevice(index));
          if (cudaMalloc(&p, n) != cudaSuccess) {
            cudaGetLastError();
            return nullptr;
          }
          return p;
        },
        [index](void* p) {
          cudaSetDevice(index);
          cudaFree(p);
        });
  }
  return *a;
}

void cuda_copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n) {
  const Device gpu = dst_dev.is_cuda() ? dst_dev : src_dev;
  require_device(gpu);
  // The legacy stream of the tensor's own device: it orders after that device's stream (tensor/cuda/stream.h).
  AGF_CUDA_CHECK(cudaSetDevice(gpu.index));
  AGF_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDefault));
}

void cuda_strided_copy(const Tensor& dst, const Tensor& src) {
  AGF_CHECK(dst.shape() == src.shape(), "copy: shapes differ ({} <- {})", dst.describe(), src.describe());
  AGF_CHECK(dst.device() == src.device(), "copy: devices differ ({} <- {})", dst.describe(), src.describe());
  AGF_CUDA_CHECK(cudaSetDevice(dst.device().index));
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    AGF_CUDA_CHECK(cudaMemcpy(dst.raw_data(), src.raw_data(), dst.nbytes(), cudaMemcpyDeviceToDevice));
    return;
  }
  AGF_CUDA_CHECK(cuda::launch_strided_copy(dst.raw_data(), static_cast<int>(dst.dtype()), src.raw_data(),
                                           static_cast<int>(src.dtype()), dst.numel(), cuda::strided_desc<2>(dst.shape(), {dst.strides().data(), src.strides().data()})));
}

void cuda_fill(const Tensor& dst, double value) {
  AGF_CUDA_CHECK(cudaSetDevice(dst.device().index));
  AGF_CUDA_CHECK(cuda::launch_fill(dst.raw_data(), static_cast<int>(dst.dtype()), value, dst.numel(),
                                   cuda::strided_desc<1>(dst.shape(), {dst.strides().data()})));
}

}  // namespace detail
}  // namespace agf
