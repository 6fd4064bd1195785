#include "tensor/shape.h"

#include <algorithm>

#include "tensor/error.h"

namespace agf {

std::string shape_str(const Shape& s) {
  if (s.size() == 1) return fmt::format("({},)", s[0]);
  return fmt::format("({})", fmt::join(s, ", "));
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (int64_t i = static_cast<int64_t>(s.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
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
