#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace agf {

struct AutogradMeta;  // defined by src/autograd; the tensor layer only carries the pointer

// What a Tensor handle points at: a view (sizes, strides, offset in elements) of a refcounted Storage.
// Views of one storage are separate impls, so each may carry its own autograd identity.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;
  std::shared_ptr<AutogradMeta> autograd;
};

// A cheap handle (one shared_ptr). Copying a Tensor shares the impl; views make a new impl over the same storage.
// A default-constructed Tensor is "undefined" (an absent optional input, e.g. a conv without bias).
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  const Shape& shape() const { return check().sizes; }
  const Shape& strides() const { return check().strides; }
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t offset() const { return check().offset; }
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const { return check().dtype; }
  Device device() const { return check().storage->device(); }
  size_t element_size() const { return dtype_size(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  const std::shared_ptr<Storage>& storage() const { return check().storage; }
  bool is_contiguous() const;
  std::string describe() const;  // "f32 (2, 3) cpu" for error messages

  // Pointer to the first element (on the tensor's device). The typed form checks the dtype.
  void* raw_data() const;
  template <typename T>
  T* data() const {
    AGF_CHECK(dtype() == dtype_v<T>, "data<{}>() on a tensor of dtype {}", dtype_name(dtype_v<T>), dtype());
    return static_cast<T*>(raw_data());
  }

  // ---- views (no copy) ----
  Tensor as_strided(const Shape& sizes, const Shape& strides, int64_t offset) const;
  Tensor view(Shape sizes) const;     // requires strides compatible with the new shape; -1 infers one dim
  Tensor reshape(Shape sizes) const;  // a view when possible, else a contiguous copy
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& sizes) const;  // size-1 dims broadcast with stride 0; -1 keeps a dim
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;

  // ---- copies ----
  Tensor contiguous() const;  // *this when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy, charged to the current tag
  Tensor to(Device d) const;  // *this when already there
  Tensor to(DType t) const;   // *this when already that dtype
  Tensor& copy_(const Tensor& src);  // broadcasts src, converts dtype, crosses devices
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // ---- host access (copies to the CPU when needed) ----
  template <typename T> T item() const;
  template <typename T> std::vector<T> to_vector() const;

  std::string to_string(int64_t max_per_dim = 6) const;

 private:
  const TensorImpl& check() const {
    AGF_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories: memory is charged to the current MemScope tag ----
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = Device::cpu());
Tensor arange(int64_t n, DType dtype = DType::i64, Device device = Device::cpu());
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());

// Same device for every defined tensor, else an error naming `what` and the devices.
void check_same_device(const char* what, std::initializer_list<const Tensor*> ts);
void check_same_dtype(const char* what, std::initializer_list<const Tensor*> ts);

namespace detail {
// Strided copy with dtype conversion between two tensors of the same shape on the CPU.
void cpu_strided_copy(const Tensor& dst, const Tensor& src);
// The same on one CUDA device (defined by the CUDA backend).
void cuda_strided_copy(const Tensor& dst, const Tensor& src);
void cuda_fill(const Tensor& dst, double value);
}  // namespace detail

}  // namespace agf
