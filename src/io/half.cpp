#include "io/half.h"

#include <bit>
#include <cmath>

namespace agf::io {

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise the mantissa
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  return std::bit_cast<float>(bits);
}

float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

uint16_t f32_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);  // stay a (quiet) nan
  const uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

uint16_t f32_to_f16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);  // nan / inf
  if (abs >= 0x477ff000) return sign | 0x7c00;                                 // rounds past 65504: inf
  if (abs < 0x38800000) {                                                      // below the smallest normal
    if (abs < 0x33000000) return sign;                                         // under half the smallest subnormal
    const uint32_t mant = (abs & 0x7fffff) | 0x800000;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    const uint32_t half_ulp = 1u << (shift - 1);
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    if (rem > half_ulp || (rem == half_ulp && (q & 1))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  const uint32_t rounded = abs + 0xfff + ((abs >> 13) & 1);  // round to nearest even at bit 13
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

namespace {

template <typename In, typename Out, typename F>
Tensor convert_contiguous(const Tensor& t, DType out_dtype, F convert) {
  const Tensor host = t.to(Device::cpu());
  AGF_CHECK(host.is_contiguous(), "converting {}: a non-contiguous half tensor (make it contiguous first)",
            t.describe());
  Tensor out = empty(t.shape(), out_dtype, Device::cpu());
  const auto* in = static_cast<const In*>(host.raw_data());
  auto* o = static_cast<Out*>(out.raw_data());
  for (int64_t i = 0; i < t.numel(); ++i) o[i] = convert(in[i]);
  return out.to(t.device());
}

}  // namespace

Tensor widen_to_f32(const Tensor& t) {
  switch (t.dtype()) {
    case DType::f16: return convert_contiguous<uint16_t, float>(t, DType::f32, f16_to_f32);
    case DType::bf16: return convert_contiguous<uint16_t, float>(t, DType::f32, bf16_to_f32);
    default: return t.to(DType::f32);
  }
}

Tensor narrow_to_half(const Tensor& t, DType half_dtype) {
  AGF_CHECK(half_dtype == DType::f16 || half_dtype == DType::bf16, "narrow_to_half: {} is not f16 or bf16",
            half_dtype);
  const Tensor f = t.to(DType::f32).contiguous();
  return half_dtype == DType::f16 ? convert_contiguous<float, uint16_t>(f, DType::f16, f32_to_f16)
                                  : convert_contiguous<float, uint16_t>(f, DType::bf16, f32_to_bf16);
}

}  // namespace agf::io
