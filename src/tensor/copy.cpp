#include "tensor/strided.h"
#include "tensor/tensor.h"

namespace agf::detail {

namespace {
template <typename D, typename S>
void copy_typed(const Tensor& dst, const Tensor& src) {
  auto* d = static_cast<D*>(dst.raw_data());
  const auto* s = static_cast<const S*>(src.raw_data());
  StridedPlan<2>(dst.shape(), {dst.strides().data(), src.strides().data()})
      .run([&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& inner) {
        D* dp = d + off[0];
        const S* sp = s + off[1];
        if (inner[0] == 1 && inner[1] == 1) {
          for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) dp[i * inner[0]] = static_cast<D>(sp[i * inner[1]]);
        }
      });
}
}  // namespace

void cpu_strided_copy(const Tensor& dst, const Tensor& src) {
  AGF_CHECK(dst.shape() == src.shape(), "copy: shapes differ ({} <- {})", dst.describe(), src.describe());
  dispatch_all(dst.dtype(), "copy", [&]<typename D>() {
    dispatch_all(src.dtype(), "copy", [&]<typename scalar_t>() { copy_typed<D, scalar_t>(dst, src); });
  });
}

}  // namespace agf::detail
