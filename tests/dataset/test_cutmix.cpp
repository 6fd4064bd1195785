// CutMix: the Beta sampler's moments, the box copied from the partner and nothing else, labels mixed by the exact
// area fraction, determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "dataset/cutmix.h"
#include "tensor/error.h"

using namespace agf;

using namespace agf::dataset;

namespace {

Tensor numbered_batch(int64_t b, int64_t leads, int64_t t) {
  Tensor x = empty({b, leads, t}, DType::f32);
  float* p = x.data<float>();
  for (int64_t i = 0; i < b * leads * t; ++i) p[i] = static_cast<float>(i);
  return x;
}

Tensor onehot_labels(int64_t b, int64_t k) {
  Tensor y = zeros({b, k}, DType::f32);
  for (int64_t i = 0; i < b; ++i) y.data<float>()[i * k + i % k] = 1.0f;
  return y;
}

}  // namespace

TEST_CASE("cutmix: Gamma and Beta samplers have the right moments") {
  PhiloxStream rng(99);
  const int n = 200000;
  for (double shape : {0.75, 1.75, 5.0}) {
    CAPTURE(shape);
    double s = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
      const double g = sample_gamma(rng, shape);
      s += g;
      s2 += g * g;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    CHECK(mean == doctest::Approx(shape).epsilon(0.01));  // Gamma(a, 1): mean a, variance a
    CHECK(var == doctest::Approx(shape).epsilon(0.03));
  }
  // Beta(0.75, 0.75): mean 1/2, variance ab / ((a+b)^2 (a+b+1)) = 0.5625 / (2.25 * 2.5) = 0.1.
  double s = 0, s2 = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double v = sample_beta(rng, 0.75, 0.75);
    s += v;
    s2 += v * v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const double mean = s / n, var = s2 / n - mean * mean;
  MESSAGE("Beta(0.75, 0.75) over " << n << " draws: mean " << mean << ", variance " << var);
  CHECK(std::abs(mean - 0.5) < 0.003);   // standard error 0.0007
  CHECK(std::abs(var - 0.1) < 0.0015);
  CHECK(lo >= 0.0);
  CHECK(hi <= 1.0);
  CHECK_THROWS_AS(sample_gamma(rng, 0.0), Error);
}

TEST_CASE("cutmix: the box holds the partner's values, the rest is unchanged, labels mix by the area fraction") {
  const int64_t b = 6, leads = 12, t = 500, k = 4;
  int boxes_with_area = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    CAPTURE(seed);
    Tensor x = numbered_batch(b, leads, t), y = onehot_labels(b, k);
    const Tensor x0 = x.clone(), y0 = y.clone();
    PhiloxStream rng(seed);
    const CutMixBox box = cutmix_(x, y, rng);
    REQUIRE(box.partner.size() == static_cast<size_t>(b));
    std::vector<int64_t> sorted = box.partner;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> identity(b);
    std::iota(identity.begin(), identity.end(), int64_t{0});
    CHECK(sorted == identity);  // a permutation

    // The box as the CutMix paper draws it: sides sqrt(1 - lambda) of each axis, clipped.
    CHECK(box.lambda >= 0.0);
    CHECK(box.lambda <= 1.0);
    CHECK(box.time_end - box.time_begin <= static_cast<int64_t>(t * std::sqrt(1 - box.lambda)));
    CHECK(box.lead_end - box.lead_begin <= static_cast<int64_t>(leads * std::sqrt(1 - box.lambda)));
    const double area = static_cast<double>((box.time_end - box.time_begin) * (box.lead_end - box.lead_begin));
    CHECK(box.area_fraction == area / (leads * t));
    boxes_with_area += area > 0;

    const float* p = x.data<float>();
    const float* p0 = x0.data<float>();
    int64_t wrong = 0;
    for (int64_t i = 0; i < b; ++i)
      for (int64_t l = 0; l < leads; ++l)
        for (int64_t s = 0; s < t; ++s) {
          const bool inside = l >= box.lead_begin && l < box.lead_end && s >= box.time_begin && s < box.time_end;
          const int64_t src = inside ? box.partner[static_cast<size_t>(i)] : i;
          wrong += p[(i * leads + l) * t + s] != p0[(src * leads + l) * t + s];
        }
    CHECK(wrong == 0);

    const float* q = y.data<float>();
    const float* q0 = y0.data<float>();
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t pi = box.partner[static_cast<size_t>(i)];
        const float expect = static_cast<float>((1.0 - box.area_fraction) * q0[i * k + j] +
                                                box.area_fraction * q0[pi * k + j]);
        CHECK(q[i * k + j] == expect);
      }
    // Each row of y still sums to 1 (both one-hot rows weighted by 1 - f and f).
    for (int64_t i = 0; i < b; ++i) CHECK(q[i * k] + q[i * k + 1] + q[i * k + 2] + q[i * k + 3] == doctest::Approx(1.0));
  }
  CHECK(boxes_with_area > 20);  // most draws cut something
}

TEST_CASE("cutmix: a box clipped at the edge mixes labels by the clipped area") {
  CutMixBox box;
  box.lead_begin = 10;
  box.lead_end = 12;
  box.time_begin = 0;
  box.time_end = 25;
  box.area_fraction = 2.0 * 25.0 / (12.0 * 100.0);
  box.partner = {1, 0};
  Tensor x = numbered_batch(2, 12, 100), y = onehot_labels(2, 2);
  apply_cutmix_(x, y, box);
  CHECK(y.to_vector<float>() == std::vector<float>{static_cast<float>(1 - box.area_fraction),
                                                   static_cast<float>(box.area_fraction),
                                                   static_cast<float>(box.area_fraction),
                                                   static_cast<float>(1 - box.area_fraction)});
  CHECK(x.data<float>()[11 * 100 + 24] == static_cast<float>(12 * 100 + 11 * 100 + 24));
  CHECK(x.data<float>()[11 * 100 + 25] == static_cast<float>(11 * 100 + 25));
}

TEST_CASE("cutmix: the same seed gives the same batch; another seed another") {
  auto run = [](uint64_t seed) {
    Tensor x = numbered_batch(8, 12, 256), y = onehot_labels(8, 3);
    PhiloxStream rng(seed);
    cutmix_(x, y, rng);
    cutmix_(x, y, rng);  // the stream moves on: two draws in a row differ
    return std::make_pair(x.to_vector<float>(), y.to_vector<float>());
  };
  CHECK(run(5) == run(5));
  CHECK(run(5) != run(6));
  Tensor bad = zeros({2, 12}, DType::f32), y = zeros({2, 3}, DType::f32);
  PhiloxStream rng(1);
  CHECK_THROWS_WITH_AS(cutmix_(bad, y, rng), doctest::Contains("(B, leads, T)"), Error);
}
