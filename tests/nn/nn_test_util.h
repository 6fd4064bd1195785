#pragma once
// Helpers for the autograd and nn suites.
#include <doctest/doctest.h>

#include "autograd/gradcheck.h"
#include "tensor/random.h"

namespace agf::test {

// A float64 CPU leaf that requires grad, uniform in [lo, hi], seeded.
inline Tensor leaf64(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t = empty(shape, DType::f64);
  fill_uniform_(t, seed, 0, lo, hi);
  set_requires_grad(t, true);
  return t;
}

inline Tensor random_tensor(const Shape& shape, uint64_t seed, DType dt = DType::f32, double lo = -1.0,
                            double hi = 1.0) {
  Tensor t = empty(shape, dt);
  fill_uniform_(t, seed, 0, lo, hi);
  return t;
}

// Runs gradcheck and reports every line on failure.
inline void expect_gradcheck(const std::function<Tensor()>& f, const std::vector<Tensor>& inputs,
                             const std::vector<std::string>& names = {}, GradcheckOptions opt = {}) {
  const GradcheckResult r = gradcheck(f, inputs, names, opt);
  if (inputs.size() > 20) MESSAGE("gradcheck of ", inputs.size(), " tensors, ", r.checked, " elements: worst err/tol ", r.worst_ratio);
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked > 0);
}

}  // namespace agf::test
