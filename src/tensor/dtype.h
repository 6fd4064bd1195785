#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tensor/error.h"

namespace agf {

enum class DType : uint8_t { f32, f64, i64, i32, u8, boolean, f16, bf16 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::i32: return 4;
    case DType::u8: return 1;
    case DType::boolean: return 1;
    case DType::f16: return 2;
    case DType::bf16: return 2;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
    case DType::boolean: return "bool";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "?";
}

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

DType parse_dtype(std::string_view name);  // "f32", "float32", "float", ... ; throws on unknown

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

}  // namespace agf

template <> struct fmt::formatter<agf::DType> : fmt::formatter<std::string_view> {
  auto format(agf::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(agf::dtype_name(t), ctx);
  }
};

namespace agf {

// Calls f.template operator()<T>() with T = float or double by `dtype`; other dtypes are an error naming `what`.
// Written as functions over templated lambdas, not macros, so that the body may hold #pragma omp.
template <typename F>
decltype(auto) dispatch_float(DType dtype, const char* what, F&& f) {
  switch (dtype) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    default: AGF_FAIL("{}: dtype {} not supported (f32 or f64 expected)", what, dtype_name(dtype));
  }
}

// As dispatch_float plus the integer and byte types (copies, fills).
template <typename F>
decltype(auto) dispatch_all(DType dtype, const char* what, F&& f) {
  switch (dtype) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i64: return f.template operator()<int64_t>();
    case DType::i32: return f.template operator()<int32_t>();
    case DType::u8: return f.template operator()<uint8_t>();
    case DType::boolean: return f.template operator()<bool>();
    default: AGF_FAIL("{}: dtype {} not supported", what, dtype_name(dtype));
  }
}

}  // namespace agf
