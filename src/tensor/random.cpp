#include "tensor/random.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "tensor/philox.h"
#include "tensor/planning.h"

namespace agf {

uint64_t PhiloxStream::next_u64() {
  // Stream draws use a key derived from the seed so they never collide with element-wise draws on `seed` itself.
  const auto r = philox::block(seed_ ^ 0x5DEECE66DA3B9F1Full, counter_++);
  return (static_cast<uint64_t>(r.v[1]) << 32) | r.v[0];
}

double PhiloxStream::next_uniform() { return (static_cast<double>(next_u64() >> 11) + 1.0) * 0x1.0p-53; }

double PhiloxStream::next_normal() {
  const double u1 = next_uniform(), u2 = next_uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

uint64_t PhiloxStream::next_below(uint64_t n) {
  AGF_CHECK(n > 0, "next_below(0)");
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const uint64_t x = next_u64();
    if (x < limit) return x % n;
  }
}

nlohmann::json PhiloxStream::state() const { return {{"seed", seed_}, {"counter", counter_}}; }

PhiloxStream PhiloxStream::from_state(const nlohmann::json& j) {
  AGF_CHECK(j.is_object() && j.contains("seed") && j.contains("counter") && j.at("seed").is_number_unsigned() &&
                j.at("counter").is_number_unsigned(),
            "RNG state: expected an object with unsigned integers 'seed' and 'counter', got {}", j.dump());
  return PhiloxStream(j.at("seed").get<uint64_t>(), j.at("counter").get<uint64_t>());
}

namespace {
template <bool kNormal>
void fill_random(Tensor& t, uint64_t seed, uint64_t offset, double a, double b) {
  AGF_CHECK(is_floating(t.dtype()), "random fill of {}: a floating dtype is needed", t.describe());
  if (planning()) return;
  Tensor host = t.device().is_cpu() && t.is_contiguous() ? t : empty(t.shape(), t.dtype(), Device::cpu());
  host.storage()->bump_version();
  dispatch_float(host.dtype(), "random fill", [&]<typename scalar_t>() {
    auto* p = host.data<scalar_t>();
    const int64_t n = host.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t idx = offset + static_cast<uint64_t>(i);
      const double x = kNormal ? philox::normal(seed, idx) : philox::uniform(seed, idx);
      p[i] = static_cast<scalar_t>(kNormal ? a + b * x : a + (b - a) * x);
    }
  });
  if (!host.same(t)) t.copy_(host);
}
}  // namespace

void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean, double stddev) {
  fill_random<true>(t, seed, offset, mean, stddev);
}

void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double low, double high) {
  fill_random<false>(t, seed, offset, low, high);
}

}  // namespace agf
