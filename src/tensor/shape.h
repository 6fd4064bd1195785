#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace agf {

using Shape = std::vector<int64_t>;
inline constexpr int kMaxDims = 8;

std::string shape_str(const Shape& s);  // "(2, 3, 4)", "()" for a scalar
int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
// Broadcast two shapes by the NumPy rules; an error names both shapes and `what`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what = "broadcast");
// A negative dim counts from the end; an out-of-range dim is an error naming the shape.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* what = "dim");

}  // namespace agf
