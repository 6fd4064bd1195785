#include "tensor/device.h"

#include <charconv>

namespace agf {

std::string Device::str() const { return is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", index); }

Device parse_device(std::string_view s) {
  if (s == "cpu") return Device::cpu();
  if (s == "cuda" || s == "gpu") return Device::cuda(0);
  if (s.starts_with("cuda:")) {
    int idx = -1;
    auto num = s.substr(5);
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), idx);
    if (ec == std::errc() && p == num.data() + num.size() && idx >= 0) return Device::cuda(idx);
  }
  AGF_FAIL("unknown device '{}' (expected cpu, cuda or cuda:N)", s);
}

void require_device(const Device& d) {
  if (d.is_cpu()) return;
  AGF_CHECK(cuda_available(), "device {} requested but CUDA is unavailable: {}", d, cuda_unavailable_reason());
  AGF_CHECK(d.index < cuda_device_count(), "device {} requested but only {} CUDA device(s) present", d,
            cuda_device_count());
}

}  // namespace agf
