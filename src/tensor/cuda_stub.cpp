// Built when the CUDA backend is not: every CUDA entry point reports that it is absent.
#include "tensor/nvtx.h"
#include "tensor/tensor.h"

namespace agf {

bool cuda_available() { return false; }
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this build has no CUDA backend (configured with -Dcuda=disabled or no nvcc)"; }
std::string cuda_device_name(int) { AGF_FAIL("{}", cuda_unavailable_reason()); }
void cuda_synchronize() {}
CudaMemInfo cuda_mem_info(int) { AGF_FAIL("{}", cuda_unavailable_reason()); }
CudaStreamTimer::CudaStreamTimer(int index) : index_(index) { AGF_FAIL("{}", cuda_unavailable_reason()); }
CudaStreamTimer::~CudaStreamTimer() = default;
double CudaStreamTimer::seconds() { return 0.0; }
void profiler_start() {}
void profiler_stop() {}

namespace detail {
Allocator& cuda_allocator(int) { AGF_FAIL("{}", cuda_unavailable_reason()); }
void cuda_copy_bytes(void*, Device, const void*, Device, size_t) { AGF_FAIL("{}", cuda_unavailable_reason()); }
void cuda_strided_copy(const Tensor&, const Tensor&) { AGF_FAIL("{}", cuda_unavailable_reason()); }
void cuda_fill(const Tensor&, double) { AGF_FAIL("{}", cuda_unavailable_reason()); }
}  // namespace detail

}  // namespace agf
