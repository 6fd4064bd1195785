#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <omp.h>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/philox.h"

namespace agf::cpu {

void perturb(const Tensor& param, uint64_t seed, uint64_t offset, double scale) {
  dispatch_float(param.dtype(), "perturb_", [&]<typename scalar_t>() {
    auto* p = static_cast<scalar_t*>(param.raw_data());
    const int64_t n = param.numel();
    const auto a = static_cast<scalar_t>(scale);
    // Blocks of 4 elements share one Philox call; a block straddling the tensor's start is handled by the
    // scalar path through philox::normal, which gives the same values.
    const int64_t head = std::min<int64_t>(n, (4 - static_cast<int64_t>(offset & 3)) & 3);
    for (int64_t i = 0; i < head; ++i) p[i] = math::perturb(p[i], a, philox::normal(seed, offset + i));
    const int64_t nblocks = (n - head) / 4;
#pragma omp parallel for schedule(static) if (nblocks > 4096)
    for (int64_t b = 0; b < nblocks; ++b) {
      const int64_t i0 = head + 4 * b;
      float z[4];
      philox::normals_from_block(philox::block(seed, (offset + static_cast<uint64_t>(i0)) >> 2), z);
      for (int k = 0; k < 4; ++k) p[i0 + k] = math::perturb(p[i0 + k], a, z[k]);
    }
    for (int64_t i = head + 4 * nblocks; i < n; ++i) p[i] = math::perturb(p[i], a, philox::normal(seed, offset + i));
  });
}

namespace {

// The direction d at the four global indices 4*block .. 4*block+3 (one Philox block per query, one more for its
// mask), accumulated in double so that a combination of queries is as exact for f64 parameters as for f32. With one
// query of weight 1 and no sparsity, d is z itself, bit for bit (0 + 1 * z).
void direction_block(const ops::SpsaDirection& dir, float sparsity, uint64_t block, double d[4]) {
  d[0] = d[1] = d[2] = d[3] = 0.0;
  for (const math::SpsaQuery& q : dir.queries) {
    float z[4];
    philox::normals_from_block(philox::block(q.seed, block), z);
    if (sparsity > 0.0f) {
      const philox::U32x4 u = philox::block(math::spsa_mask_seed(q.seed), block);
      for (int k = 0; k < 4; ++k)
        if (philox::u32_to_uniform(u.v[k]) < sparsity) z[k] = 0.0f;
    }
    for (int k = 0; k < 4; ++k) d[k] += static_cast<double>(q.weight) * static_cast<double>(z[k]);
  }
}

// The Philox blocks covering a tensor's counter range [offset, offset + n): element i is lane (offset + i) % 4 of
// block (offset + i) / 4, so the first and last blocks may be partly outside the tensor.
struct BlockRange {
  uint64_t first = 0;
  int64_t count = 0;
  BlockRange(int64_t n, uint64_t offset) {
    if (n <= 0) return;
    first = offset >> 2;
    count = static_cast<int64_t>(((offset + static_cast<uint64_t>(n) - 1) >> 2) - first + 1);
  }
};

// Calls body(i, d_i) for every element of the tensor, blocks in parallel (each element exactly once).
template <typename Body>
void for_each_direction_element(int64_t n, uint64_t offset, const ops::SpsaDirection& dir, Body&& body) {
  const BlockRange r(n, offset);
  const auto sparsity = static_cast<float>(dir.sparsity);
#pragma omp parallel for schedule(static) if (r.count > 4096)
  for (int64_t b = 0; b < r.count; ++b) {
    const uint64_t block = r.first + static_cast<uint64_t>(b);
    double d[4];
    direction_block(dir, sparsity, block, d);
    for (int k = 0; k < 4; ++k) {
      const uint64_t g = 4 * block + static_cast<uint64_t>(k);
      if (g < offset || g - offset >= static_cast<uint64_t>(n)) continue;
      body(static_cast<int64_t>(g - offset), d[k]);
    }
  }
}

// Fixed chunks of blocks reduced in parallel and merged in chunk order: the sum does not depend on the threads.
constexpr int64_t kChunkBlocks = 1 << 14;

template <typename PerBlock>
double deterministic_block_sum(int64_t n, uint64_t offset, PerBlock&& per_block) {
  const BlockRange r(n, offset);
  const int64_t nchunks = (r.count + kChunkBlocks - 1) / kChunkBlocks;
  std::vector<double> partial(static_cast<size_t>(std::max<int64_t>(nchunks, 1)), 0.0);
#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (int64_t c = 0; c < nchunks; ++c) {
    const int64_t b1 = std::min(r.count, (c + 1) * kChunkBlocks);
    double acc = 0.0;
    for (int64_t b = c * kChunkBlocks; b < b1; ++b) acc += per_block(r.first + static_cast<uint64_t>(b));
    partial[static_cast<size_t>(c)] = acc;
  }
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

// The lanes of `block` that fall inside [offset, offset + n).
inline bool lane_inside(uint64_t block, int k, int64_t n, uint64_t offset) {
  const uint64_t g = 4 * block + static_cast<uint64_t>(k);
  return g >= offset && g - offset < static_cast<uint64_t>(n);
}

}  // namespace

void spsa_perturb(const std::vector<Tensor>& params, const std::vector<uint64_t>& offsets,
                  const ops::SpsaDirection& dir, double scale, int repeats) {
  for (size_t t = 0; t < params.size(); ++t) {
    const Tensor& param = params[t];
    dispatch_float(param.dtype(), "spsa_perturb_", [&]<typename T>() {
      T* p = static_cast<T*>(param.raw_data());
      const auto a = static_cast<T>(scale);
      for_each_direction_element(param.numel(), offsets[t], dir,
                                 [&](int64_t i, double d) {
                                   T v = p[i];
                                   for (int r = 0; r < repeats; ++r) v = math::perturb(v, a, static_cast<T>(d));
                                   p[i] = v;
                                 });
    });
  }
}

std::vector<double> spsa_sqnorms(const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets,
                                 const ops::SpsaDirection& dir) {
  std::vector<double> out(numels.size(), 0.0);
  const auto sparsity = static_cast<float>(dir.sparsity);
  for (size_t t = 0; t < numels.size(); ++t) {
    const int64_t n = numels[t];
    const uint64_t offset = offsets[t];
    out[t] = deterministic_block_sum(n, offset, [&](uint64_t block) {
      double d[4];
      direction_block(dir, sparsity, block, d);
      double s = 0.0;
      for (int k = 0; k < 4; ++k)
        if (lane_inside(block, k, n, offset)) s += d[k] * d[k];
      return s;
    });
  }
  return out;
}

namespace {

// g_i of the fused gradient in the parameter's type: fo * g_fo[i] (+ zo * d_i when there is a ZO term), zeroed below
// the keep threshold. Without a ZO term no Philox is drawn and g = fo * g_fo exactly.
template <typename T>
struct FusedGradientReader {
  const T* gfo;
  T fo, zo, threshold;
  bool has_zo;
  T at(int64_t i, double d) const {
    T g = gfo ? fo * gfo[i] : T(0);
    if (has_zo) g = g + zo * static_cast<T>(d);
    return (g < threshold && -g < threshold) ? T(0) : g;
  }
};

template <typename T>
FusedGradientReader<T> fused_reader(const ops::FusedGradient& g, bool with_threshold) {
  return {g.g_fo.defined() ? static_cast<const T*>(g.g_fo.raw_data()) : nullptr, static_cast<T>(g.fo_scale),
          static_cast<T>(g.zo_scale), with_threshold ? static_cast<T>(g.keep_threshold) : T(0),
          g.zo_scale != 0.0 && !g.direction.queries.empty()};
}

// Calls body(i, g_i) for every element of a tensor of n elements, in parallel; d is regenerated only when needed.
template <typename T, typename Body>
void for_each_fused(int64_t n, const ops::FusedGradient& g, const FusedGradientReader<T>& rd, Body&& body) {
  if (rd.has_zo) {
    for_each_direction_element(n, g.offset, g.direction, [&](int64_t i, double d) { body(i, rd.at(i, d)); });
    return;
  }
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) body(i, rd.at(i, 0.0));
}

}  // namespace

void fused_adamw(const Tensor& param, const Tensor& m, const Tensor& v, const ops::FusedGradient& g,
                 const ops::AdamWArgs& a) {
  const math::AdamWScalars sc = math::adamw_scalars(a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.step);
  dispatch_float(param.dtype(), "fused_adamw_", [&]<typename T>() {
    T* pp = static_cast<T*>(param.raw_data());
    T* mp = static_cast<T*>(m.raw_data());
    T* vp = static_cast<T*>(v.raw_data());
    const T decay = static_cast<T>(sc.decay), b1 = static_cast<T>(sc.b1), omb1 = static_cast<T>(sc.one_minus_b1),
            b2 = static_cast<T>(sc.b2), omb2 = static_cast<T>(sc.one_minus_b2),
            step_size = static_cast<T>(sc.step_size), bc2_sqrt = static_cast<T>(sc.bc2_sqrt),
            eps = static_cast<T>(sc.eps);
    const FusedGradientReader<T> rd = fused_reader<T>(g, true);
    for_each_fused<T>(param.numel(), g, rd, [&](int64_t i, T gi) {
      math::adamw(pp[i], mp[i], vp[i], gi, decay, b1, omb1, b2, omb2, step_size, bc2_sqrt, eps);
    });
  });
}

double fused_gradient_kth_abs(int64_t numel, const ops::FusedGradient& g, int64_t k) {
  const DType dtype = g.g_fo.defined() ? g.g_fo.dtype() : DType::f32;
  // |g| as a non-negative float32: its bit pattern orders as the value does, so the k-th largest value is found one
  // byte of the pattern at a time, from the top: count the candidates per value of the next byte, keep the byte
  // whose bucket holds the k-th, and go on among those only. Four passes, each regenerating g.
  uint32_t prefix = 0, prefix_mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    // One histogram per thread (the element loops are parallel), summed afterwards: integer counts, exact.
    std::vector<std::array<int64_t, 256>> per_thread(static_cast<size_t>(omp_get_max_threads()));
    for (auto& h : per_thread) h.fill(0);
    dispatch_float(dtype, "grad_topk", [&]<typename T>() {
      for_each_fused<T>(numel, g, fused_reader<T>(g, false), [&](int64_t, T gi) {
        const float mag = std::fabs(static_cast<float>(gi));
        uint32_t bits;
        std::memcpy(&bits, &mag, sizeof bits);
        if ((bits & prefix_mask) == prefix) ++per_thread[static_cast<size_t>(omp_get_thread_num())][(bits >> shift) & 0xFFu];
      });
    });
    std::array<int64_t, 256> hist{};
    for (const auto& h : per_thread)
      for (size_t j = 0; j < 256; ++j) hist[j] += h[j];
    int bucket = 255;
    for (; bucket > 0 && hist[static_cast<size_t>(bucket)] < k; --bucket) k -= hist[static_cast<size_t>(bucket)];
    prefix |= static_cast<uint32_t>(bucket) << shift;
    prefix_mask |= 0xFFu << shift;
  }
  float value;
  std::memcpy(&value, &prefix, sizeof value);
  return static_cast<double>(value);
}

}  // namespace agf::cpu
