#pragma once
// The stream of the current CUDA device: every kernel, cuBLAS and cuDNN call of the engine is issued on it, so the
// caching allocator may hand a freed block to the next op without a synchronisation (one stream per device: work on
// it runs in issue order). It is created as a blocking stream, so the synchronous copies of the legacy default
// stream (cudaMemcpy) still order after it. Plain types only: .cu launchers call it too.
#include <cuda_runtime.h>

namespace agf::cuda {

cudaStream_t current_stream();  // of the device cudaGetDevice names; created on first use
cudaStream_t device_stream(int index);

}  // namespace agf::cuda
