#pragma once
// DType values as plain ints, for .cu launchers that must not include the fmt-based headers.
// Kept equal to agf::DType by a static_assert in tensor/cuda/device_cuda.cpp.
namespace agf::cuda {
enum : int { kF32 = 0, kF64 = 1, kI64 = 2, kI32 = 3, kU8 = 4, kBool = 5, kF16 = 6, kBF16 = 7 };
}  // namespace agf::cuda
