#include "tensor/dtype.h"

#include <string>

namespace agf {

DType parse_dtype(std::string_view name) {
  const std::string n(name);
  if (n == "f32" || n == "float32" || n == "float") return DType::f32;
  if (n == "f64" || n == "float64" || n == "double") return DType::f64;
  if (n == "i64" || n == "int64" || n == "long") return DType::i64;
  if (n == "i32" || n == "int32" || n == "int") return DType::i32;
  if (n == "u8" || n == "uint8") return DType::u8;
  if (n == "bool") return DType::boolean;
  if (n == "f16" || n == "float16" || n == "half") return DType::f16;
  if (n == "bf16" || n == "bfloat16") return DType::bf16;
  AGF_FAIL("unknown dtype '{}' (expected f32, f64, i64, i32, u8, bool, f16 or bf16)", name);
}

}  // namespace agf
