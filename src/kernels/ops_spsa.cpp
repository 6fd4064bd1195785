#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/ops.h"

namespace agf::ops {

void perturb_(const Tensor& param, uint64_t seed, uint64_t offset, double scale) {
  AGF_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, "perturb_: {} (f32 or f64 expected)",
            param.describe());
  // Contiguity makes element i of the tensor element i of its counter range, whatever the launch shape.
  AGF_CHECK(param.is_contiguous(), "perturb_: {} must be contiguous (parameters always are)", param.describe());
  param.storage()->bump_version();
  AGF_DISPATCH_BACKEND(param.device(), perturb(param, seed, offset, scale));
}

namespace {

void check_direction(const SpsaDirection& d, const char* what) {
  AGF_CHECK(d.sparsity >= 0.0 && d.sparsity < 1.0, "{}: sparsity {} must lie in [0, 1)", what, d.sparsity);
  for (const auto& q : d.queries)
    AGF_CHECK(std::isfinite(q.weight), "{}: query weight {} is not finite", what, q.weight);
}

// Counter ranges [offset, offset + numel) must be disjoint, or two tensors would move along the same noise.
void check_ranges(const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets, const char* what) {
  AGF_CHECK(numels.size() == offsets.size(), "{}: {} tensors but {} counter offsets", what, numels.size(),
            offsets.size());
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (size_t t = 0; t < numels.size(); ++t) {
    AGF_CHECK(numels[t] >= 0, "{}: tensor {} has {} elements", what, t, numels[t]);
    const uint64_t end = offsets[t] + static_cast<uint64_t>(numels[t]);
    AGF_CHECK(end >= offsets[t], "{}: tensor {}'s counter range overflows 64 bits", what, t);
    if (numels[t] > 0) ranges.emplace_back(offsets[t], end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    AGF_CHECK(ranges[i].first >= ranges[i - 1].second, "{}: counter ranges [{}, {}) and [{}, {}) overlap", what,
              ranges[i - 1].first, ranges[i - 1].second, ranges[i].first, ranges[i].second);
}

void check_fused(const Tensor& param, const FusedGradient& g, const char* what) {
  AGF_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, "{}: param {} (f32 or f64 expected)", what,
            param.describe());
  AGF_CHECK(param.is_contiguous(), "{}: param {} must be contiguous", what, param.describe());
  if (g.g_fo.defined()) {
    AGF_CHECK(g.g_fo.shape() == param.shape() && g.g_fo.dtype() == param.dtype() &&
                  g.g_fo.device() == param.device(),
              "{}: the first-order gradient is {} but param is {} (same shape, dtype and device expected)", what,
              g.g_fo.describe(), param.describe());
    // Element i of g_fo is read at i: a strided gradient would need a copy of param's size, which this op exists to
    // avoid (leaf gradients are always contiguous).
    AGF_CHECK(g.g_fo.is_contiguous(), "{}: the first-order gradient {} must be contiguous", what, g.g_fo.describe());
  }
  AGF_CHECK(std::isfinite(g.fo_scale) && std::isfinite(g.zo_scale), "{}: scales ({}, {}) must be finite", what,
            g.fo_scale, g.zo_scale);
  AGF_CHECK(g.keep_threshold >= 0.0, "{}: keep threshold {} must be >= 0", what, g.keep_threshold);
  check_direction(g.direction, what);
  check_ranges({param.numel()}, {g.offset}, what);
}

}  // namespace

void spsa_perturb_(const std::vector<Tensor>& params, const std::vector<uint64_t>& offsets, const SpsaDirection& d,
                   double scale, int repeats) {
  constexpr const char* what = "spsa_perturb_";
  check_direction(d, what);
  AGF_CHECK(repeats >= 1, "{}: repeats {} must be >= 1", what, repeats);
  AGF_CHECK(std::isfinite(scale), "{}: scale {} is not finite", what, scale);
  std::vector<int64_t> numels;
  for (const Tensor& p : params) {
    AGF_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64, "{}: {} (f32 or f64 expected)", what,
              p.describe());
    AGF_CHECK(p.is_contiguous(), "{}: {} must be contiguous (parameters always are)", what, p.describe());
    AGF_CHECK(p.device() == params.front().device(), "{}: tensors on {} and {}", what, params.front().device(),
              p.device());
    numels.push_back(p.numel());
  }
  check_ranges(numels, offsets, what);
  if (params.empty()) return;
  for (const Tensor& p : params) p.storage()->bump_version();
  AGF_DISPATCH_BACKEND(params.front().device(), spsa_perturb(params, offsets, d, scale, repeats));
}

std::vector<double> spsa_sqnorms(const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets,
                                 const SpsaDirection& d, Device device) {
  check_direction(d, "spsa_sqnorms");
  check_ranges(numels, offsets, "spsa_sqnorms");
  if (planning()) return std::vector<double>(numels.size(), 1.0);
#ifdef AGF_WITH_CUDA
  if (device.is_cuda()) {
    require_device(device);
    return cuda::spsa_sqnorms(device.index, numels, offsets, d);
  }
#endif
  AGF_CHECK(device.is_cpu(), "spsa_sqnorms: device {} in a build without CUDA", device);
  return cpu::spsa_sqnorms(numels, offsets, d);
}

void fused_adamw_(const Tensor& param, const Tensor& m, const Tensor& v, const FusedGradient& g,
                  const AdamWArgs& args) {
  constexpr const char* what = "fused_adamw_";
  check_fused(param, g, what);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"m", &m}, {"v", &v}})
    AGF_CHECK(t->defined() && t->shape() == param.shape() && t->dtype() == param.dtype() &&
                  t->device() == param.device() && t->is_contiguous(),
              "{}: {} is {} but param is {} (contiguous, same shape, dtype and device expected)", what, name,
              t->defined() ? t->describe() : "absent", param.describe());
  AGF_CHECK(args.step >= 1, "{}: step {} (1-based) must be >= 1", what, args.step);
  AGF_CHECK(std::isfinite(args.lr) && args.lr >= 0, "{}: learning rate {} must be finite and >= 0", what, args.lr);
  for (const Tensor* t : {&param, &m, &v}) t->storage()->bump_version();
  AGF_DISPATCH_BACKEND(param.device(), fused_adamw(param, m, v, g, args));
}

double fused_gradient_kth_abs(int64_t numel, const FusedGradient& g, int64_t k, Device device) {
  constexpr const char* what = "fused_gradient_kth_abs";
  AGF_CHECK(k >= 1 && k <= numel, "{}: k = {} outside 1..{}", what, k, numel);
  if (g.g_fo.defined()) {
    AGF_CHECK(g.g_fo.numel() == numel && g.g_fo.is_contiguous(), "{}: the first-order gradient {} must be contiguous "
              "with {} elements", what, g.g_fo.describe(), numel);
    AGF_CHECK(g.g_fo.device() == device, "{}: the first-order gradient {} is not on {}", what, g.g_fo.describe(),
              device);
  }
  check_direction(g.direction, what);
  if (planning()) return 0.0;
#ifdef AGF_WITH_CUDA
  if (device.is_cuda()) {
    require_device(device);
    return cuda::fused_gradient_kth_abs(device.index, numel, g, k);
  }
#endif
  AGF_CHECK(device.is_cpu(), "{}: device {} in a build without CUDA", what, device);
  return cpu::fused_gradient_kth_abs(numel, g, k);
}

}  // namespace agf::ops
