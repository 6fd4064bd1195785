#include <doctest/doctest.h>

#include <cmath>

#include "tensor/tensor.h"

using namespace agf;

namespace {
Tensor iota(const Shape& s) {
  std::vector<float> v(static_cast<size_t>(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return from_vector(v, s);
}
}  // namespace

TEST_CASE("tensor: shape, strides, contiguity") {
  Tensor t = iota({2, 3, 4});
  CHECK(t.dim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(t.is_contiguous());
  CHECK(t.nbytes() == 96);
  CHECK(t.size(-1) == 4);
  CHECK_THROWS_WITH_AS(t.size(3), doctest::Contains("dim 3 out of range"), Error);
}

TEST_CASE("tensor: views share storage and index correctly") {
  Tensor t = iota({2, 3, 4});
  Tensor p = t.permute({2, 0, 1});  // (4, 2, 3)
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(!p.is_contiguous());
  CHECK(p.storage() == t.storage());
  // p[k][i][j] = t[i][j][k] = 12 i + 4 j + k
  auto pv = p.contiguous().to_vector<float>();
  CHECK(pv[(3 * 2 + 1) * 3 + 2] == 12 * 1 + 4 * 2 + 3);

  Tensor n = t.narrow(2, 1, 2);  // (2, 3, 2)
  CHECK(n.offset() == 1);
  CHECK(n.contiguous().to_vector<float>() == std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});

  Tensor s = t.slice(1, 0, 3, 2);  // rows 0 and 2
  CHECK(s.shape() == Shape{2, 2, 4});
  CHECK(s.select(0, 1).select(0, 1).to_vector<float>() == std::vector<float>{20, 21, 22, 23});

  Tensor u = t.unsqueeze(1);
  CHECK(u.shape() == Shape{2, 1, 3, 4});
  CHECK(u.squeeze(1).shape() == Shape{2, 3, 4});
  CHECK(iota({1, 5, 1}).squeeze().shape() == Shape{5});

  Tensor e = iota({3, 1}).expand({2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.contiguous().to_vector<float>()[4 * 2 + 3] == 2.0f);
  CHECK_THROWS_WITH_AS(iota({3, 2}).expand({3, 4}), doctest::Contains("cannot become 4"), Error);
}

TEST_CASE("tensor: view and reshape") {
  Tensor t = iota({4, 6});
  CHECK(t.view({2, -1, 3}).shape() == Shape{2, 4, 3});
  CHECK(t.view({2, -1, 3}).storage() == t.storage());
  Tensor tt = t.transpose(0, 1);  // (6, 4) non-contiguous
  CHECK_THROWS_WITH_AS(tt.view({24}), doctest::Contains("not expressible as a view"), Error);
  Tensor r = tt.reshape({24});  // copies
  CHECK(r.storage() != t.storage());
  CHECK(r.to_vector<float>()[1] == 6.0f);
  // A transposed view whose split keeps the strides stays a view.
  Tensor v = tt.reshape({3, 2, 4});
  CHECK(v.storage() == t.storage());
  CHECK_THROWS_WITH_AS(t.view({5, 5}), doctest::Contains("24 elements cannot take the shape (5, 5)"), Error);
  CHECK(t.flatten().shape() == Shape{24});
  CHECK(iota({2, 3, 4}).flatten(1).shape() == Shape{2, 12});
}

TEST_CASE("tensor: copy_ converts dtypes, broadcasts and writes through views") {
  Tensor d = zeros({2, 3}, DType::f64);
  Tensor src = iota({3});
  d.copy_(src);
  CHECK(d.to_vector<double>() == std::vector<double>{0, 1, 2, 0, 1, 2});
  Tensor t = zeros({3, 4});
  t.transpose(0, 1).narrow(0, 1, 1).copy_(full({1, 3}, 7.0));  // column 1 of t
  CHECK(t.to_vector<float>() == std::vector<float>{0, 7, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0});
  Tensor i = iota({4}).to(DType::i64);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(full({2}, -2.75).to(DType::i32).to_vector<int32_t>() == std::vector<int32_t>{-2, -2});
  CHECK(scalar_tensor(3.5, DType::f64).item<float>() == 3.5f);
  CHECK_THROWS_WITH_AS(zeros({2}).item<float>(), doctest::Contains("exactly one element"), Error);
  CHECK_THROWS_WITH_AS(zeros({2}, DType::f64).data<float>(), doctest::Contains("dtype f64"), Error);
}

TEST_CASE("tensor: clone is deep, fill_ writes strided views only") {
  Tensor t = iota({3, 3});
  Tensor c = t.clone();
  c.fill_(1.0);
  CHECK(t.to_vector<float>()[4] == 4.0f);
  t.slice(1, 0, 3, 2).fill_(-1.0);
  CHECK(t.to_vector<float>() == std::vector<float>{-1, 1, -1, -1, 4, -1, -1, 7, -1});
}

TEST_CASE("tensor: printing and descriptions") {
  CHECK(iota({2, 2}).describe() == "f32 (2, 2) cpu");
  CHECK(iota({2, 2}).to_string() == "Tensor(f32 (2, 2) cpu [[0, 1], [2, 3]])");
  CHECK(iota({20}).to_string(4).find("...") != std::string::npos);
  CHECK(Tensor().to_string() == "Tensor(undefined)");
}

TEST_CASE("tensor: bad arguments name the shapes at fault") {
  CHECK_THROWS_WITH_AS(broadcast_shapes({2, 3}, {4, 3}), doctest::Contains("(2, 3) and (4, 3)"), Error);
  CHECK_THROWS_WITH_AS(iota({2, 3}).permute({0, 0}), doctest::Contains("repeated"), Error);
  CHECK_THROWS_WITH_AS(iota({2, 3}).narrow(1, 2, 2), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(empty({-1}), doctest::Contains("(-1,)"), Error);
  CHECK_THROWS_WITH_AS(parse_device("tpu"), doctest::Contains("unknown device 'tpu'"), Error);
  CHECK_THROWS_WITH_AS(parse_dtype("float8"), doctest::Contains("unknown dtype 'float8'"), Error);
  CHECK(parse_device("cuda:1") == Device::cuda(1));
  // A 0-dim tensor has no dim 0 or -1 to index.
  Tensor s = scalar_tensor(3.0);
  CHECK_THROWS_WITH_AS(s.size(0), doctest::Contains("dim 0 out of range for a tensor of 0 dims"), Error);
  CHECK_THROWS_WITH_AS(s.select(0, 0), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(s.narrow(-1, 0, 1), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(s.transpose(0, 0), doctest::Contains("out of range"), Error);
  CHECK(s.unsqueeze(0).shape() == Shape{1});
}

TEST_CASE("shape: sizes from a shape are computed with checked arithmetic") {
  constexpr int64_t k2_62 = int64_t{1} << 62;
  CHECK(contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
  CHECK(contiguous_strides({2, 0, 4}) == Shape{4, 4, 1});  // a zero dim strides as a one
  CHECK(contiguous_strides({}).empty());
  CHECK(shape_numel({}) == 1);
  CHECK(shape_nbytes({2, 3}, 8) == 48);
  // No elements, yet the strides of its other dims are 2^64 and 4: a tensor of this shape cannot exist.
  const Shape hostile{0, k2_62, 4};
  CHECK(shape_numel(hostile) == 0);
  CHECK(shape_nbytes(hostile, 4) == 0);
  CHECK(!shape_fits(hostile, 4));
  CHECK_THROWS_WITH_AS(contiguous_strides(hostile),
                       doctest::Contains("shape (0, 4611686018427387904, 4): its contiguous strides overflow"), Error);
  CHECK_THROWS_WITH_AS(empty(hostile), doctest::Contains("(0, 4611686018427387904, 4)"), Error);
  // Zero dims last: the strides (4, 1, 1) fit, and the element count is 0 although 2^62 x 4 overflows.
  CHECK(shape_fits({k2_62, 4, 0}, 8));
  CHECK(contiguous_strides({k2_62, 4, 0}) == Shape{4, 1, 1});
  CHECK(shape_numel({k2_62, 4, 0}) == 0);
  // Elements, bytes: the largest that fit, and one past.
  CHECK(shape_numel({k2_62, 1}) == k2_62);
  CHECK_THROWS_WITH_AS(shape_numel({k2_62, 2}), doctest::Contains("element count overflows"), Error);
  CHECK(!shape_fits({k2_62, 2}, 1));
  CHECK(shape_nbytes({int64_t{1} << 60}, 4) == k2_62);
  CHECK(shape_fits({int64_t{1} << 60}, 4));
  CHECK_THROWS_WITH_AS(shape_nbytes({int64_t{1} << 61}, 4), doctest::Contains("elements of 4 bytes overflow"), Error);
  CHECK(!shape_fits({int64_t{1} << 61}, 4));
  CHECK(!shape_fits({2, -1}, 4));
  CHECK(shape_fits({}, 8));
}

TEST_CASE("tensor: CUDA requests without a device fail with the reason") {
  if (cuda_available()) return;
  CHECK_THROWS_WITH_AS(zeros({2}, DType::f32, Device::cuda(0)), doctest::Contains("CUDA"), Error);
  CHECK(!cuda_unavailable_reason().empty());
}
