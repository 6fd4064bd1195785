// Runs the kernel regression harness under doctest: one test case per op, every shape of it checked forward
// (f32 and f64 against the float64 reference) and backward (finite differences), with guard bytes.
#include <doctest/doctest.h>

#include "common/test_util.h"
#include "kernels/harness.h"

namespace {

void run_op(const std::string& op, bool gpu) {
  const auto& cases = agf::kt::all_cases();
  int ran = 0;
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
    const auto& c = cases[i];
    if (c.op != op || c.perf_only || (gpu && !c.cuda)) continue;
    agf::kt::RunOptions opt;
    if (gpu) opt = {false, false, false, true};
    const auto outcome = agf::kt::run_case(c, i, opt);
    ++ran;
    INFO(c.op, " [", c.name, "]");
    for (const auto& line : outcome.lines) {
      INFO(line);
      CHECK(line.find("FAIL") == std::string::npos);
    }
    CHECK(outcome.ok);
  }
  if (!gpu) CHECK(ran >= 3);  // every op is exercised on at least three shapes
}

}  // namespace

TEST_CASE("kernel harness: every op on the CPU against float64 references") {
  for (const auto& op : agf::kt::op_names()) {
    SUBCASE(op.c_str()) { run_op(op, false); }
  }
}

AGF_GPU_TEST("kernel harness: CUDA against CPU") {
  for (const auto& op : agf::kt::op_names(/*cuda_only=*/true)) {
    SUBCASE(op.c_str()) { run_op(op, true); }
  }
}
