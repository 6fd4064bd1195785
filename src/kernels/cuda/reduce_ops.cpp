// Tensor-level entry points of the CUDA reductions and pools (compiled by g++): the kept and reduced dims as
// descriptors, the workspaces, then the launchers of reduce.cu. Same contract as kernels/cpu/reduce.cpp and
// cpu/pool.cpp; while planning, workspaces are made and nothing runs.
#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/reduce_launch.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/cuda/strided_desc.h"
#include "tensor/ledger.h"
#include "tensor/planning.h"

namespace agf::cuda {

namespace {

static_assert(static_cast<int>(ops::ReduceOp::sum) == static_cast<int>(ReduceKind::sum) &&
                  static_cast<int>(ops::ReduceOp::mean) == static_cast<int>(ReduceKind::mean) &&
                  static_cast<int>(ops::ReduceOp::max) == static_cast<int>(ReduceKind::max) &&
                  static_cast<int>(ops::ReduceOp::min) == static_cast<int>(ReduceKind::min) &&
                  static_cast<int>(ops::ReduceOp::sumsq) == static_cast<int>(ReduceKind::sumsq),
              "ReduceKind mirrors ops::ReduceOp");

template <typename T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}
void set_device(const Tensor& t) { AGF_CUDA_CHECK(cudaSetDevice(t.device().index)); }

// Two device int64 that the backward kernels set to {1, the index} when an index is out of range: the CPU backend
// throws then, and so does this one, at the price of one synchronisation with the stream per call.
class IndexCheck {
 public:
  explicit IndexCheck(Device device) {
    MemScope scope(MemTag::workspace);
    flag_ = empty({2}, DType::i64, device);
  }
  // Zeroed on the stream, for the kernel that comes next.
  int64_t* arm() const {
    AGF_CUDA_CHECK(cudaMemsetAsync(flag_.raw_data(), 0, 2 * sizeof(int64_t), current_stream()));
    return flag_.data<int64_t>();
  }
  // {whether a kernel found one, the index}, after the stream has run.
  std::pair<bool, int64_t> read() const {
    int64_t host[2] = {0, 0};
    AGF_CUDA_CHECK(cudaMemcpyAsync(host, flag_.raw_data(), sizeof(host), cudaMemcpyDeviceToHost, current_stream()));
    AGF_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    return {host[0] != 0, host[1]};
  }

 private:
  Tensor flag_;
};

// Sizes and per-operand strides of all dims but the last (the rows of a pool).
struct Lead {
  Shape shape;
  std::vector<Shape> strides;
};
Lead lead_of(std::initializer_list<const Tensor*> ts) {
  Lead l;
  const Tensor& first = **ts.begin();
  l.shape.assign(first.shape().begin(), first.shape().end() - 1);
  for (const Tensor* t : ts) l.strides.emplace_back(t->strides().begin(), t->strides().end() - 1);
  return l;
}

}  // namespace

void reduce(const Tensor& out, ops::ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims) {
  Shape kept_shape, kept_out_strides, kept_x_strides;
  std::vector<std::pair<int64_t, int64_t>> red;  // (size, stride) of x's reduced dims
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (std::find(dims.begin(), dims.end(), d) != dims.end()) {
      red.emplace_back(x.shape()[d], x.strides()[d]);
    } else {
      kept_shape.push_back(x.shape()[d]);
      kept_out_strides.push_back(out.strides()[d]);
      kept_x_strides.push_back(x.strides()[d]);
    }
  }
  // The reduced dims by decreasing stride: the innermost is then the one x steps through fastest (what the kernels'
  // choice of strategy looks at), and dims contiguous together merge. The order of a reduction's elements changes
  // only the rounding of a sum.
  std::stable_sort(red.begin(), red.end(), [](const auto& a, const auto& b) {
    return std::abs(a.second) > std::abs(b.second);
  });
  Shape red_shape, red_strides;
  for (const auto& [size, stride] : red) {
    red_shape.push_back(size);
    red_strides.push_back(stride);
  }
  const auto kept = strided_desc<2>(kept_shape, {kept_out_strides.data(), kept_x_strides.data()});
  const auto red_desc = strided_desc<1>(red_shape, {red_strides.data()});
  const int64_t parts = reduce_parts(kept, red_desc);
  Tensor partials;
  if (parts > 1) {
    MemScope scope(MemTag::workspace);
    partials = empty({shape_numel(kept_shape) * parts}, DType::f64, x.device());
  }
  if (planning()) return;
  set_device(x);
  dispatch_float(x.dtype(), "reduce", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_reduce<T>(ptr<T>(out), ptr<T>(x), kept, red_desc, static_cast<ReduceKind>(op),
                                    parts > 1 ? partials.data<double>() : nullptr));
  });
}

void max_dim(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  if (planning()) return;
  Shape kept = x.shape();
  kept[dim] = 1;
  const auto d = strided_desc<3>(kept, {values.strides().data(), indices.strides().data(), x.strides().data()});
  set_device(x);
  dispatch_float(x.dtype(), "max", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_max_dim<T>(ptr<T>(values), indices.data<int64_t>(), ptr<T>(x), d, x.shape()[dim],
                                     x.strides()[dim]));
  });
}

void max_dim_backward(const Tensor& grad_x, const Tensor& grad_values, const Tensor& indices, int64_t dim) {
  const IndexCheck check(grad_x.device());
  if (planning()) return;
  const int64_t n_red = grad_x.shape()[dim];
  Shape kept = grad_x.shape();
  kept[dim] = 1;
  if (shape_numel(kept) == 0) return;
  const auto d =
      strided_desc<3>(kept, {grad_x.strides().data(), grad_values.strides().data(), indices.strides().data()});
  set_device(grad_x);
  int64_t* bad = check.arm();
  dispatch_float(grad_x.dtype(), "max backward", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_max_dim_backward<T>(ptr<T>(grad_x), ptr<T>(grad_values), indices.data<int64_t>(), d, n_red,
                                              grad_x.strides()[dim], bad));
  });
  const auto [found, index] = check.read();
  AGF_CHECK(!found, "max backward: index {} out of range [0, {})", index, n_red);
}

void avg_pool1d(const Tensor& out, const Tensor& x, int64_t k, int64_t s) {
  if (planning()) return;
  const Lead l = lead_of({&out, &x});
  const auto d = strided_desc<2>(l.shape, {l.strides[0].data(), l.strides[1].data()});
  set_device(x);
  dispatch_float(x.dtype(), "avg_pool1d", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_avg_pool1d<T>(ptr<T>(out), ptr<T>(x), d, out.size(-1), out.stride(-1), x.stride(-1), k, s));
  });
}

void avg_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, int64_t k, int64_t s) {
  if (planning()) return;
  const Lead l = lead_of({&grad_x, &grad_y});
  const auto d = strided_desc<2>(l.shape, {l.strides[0].data(), l.strides[1].data()});
  set_device(grad_x);
  dispatch_float(grad_x.dtype(), "avg_pool1d backward", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_avg_pool1d_backward<T>(ptr<T>(grad_x), ptr<T>(grad_y), d, grad_x.size(-1), grad_y.size(-1),
                                                 grad_x.stride(-1), grad_y.stride(-1), k, s));
  });
}

void max_pool1d(const Tensor& out, const Tensor& indices, const Tensor& x, int64_t k, int64_t s) {
  if (planning()) return;
  const Lead l = lead_of({&out, &indices, &x});
  const auto d = strided_desc<3>(l.shape, {l.strides[0].data(), l.strides[1].data(), l.strides[2].data()});
  set_device(x);
  dispatch_float(x.dtype(), "max_pool1d", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_max_pool1d<T>(ptr<T>(out), indices.data<int64_t>(), ptr<T>(x), d, out.size(-1),
                                        out.stride(-1), indices.stride(-1), x.stride(-1), k, s));
  });
}

void max_pool1d_backward(const Tensor& grad_x, const Tensor& grad_y, const Tensor& indices) {
  const IndexCheck check(grad_x.device());
  if (planning()) return;
  const int64_t t_in = grad_x.size(-1);
  const Lead l = lead_of({&grad_x, &grad_y, &indices});
  if (shape_numel(l.shape) == 0) return;
  const auto d = strided_desc<3>(l.shape, {l.strides[0].data(), l.strides[1].data(), l.strides[2].data()});
  set_device(grad_x);
  int64_t* bad = check.arm();
  dispatch_float(grad_x.dtype(), "max_pool1d backward", [&]<typename T>() {
    AGF_CUDA_CHECK(launch_max_pool1d_backward<T>(ptr<T>(grad_x), ptr<T>(grad_y), indices.data<int64_t>(), d, t_in,
                                                 grad_y.size(-1), grad_x.stride(-1), grad_y.stride(-1),
                                                 indices.stride(-1), bad));
  });
  AGF_CHECK(!check.read().first, "max_pool1d backward: an index is out of range [0, {}) (grad_x {}, indices {})", t_in,
            grad_x.describe(), indices.describe());
}

}  // namespace agf::cuda
