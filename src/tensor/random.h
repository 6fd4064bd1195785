#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>

#include "tensor/tensor.h"

namespace agf {

// The run-level random stream: a seed and a position, so it can be saved in a checkpoint and resumed exactly.
// Draws consume whole Philox blocks of (seed, counter); element-wise draws use philox::normal/uniform directly.
class PhiloxStream {
 public:
  explicit PhiloxStream(uint64_t seed = 0, uint64_t counter = 0) : seed_(seed), counter_(counter) {}
  uint64_t next_u64();           // e.g. a step seed
  double next_uniform();          // (0, 1], 53 bits
  double next_normal();
  uint64_t next_below(uint64_t n);  // uniform integer in [0, n), without modulo bias

  uint64_t seed() const { return seed_; }
  uint64_t counter() const { return counter_; }
  nlohmann::json state() const;
  static PhiloxStream from_state(const nlohmann::json& j);

 private:
  uint64_t seed_, counter_;
};

// Element-wise fills, pure functions of (seed, offset + linear index) in row-major order; any device.
void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean = 0.0, double stddev = 1.0);
void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double low = 0.0, double high = 1.0);

}  // namespace agf
