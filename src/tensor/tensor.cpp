#include "tensor/tensor.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>

#include "tensor/planning.h"
#include "tensor/strided.h"

namespace agf {

namespace {

Tensor make_view(const Tensor& base, Shape sizes, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

Shape infer_size(Shape sizes, int64_t numel, const Tensor& t) {
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      AGF_CHECK(infer < 0, "view/reshape {} of {}: only one dim can be -1", shape_str(sizes), t.describe());
      infer = static_cast<int>(i);
    } else {
      AGF_CHECK(sizes[i] >= 0, "view/reshape {} of {}: negative size", shape_str(sizes), t.describe());
      known *= sizes[i];
    }
  }
  if (infer >= 0) {
    AGF_CHECK(known != 0 && numel % known == 0, "view/reshape {} of {}: sizes do not fit {} elements",
              shape_str(sizes), t.describe(), numel);
    sizes[infer] = numel / known;
  }
  AGF_CHECK(shape_numel(sizes) == numel, "view/reshape {} of {}: {} elements cannot take the shape {}",
            shape_str(sizes), t.describe(), numel, shape_str(sizes));
  return sizes;
}

// Strides that let `newshape` view memory laid out as (oldshape, oldstride), if any exist.
std::optional<Shape> view_strides(Shape oldshape, Shape oldstride, const Shape& newshape) {
  Shape newstride(newshape.size());
  if (shape_numel(oldshape) == 0) return contiguous_strides(newshape);
  if (oldshape.empty()) {
    oldshape = {1};
    oldstride = {1};
  }
  int64_t view_d = static_cast<int64_t>(newshape.size()) - 1;
  int64_t chunk_base_stride = oldstride.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(oldshape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= oldshape[tensor_d];
    if (tensor_d == 0 ||
        (oldshape[tensor_d - 1] != 1 && oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || newshape[view_d] == 1)) {
        newstride[view_d] = view_numel * chunk_base_stride;
        view_numel *= newshape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = oldstride[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return newstride;
}

}  // namespace

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  const auto& s = shape();
  const auto& st = strides();
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{} {} {}", dtype(), shape_str(shape()), device());
}

void* Tensor::raw_data() const {
  const auto& im = check();
  if (im.storage->data() == nullptr) return nullptr;
  return static_cast<char*>(im.storage->data()) + im.offset * static_cast<int64_t>(dtype_size(im.dtype));
}

Tensor Tensor::as_strided(const Shape& sizes, const Shape& strides, int64_t offset) const {
  AGF_CHECK(sizes.size() == strides.size(), "as_strided: {} sizes but {} strides", sizes.size(), strides.size());
  int64_t max_off = offset;
  for (size_t i = 0; i < sizes.size(); ++i) {
    AGF_CHECK(sizes[i] >= 0 && strides[i] >= 0, "as_strided {} {}: negative size or stride", shape_str(sizes),
              shape_str(strides));
    if (sizes[i] > 0) max_off += (sizes[i] - 1) * strides[i];
  }
  const int64_t cap = static_cast<int64_t>(storage()->nbytes() / element_size());
  AGF_CHECK(shape_numel(sizes) == 0 || (offset >= 0 && max_off < cap),
            "as_strided {} strides {} offset {} overruns a storage of {} elements", shape_str(sizes),
            shape_str(strides), offset, cap);
  return make_view(*this, sizes, strides, offset);
}

Tensor Tensor::view(Shape sizes) const {
  sizes = infer_size(std::move(sizes), numel(), *this);
  auto st = view_strides(shape(), strides(), sizes);
  AGF_CHECK(st.has_value(), "view {} of {} with strides {}: not expressible as a view; use reshape",
            shape_str(sizes), describe(), shape_str(strides()));
  return make_view(*this, sizes, *st, offset());
}

Tensor Tensor::reshape(Shape sizes) const {
  sizes = infer_size(std::move(sizes), numel(), *this);
  if (auto st = view_strides(shape(), strides(), sizes)) return make_view(*this, sizes, *st, offset());
  return contiguous().view(sizes);
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  AGF_CHECK(static_cast<int64_t>(order.size()) == dim(), "permute {} of {}: wrong number of dims",
            shape_str(order), describe());
  Shape s(dim()), st(dim());
  std::vector<bool> seen(dim(), false);
  for (int64_t i = 0; i < dim(); ++i) {
    const int64_t d = wrap_dim(order[i], dim(), "permute");
    AGF_CHECK(!seen[d], "permute {} of {}: dim {} repeated", shape_str(order), describe(), d);
    seen[d] = true;
    s[i] = shape()[d];
    st[i] = strides()[d];
  }
  return make_view(*this, s, st, offset());
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> order(dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(d0, dim(), "transpose")], order[wrap_dim(d1, dim(), "transpose")]);
  return permute(order);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  AGF_CHECK(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow(dim {}, start {}, length {}) of {}",
            d, start, length, describe());
  Shape s = shape();
  s[d] = length;
  return make_view(*this, s, strides(), offset() + start * strides()[d]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  AGF_CHECK(step > 0, "slice of {}: step must be positive, got {}", describe(), step);
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  return make_view(*this, s, st, offset() + start * strides()[d]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  const int64_t n = shape()[d];
  if (index < 0) index += n;
  AGF_CHECK(index >= 0 && index < n, "select index {} out of range for dim {} of {}", index, d, describe());
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return make_view(*this, s, st, offset() + index * strides()[d]);
}

Tensor Tensor::squeeze() const {
  Shape s, st;
  for (int64_t i = 0; i < dim(); ++i)
    if (shape()[i] != 1) {
      s.push_back(shape()[i]);
      st.push_back(strides()[i]);
    }
  return make_view(*this, s, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return make_view(*this, shape(), strides(), offset());
  Shape s = shape(), st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return make_view(*this, s, st, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  const int64_t new_stride = d < dim() ? st[d] * s[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  return make_view(*this, s, st, offset());
}

Tensor Tensor::expand(const Shape& sizes) const {
  AGF_CHECK(static_cast<int64_t>(sizes.size()) >= dim(), "expand {} of {}: fewer dims than the tensor",
            shape_str(sizes), describe());
  const int64_t lead = static_cast<int64_t>(sizes.size()) - dim();
  Shape s(sizes.size()), st(sizes.size());
  for (int64_t i = 0; i < static_cast<int64_t>(sizes.size()); ++i) {
    if (i < lead) {
      AGF_CHECK(sizes[i] >= 0, "expand {} of {}: -1 in a new leading dim", shape_str(sizes), describe());
      s[i] = sizes[i];
      st[i] = 0;
      continue;
    }
    const int64_t cur = shape()[i - lead];
    const int64_t want = sizes[i] == -1 ? cur : sizes[i];
    AGF_CHECK(cur == want || cur == 1, "expand {} of {}: dim {} of size {} cannot become {}", shape_str(sizes),
              describe(), i - lead, cur, want);
    s[i] = want;
    st[i] = cur == want ? strides()[i - lead] : 0;
  }
  return make_view(*this, s, st, offset());
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap_dim(start, dim(), "flatten");
  end = wrap_dim(end, dim(), "flatten");
  Shape s(shape().begin(), shape().begin() + start);
  int64_t n = 1;
  for (int64_t i = start; i <= end; ++i) n *= shape()[i];
  s.push_back(n);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  Tensor out = empty(shape(), dtype(), d);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType t) const {
  if (dtype() == t) return *this;
  Tensor out = empty(shape(), t, device());
  out.copy_(*this);
  return out;
}

Tensor& Tensor::copy_(const Tensor& src_in) {
  Tensor src = src_in.shape() == shape() ? src_in : src_in.expand(shape());
  if (numel() == 0) return *this;
  storage()->bump_version();
  if (planning()) return *this;
  if (src.device() == device()) {
    if (device().is_cpu())
      detail::cpu_strided_copy(*this, src);
    else
      detail::cuda_strided_copy(*this, src);
    return *this;
  }
  // Across devices: bring src to the dtype and layout of a contiguous copy, move the bytes, then lay out here.
  Tensor staged = src.to(dtype()).contiguous();
  if (is_contiguous()) {
    copy_bytes(raw_data(), device(), staged.raw_data(), staged.device(), nbytes());
  } else {
    Tensor moved = empty(shape(), dtype(), device());
    copy_bytes(moved.raw_data(), device(), staged.raw_data(), staged.device(), nbytes());
    copy_(moved);
  }
  return *this;
}

Tensor& Tensor::fill_(double value) {
  if (numel() == 0) return *this;
  storage()->bump_version();
  if (planning()) return *this;
  if (device().is_cuda()) {
    detail::cuda_fill(*this, value);
    return *this;
  }
  dispatch_all(dtype(), "fill_", [&]<typename scalar_t>() {
    auto* base = static_cast<scalar_t*>(raw_data());
    const auto v = static_cast<scalar_t>(value);
    const int64_t* st = strides().data();
    StridedPlan<1>(shape(), {st}).run([&](const std::array<int64_t, 1>& off, int64_t n,
                                          const std::array<int64_t, 1>& inner) {
      scalar_t* p = base + off[0];
      for (int64_t i = 0; i < n; ++i) p[i * inner[0]] = v;
    });
  });
  return *this;
}

template <typename T>
T Tensor::item() const {
  AGF_CHECK(numel() == 1, "item() of {}: needs exactly one element", describe());
  Tensor host = to(Device::cpu()).to(dtype_v<T>);
  return *static_cast<const T*>(host.raw_data());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).to(dtype_v<T>).contiguous();
  const T* p = static_cast<const T*>(host.raw_data());
  return std::vector<T>(p, p + host.numel());
}

#define AGF_INSTANTIATE_HOST_ACCESS(T)                 \
  template T Tensor::item<T>() const;                  \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template Tensor from_vector<T>(const std::vector<T>&, const Shape&, Device);

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape) AGF_CHECK(d >= 0, "cannot create a tensor of shape {}", shape_str(shape));
  AGF_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "cannot create a tensor of {} dims ({} at most)",
            shape.size(), kMaxDims);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(static_cast<size_t>(shape_nbytes(shape, dtype_size(dtype))), device);
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor zeros(const Shape& shape, DType dtype, Device device) { return empty(shape, dtype, device).fill_(0.0); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return empty(shape, dtype, device).fill_(1.0); }
Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  return empty(shape, dtype, device).fill_(value);
}
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor arange(int64_t n, DType dtype, Device device) {
  Tensor host = empty({n}, dtype, Device::cpu());
  dispatch_all(dtype, "arange", [&]<typename scalar_t>() {
    auto* p = host.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<scalar_t>(i);
  });
  return host.to(device);
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  AGF_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: {} values for shape {}",
            values.size(), shape_str(shape));
  Tensor host = empty(shape, dtype_v<T>, Device::cpu());
  if (!values.empty()) std::memcpy(host.raw_data(), values.data(), values.size() * sizeof(T));
  return host.to(device);
}

// std::vector<bool> has no data(); booleans go through uint8 and the dtype is set afterwards.
template <>
Tensor from_vector<bool>(const std::vector<bool>& values, const Shape& shape, Device device) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  Tensor t = from_vector<uint8_t>(bytes, shape, Device::cpu());
  t.impl()->dtype = DType::boolean;
  return t.to(device);
}

AGF_INSTANTIATE_HOST_ACCESS(float)
AGF_INSTANTIATE_HOST_ACCESS(double)
AGF_INSTANTIATE_HOST_ACCESS(int64_t)
AGF_INSTANTIATE_HOST_ACCESS(int32_t)
AGF_INSTANTIATE_HOST_ACCESS(uint8_t)

namespace {
// The first defined tensor against each other defined one, by `key`; the message shows both tensors.
template <typename Key>
void check_same(const char* what, const char* noun, std::initializer_list<const Tensor*> ts, Key key) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (first == nullptr) {
      first = t;
      continue;
    }
    AGF_CHECK(key(*t) == key(*first), "{}: {} differ ({} and {})", what, noun, first->describe(), t->describe());
  }
}
}  // namespace

void check_same_device(const char* what, std::initializer_list<const Tensor*> ts) {
  check_same(what, "devices", ts, [](const Tensor& t) { return t.device(); });
}

void check_same_dtype(const char* what, std::initializer_list<const Tensor*> ts) {
  check_same(what, "dtypes", ts, [](const Tensor& t) { return t.dtype(); });
}

}  // namespace agf
