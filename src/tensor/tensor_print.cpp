#include <ostream>

#include "tensor/tensor.h"

namespace agf {

namespace {
void print_rec(std::string& out, const Tensor& t, const double* base, std::vector<int64_t>& idx, int64_t d,
               int64_t max_per_dim) {
  const int64_t n = t.shape()[d];
  out += '[';
  auto visit = [&](int64_t i) {
    idx[d] = i;
    if (d + 1 == t.dim()) {
      int64_t off = 0;
      for (int64_t k = 0; k < t.dim(); ++k) off += idx[k] * t.strides()[k];
      out += fmt::format("{:.6g}", base[off]);
    } else {
      print_rec(out, t, base, idx, d + 1, max_per_dim);
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    if (n > max_per_dim && i == max_per_dim / 2) {
      out += "..., ";
      i = n - max_per_dim / 2;
    }
    visit(i);
    if (i + 1 < n) out += ", ";
  }
  out += ']';
}
}  // namespace

std::string Tensor::to_string(int64_t max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  std::string out = fmt::format("Tensor({} ", describe());
  Tensor host = to(Device::cpu()).to(DType::f64).contiguous();
  if (dim() == 0) {
    out += fmt::format("{:.6g}", *host.data<double>());
  } else if (numel() > 0) {
    std::vector<int64_t> idx(dim(), 0);
    print_rec(out, host, host.data<double>(), idx, 0, std::max<int64_t>(max_per_dim, 2));
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

}  // namespace agf
