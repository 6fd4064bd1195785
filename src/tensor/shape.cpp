#include "tensor/shape.h"

#include <algorithm>

#include "tensor/error.h"

namespace agf {

std::string shape_str(const Shape& s) {
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}

namespace {

// The element count, or false when it overflows.
bool checked_numel(const Shape& s, int64_t* numel) {
  *numel = 0;
  for (auto d : s)
    if (d == 0) return true;  // no elements, however large the other dims
  int64_t n = 1;
  for (auto d : s)
    if (__builtin_mul_overflow(n, d, &n)) return false;
  *numel = n;
  return true;
}

// The contiguous strides (when `strides` is given), or false when one overflows. Zero dims count as 1 so that the
// strides stay those of the shape's nonzero dims: they do not vanish with the element count.
bool checked_strides(const Shape& s, Shape* strides) {
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    if (strides) (*strides)[i] = acc;
    if (i > 0 && __builtin_mul_overflow(acc, std::max<int64_t>(s[i], 1), &acc)) return false;
  }
  return true;
}

}  // namespace

int64_t shape_numel(const Shape& s) {
  int64_t n = 0;
  AGF_CHECK(checked_numel(s, &n), "shape {}: its element count overflows 64 bits", shape_str(s));
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  AGF_CHECK(checked_strides(s, &st), "shape {}: its contiguous strides overflow 64 bits", shape_str(s));
  return st;
}

int64_t shape_nbytes(const Shape& s, size_t element_size) {
  int64_t bytes = 0;
  AGF_CHECK(!__builtin_mul_overflow(shape_numel(s), element_size, &bytes),
            "shape {}: {} elements of {} bytes overflow 64 bits", shape_str(s), shape_numel(s), element_size);
  return bytes;
}

bool shape_fits(const Shape& s, size_t element_size) {
  int64_t numel = 0, bytes = 0;
  for (auto d : s)
    if (d < 0) return false;
  return checked_numel(s, &numel) && checked_strides(s, nullptr) &&
         !__builtin_mul_overflow(numel, element_size, &bytes);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    AGF_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} do not broadcast", what, shape_str(a),
              shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* what) {
  // A 0-dim tensor has no dim to name: callers that index a dim would read past an empty shape.
  AGF_CHECK(dim >= -ndim && dim < ndim, "{}: dim {} out of range for a tensor of {} dims", what, dim, ndim);
  return dim < 0 ? dim + ndim : dim;
}

}  // namespace agf
