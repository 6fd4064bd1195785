// The dataset chunk codec: shuffle + deflate streams that zlib (and so HDF5's deflate filter) decodes to the exact
// bytes, and level 1's block choice: as small as zlib's own level 1 on preprocessed ECGs, structure still coded.
#include <doctest/doctest.h>

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <random>

#include "dataset/chunk_codec.h"
#include "tensor/error.h"


using namespace agf::dataset;

namespace {

// zlib's inflate of `packed`, then the inverse of HDF5's shuffle.
std::vector<float> decode(const std::vector<uint8_t>& packed, size_t count) {
  std::vector<uint8_t> shuffled(count * 4);
  uLongf n = static_cast<uLongf>(shuffled.size());
  REQUIRE(uncompress(shuffled.data(), &n, packed.data(), static_cast<uLong>(packed.size())) == Z_OK);
  REQUIRE(n == shuffled.size());
  std::vector<float> out(count);
  auto* dst = reinterpret_cast<uint8_t*>(out.data());
  for (size_t i = 0; i < count; ++i)
    for (size_t b = 0; b < 4; ++b) dst[i * 4 + b] = shuffled[b * count + i];
  return out;
}

// zlib's compress2 at `level` over the shuffled bytes: what HDF5's own deflate filter would write.
size_t zlib_size(const std::vector<float>& x, int level) {
  std::vector<uint8_t> shuffled(x.size() * 4);
  shuffle4(x.data(), x.size(), shuffled.data());
  uLongf n = compressBound(static_cast<uLong>(shuffled.size()));
  std::vector<uint8_t> out(n);
  REQUIRE(compress2(out.data(), &n, shuffled.data(), static_cast<uLong>(shuffled.size()), level) == Z_OK);
  return n;
}

// 12 leads x 6144: a z-scored random walk over the first `filled` samples, zeros after (the end padding), one
// lead flat at a constant (a z-scored lead padded with zeros becomes a constant run).
std::vector<float> ecg_like(size_t filled, uint32_t seed) {
  const size_t t = 6144;
  std::vector<float> x(12 * t, 0.0f);
  std::mt19937 rng(seed);
  std::normal_distribution<double> step(0.0, 1.0);
  for (size_t l = 0; l < 12; ++l) {
    double v = 0, sum = 0, sumsq = 0;
    std::vector<double> w(filled);
    for (size_t s = 0; s < filled; ++s) {
      v += step(rng);
      w[s] = v;
      sum += v;
      sumsq += v * v;
    }
    const double mean = sum / static_cast<double>(filled);
    const double sd = std::sqrt(sumsq / static_cast<double>(filled) - mean * mean);
    for (size_t s = 0; s < filled; ++s) x[l * t + s] = static_cast<float>((w[s] - mean) / sd);
  }
  for (size_t s = 0; s < t; ++s) x[5 * t + s] = -0.731f;
  return x;
}

}  // namespace

TEST_CASE("chunk codec: every level decodes to the exact floats") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-5.0f, 5.0f);
  std::vector<std::vector<float>> inputs = {ecg_like(5000, 1), ecg_like(6144, 2), std::vector<float>(12 * 64, 0.0f)};
  std::vector<float> noise(7919);  // odd count, white noise
  for (float& v : noise) v = u(rng);
  inputs.push_back(noise);
  std::vector<float> steps(4000);  // few distinct values, long runs
  for (size_t i = 0; i < steps.size(); ++i) steps[i] = static_cast<float>(i / 500);
  inputs.push_back(steps);
  for (size_t k = 0; k < inputs.size(); ++k)
    for (int level : {1, 2, 6, 9}) {
      CAPTURE(k);
      CAPTURE(level);
      const auto& x = inputs[k];
      const auto packed = shuffle_deflate(x.data(), x.size(), level);
      const auto back = decode(packed, x.size());
      CHECK(std::memcmp(back.data(), x.data(), x.size() * 4) == 0);
      // An output buffer that starts at 16 bytes grows through every path (deflate, deflateParams) to the same
      // stream.
      CHECK(shuffle_deflate(x.data(), x.size(), level, 16) == packed);
    }
  CHECK_THROWS_AS(shuffle_deflate(noise.data(), noise.size(), 0), agf::Error);
}

TEST_CASE("chunk codec: level 1 is as small as zlib's level 1 on preprocessed ECGs; structure is still coded") {
  const auto x = ecg_like(5000, 7);
  const size_t ours = shuffle_deflate(x.data(), x.size(), 1).size(), theirs = zlib_size(x, 1);
  const double raw = static_cast<double>(x.size() * 4);
  MESSAGE("ECG-like record: level 1 ", ours / raw, " of raw, zlib's level 1 ", theirs / raw);
  CHECK(static_cast<double>(ours) <= 1.01 * static_cast<double>(theirs));
  CHECK(ours < 0.7 * raw);
  // Values on a coarse grid: the low bytes are mostly zero and a stored block would waste them.
  std::vector<float> grid(12 * 6144);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> level(-64, 64);
  for (float& v : grid) v = static_cast<float>(level(rng)) / 8.0f;
  const size_t grid_ours = shuffle_deflate(grid.data(), grid.size(), 1).size();
  CHECK(static_cast<double>(grid_ours) <= 1.05 * static_cast<double>(zlib_size(grid, 1)));
  CHECK(static_cast<double>(grid_ours) < 0.3 * static_cast<double>(grid.size() * 4));
}
