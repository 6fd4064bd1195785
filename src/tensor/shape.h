#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace agf {

using Shape = std::vector<int64_t>;
inline constexpr int kMaxDims = 8;

std::string shape_str(const Shape& s);  // "(2, 3, 4)", "()" for a scalar
// The sizes a shape implies, computed with checked arithmetic: a shape can come from a file, and a signed product
// that overflows is undefined behaviour. Each throws an agf::Error naming the shape when its value exceeds int64.
int64_t shape_numel(const Shape& s);                         // 0 when a dim is 0, whatever the others are
Shape contiguous_strides(const Shape& s);                    // zero dims count as 1, so (0, 2^62, 4) overflows
int64_t shape_nbytes(const Shape& s, size_t element_size);  // numel x element_size
// Whether a tensor of this shape can exist: no negative dim, and its element count, its contiguous strides and its
// bytes all fit int64. Readers of files ask first, so that their refusal names the file.
bool shape_fits(const Shape& s, size_t element_size);
// Broadcast two shapes by the NumPy rules; an error names both shapes and `what`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what = "broadcast");
// A negative dim counts from the end; an out-of-range dim is an error naming the shape.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* what = "dim");

}  // namespace agf
