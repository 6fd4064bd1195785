#pragma once
// Central-difference gradient checks in float64, for ops, layers and whole networks.
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"

namespace agf {

struct GradcheckOptions {
  double eps = 1e-6;            // central-difference step (scaled by max(1, |x|))
  double rtol = 1e-5;           // |analytic - numeric| <= rtol * (|numeric| + atol_frac * max|numeric|)
  double atol_frac = 1e-3;
  int64_t max_samples = 64;     // elements checked per input (spread over the tensor); -1 = all
  uint64_t seed = 1234;         // for the random output weighting
};

struct GradcheckResult {
  bool ok = true;
  double worst_ratio = 0;       // worst |err| / tolerance over all checked elements
  int64_t checked = 0;
  std::string report;           // one line per input: name, worst error and where
};

// f(inputs) -> any tensor; the checked scalar is sum(f(inputs) * w) for a fixed random w. `inputs` are float64
// CPU leaves that require grad; each is perturbed in place and restored. names label the report lines.
GradcheckResult gradcheck(const std::function<Tensor()>& f, const std::vector<Tensor>& inputs,
                          const std::vector<std::string>& names = {}, const GradcheckOptions& opt = {});

}  // namespace agf
