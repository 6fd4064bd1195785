#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "kernels/ops.h"
#include "tensor/philox.h"
#include "tensor/random.h"

using namespace agf;

TEST_CASE("philox4x32-10 matches the Random123 known-answer vectors") {
  // Random123 tests/kat_vectors (Salmon et al., SC'11): counter[4], key[2] -> output[4].
  struct Kat {
    philox::U32x4 ctr;
    uint32_t k0, k1;
    philox::U32x4 expect;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const auto& k : kats) {
    const auto r = philox::philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) CHECK(r.v[i] == k.expect.v[i]);
  }
}

TEST_CASE("philox normal: 10^6 draws have mean, variance and tails within 4 sigma") {
  const int64_t n = 1000000;
  double sum = 0, sumsq = 0;
  int64_t beyond2 = 0, beyond3 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double z = philox::normal(12345, static_cast<uint64_t>(i));
    sum += z;
    sumsq += z * z;
    beyond2 += std::fabs(z) > 2.0;
    beyond3 += std::fabs(z) > 3.0;
  }
  const double mean = sum / n, var = sumsq / n - mean * mean;
  CHECK(std::fabs(mean) < 4.0 / std::sqrt(double(n)));
  CHECK(std::fabs(var - 1.0) < 4.0 * std::sqrt(2.0 / n));
  // Two-sided tail probabilities of N(0,1): P(|z|>2) = 0.0455003, P(|z|>3) = 0.0026998.
  auto within = [n](int64_t count, double p) { return std::fabs(count - n * p) < 4.0 * std::sqrt(n * p * (1 - p)); };
  CHECK(within(beyond2, 0.0455003));
  CHECK(within(beyond3, 0.0026998));
}

TEST_CASE("philox uniform: in (0, 1], mean 1/2, variance 1/12") {
  const int64_t n = 1000000;
  double sum = 0, sumsq = 0, lo = 1, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = philox::uniform(99, static_cast<uint64_t>(i));
    sum += u;
    sumsq += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  CHECK(lo > 0.0);
  CHECK(hi <= 1.0);
  const double mean = sum / n, var = sumsq / n - mean * mean;
  CHECK(std::fabs(mean - 0.5) < 4.0 * std::sqrt(1.0 / 12.0 / n));
  CHECK(std::fabs(var - 1.0 / 12.0) < 4.0 * std::sqrt(1.0 / 180.0 / n));
}

TEST_CASE("philox normal(seed, i) is a pure function of (seed, i)") {
  // Element i of a tensor filled from offset o equals normal(seed, o + i), whatever the alignment.
  Tensor t = empty({37});
  fill_normal_(t, 7, 5);
  const auto v = t.to_vector<float>();
  for (int i = 0; i < 37; ++i) CHECK(v[i] == philox::normal(7, 5 + i));
  CHECK(philox::normal(7, 0) != philox::normal(8, 0));
}

TEST_CASE("run stream: reproducible, resumable from its JSON state") {
  PhiloxStream a(18);
  const uint64_t first = a.next_u64();
  a.next_u64();
  const auto state = a.state();
  const uint64_t third = a.next_u64();
  PhiloxStream b = PhiloxStream::from_state(state);
  CHECK(b.next_u64() == third);
  CHECK(PhiloxStream(18).next_u64() == first);
  for (int i = 0; i < 1000; ++i) CHECK(a.next_below(7) < 7);
  CHECK_THROWS_WITH_AS(PhiloxStream::from_state(nlohmann::json::object()), doctest::Contains("'seed'"), Error);
}

namespace {
float ulp_of(float x) {
  const float ax = std::fabs(x);
  return std::nextafter(ax, std::numeric_limits<float>::infinity()) - ax;
}
}  // namespace

TEST_CASE("perturb(+a), perturb(-2a), perturb(+a) returns every element within 4 ulp") {
  const int64_t n = 100003;  // odd: exercises the head/tail paths around the 4-wide Philox blocks
  for (uint64_t offset : {0ull, 3ull, (1ull << 40) + 1}) {
    for (double a : {1e-3, 1e-4, 0.5}) {
      Tensor theta = empty({n});
      fill_normal_(theta, 1, 0, 0.0, 0.05);
      const auto before = theta.to_vector<float>();
      ops::perturb_(theta, 4242, offset, a);
      const auto plus = theta.to_vector<float>();
      ops::perturb_(theta, 4242, offset, -2 * a);
      ops::perturb_(theta, 4242, offset, a);
      const auto after = theta.to_vector<float>();
      int64_t bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float z = philox::normal(4242, offset + i);
        // The first perturbation is exactly fma(a, z, theta): the kernel used the same z as the scalar path.
        if (plus[i] != std::fmaf(static_cast<float>(a), z, before[i])) ++bad;
        const float scale = std::max(std::fabs(before[i]), static_cast<float>(a) * std::fabs(z));
        if (std::fabs(after[i] - before[i]) > 4 * ulp_of(scale)) ++bad;
      }
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("perturb_ refuses a non-contiguous tensor: element i must be counter offset + i") {
  Tensor theta = empty({4, 6});
  fill_normal_(theta, 1, 0);
  const auto before = theta.to_vector<float>();
  CHECK_THROWS_WITH_AS(ops::perturb_(theta.transpose(0, 1), 7, 0, 1e-3), doctest::Contains("must be contiguous"),
                       Error);
  CHECK(theta.to_vector<float>() == before);
}
