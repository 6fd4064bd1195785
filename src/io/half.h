#pragma once
// f16 / bf16 <-> f32. Checkpoints may hold half-precision tensors; the engine computes in f32 (or f64), so a loaded
// f16/bf16 tensor is widened once with widen_to_f32. Conversions to half round to nearest even, as PyTorch does.
#include <cstdint>

#include "tensor/tensor.h"

namespace agf::io {

float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t b);
uint16_t f32_to_f16(float f);
uint16_t f32_to_bf16(float f);

// An f16 or bf16 tensor as a new contiguous f32 tensor on the same device; any other dtype through Tensor::to.
Tensor widen_to_f32(const Tensor& t);
// An f32 tensor as a new contiguous f16 or bf16 tensor on the same device (for writing half checkpoints).
Tensor narrow_to_half(const Tensor& t, DType half_dtype);

}  // namespace agf::io
