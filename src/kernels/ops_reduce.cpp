#include <algorithm>

#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf::ops {

namespace {
const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::mean: return "mean";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
    case ReduceOp::sumsq: return "squared_norm";
  }
  return "reduce";
}

Shape keepdim_shape(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out = s;
  for (auto d : dims) out[d] = 1;
  return out;
}

Shape drop_dims(const Shape& s, const std::vector<int64_t>& dims) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) out.push_back(s[i]);
  return out;
}
}  // namespace

Tensor reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  const char* what = reduce_name(op);
  AGF_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "{}: {} (f32 or f64 expected)", what,
            x.describe());
  std::vector<int64_t> dims;
  if (dims_in.empty()) {
    for (int64_t i = 0; i < x.dim(); ++i) dims.push_back(i);
  } else {
    for (auto d : dims_in) dims.push_back(wrap_dim(d, x.dim(), what));
    std::sort(dims.begin(), dims.end());
    AGF_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), "{} of {}: dims {} repeated", what,
              x.describe(), shape_str(dims_in));
  }
  if (op == ReduceOp::max || op == ReduceOp::min) {
    for (auto d : dims)
      AGF_CHECK(x.shape()[d] > 0, "{} of {}: reduction over an empty dim {}", what, x.describe(), d);
  }
  Tensor out = empty(keepdim_shape(x.shape(), dims), x.dtype(), x.device());
  AGF_DISPATCH_BACKEND(x.device(), reduce(out, op, x, dims));
  return keepdim ? out : out.view(drop_dims(x.shape(), dims));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  AGF_CHECK(broadcast_shapes(x.shape(), shape, "sum_to") == x.shape(), "sum_to: {} cannot be summed to {}",
            x.describe(), shape_str(shape));
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) dims.push_back(i);
  if (dims.empty()) return x.reshape(shape);
  return reduce(ReduceOp::sum, x, dims, true).reshape(shape);
}

MaxResult max_dim(const Tensor& x, int64_t dim, bool keepdim) {
  AGF_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "max: {} (f32 or f64 expected)", x.describe());
  dim = wrap_dim(dim, x.dim(), "max");
  AGF_CHECK(x.dim() > 0 && x.shape()[dim] > 0, "max of {} over an empty dim {}", x.describe(), dim);
  const Shape ks = keepdim_shape(x.shape(), {dim});
  MaxResult r{empty(ks, x.dtype(), x.device()), empty(ks, DType::i64, x.device())};
  AGF_DISPATCH_BACKEND(x.device(), max_dim(r.values, r.indices, x, dim));
  if (!keepdim) {
    r.values = r.values.squeeze(dim);
    r.indices = r.indices.squeeze(dim);
  }
  return r;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return max_dim(x, dim, keepdim).indices; }

Tensor max_dim_backward(const Tensor& grad_values, const Tensor& indices, const Shape& input_shape, int64_t dim,
                        bool keepdim) {
  dim = wrap_dim(dim, static_cast<int64_t>(input_shape.size()), "max backward");
  const Tensor gv = keepdim ? grad_values : grad_values.unsqueeze(dim);
  const Tensor ix = keepdim ? indices : indices.unsqueeze(dim);
  AGF_CHECK(gv.shape() == keepdim_shape(input_shape, {dim}) && ix.shape() == gv.shape() &&
                ix.dtype() == DType::i64,
            "max backward: grad {} and indices {} do not fit input {}", grad_values.describe(), indices.describe(),
            shape_str(input_shape));
  check_same_device("max backward", {&grad_values, &indices});
  Tensor grad_x = zeros(input_shape, grad_values.dtype(), grad_values.device());
  AGF_DISPATCH_BACKEND(grad_x.device(), max_dim_backward(grad_x, gv, ix, dim));
  return grad_x;
}

}  // namespace agf::ops
