// Runs the kernel regression harness under doctest: one test case per op, every shape of it checked forward
// (f32 and f64 against the float64 reference) and backward (finite differences), with guard bytes.
#include <doctest/doctest.h>

#include <cstring>

#include "common/test_util.h"
#include "kernels/harness.h"
#include "kernels/ops.h"
#include "tensor/random.h"

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

namespace {

enum class Flaw { none, out_of_bounds, unwritten, wrong_value, wrong_gradient };

// y = 2x through a real kernel, then the flaw: the harness must pass the sound version and fail every flawed one.
agf::kt::Case doubling_case(Flaw flaw) {
  using namespace agf;
  kt::Case c;
  c.op = "selftest";
  c.name = "flaw " + std::to_string(static_cast<int>(flaw));
  c.inputs = {kt::InputSpec{{3, 7}, kt::Layout::transposed}};
  c.forward = [flaw](const std::vector<Tensor>& in, kt::Guard& g) {
    Tensor out = g.out(in[0].shape(), in[0].dtype(), in[0].device());
    ops::unary_out(out, UnaryOp::mul_scalar, in[0], 2.0);
    auto* bytes = static_cast<unsigned char*>(out.raw_data());
    const size_t es = out.element_size();
    if (flaw == Flaw::out_of_bounds) std::memset(bytes + out.nbytes(), 0, es);  // one element past the end
    if (flaw == Flaw::unwritten) {
      Tensor fresh = g.out(in[0].shape(), in[0].dtype(), in[0].device());  // poisoned, never written
      fresh.narrow(0, 0, 2).copy_(out.narrow(0, 0, 2));
      return std::vector<Tensor>{fresh};
    }
    if (flaw == Flaw::wrong_value) {
      Tensor last = out.narrow(0, 2, 1);
      last.copy_(ops::scale(last, 1.001));
    }
    return std::vector<Tensor>{out};
  };
  c.reference = [](const std::vector<kt::Ref>& in) {
    kt::Ref y(in[0].shape);
    for (int64_t i = 0; i < y.numel(); ++i) y.v[i] = 2.0 * in[0].v[i];
    return std::vector<kt::Ref>{y};
  };
  c.backward = [flaw](const std::vector<Tensor>&, const std::vector<Tensor>& gy, kt::Guard&) {
    return std::vector<Tensor>{ops::scale(gy[0], flaw == Flaw::wrong_gradient ? 2.02 : 2.0)};
  };
  return c;
}

}  // namespace

TEST_CASE("kernel harness: it catches an out-of-bounds write, an unwritten element, a wrong value or gradient") {
  CHECK(agf::kt::run_case(doubling_case(Flaw::none), 0, {}).ok);
  for (Flaw flaw : {Flaw::out_of_bounds, Flaw::unwritten, Flaw::wrong_value, Flaw::wrong_gradient}) {
    CAPTURE(static_cast<int>(flaw));
    const auto outcome = agf::kt::run_case(doubling_case(flaw), 0, {});
    CHECK(!outcome.ok);
    std::string failures;
    for (const auto& line : outcome.lines)
      if (line.find("FAIL") != std::string::npos) failures += line + "\n";
    INFO(failures);
    // Each flaw fails its own check: the guard for the overrun, the comparisons for the rest.
    const bool guard = failures.find("guard byte") != std::string::npos;
    CHECK(guard == (flaw == Flaw::out_of_bounds));
    CHECK((failures.find("finite differences") != std::string::npos) == (flaw == Flaw::wrong_gradient));
  }
}

// conv1d_pair_out (a frozen weight and its LoRA down-projection from one im2col) against two conv1d calls: the same
// GEMMs on the same columns, so bit for bit, whatever the geometry (strided, padded, pointwise, many batch chunks).
TEST_CASE("conv1d_pair_out gives each output bit for bit as conv1d alone") {
  using namespace agf;
  struct Geometry {
    int64_t batch, cin, cout, r, t, k, stride, padding;
  };
  for (const Geometry g : {Geometry{3, 5, 7, 2, 40, 9, 1, 4}, Geometry{2, 12, 16, 4, 256, 9, 4, 4},
                           Geometry{4, 6, 8, 3, 33, 1, 1, 0}, Geometry{64, 32, 32, 4, 384, 9, 1, 4}}) {
    CAPTURE(g.batch);
    CAPTURE(g.k);
    Tensor x = empty({g.batch, g.cin, g.t}), w = empty({g.cout, g.cin, g.k}), bias = empty({g.cout}),
           a = empty({g.r, g.cin, g.k});
    fill_normal_(x, 1, 0);
    fill_normal_(w, 2, 0);
    fill_normal_(bias, 3, 0);
    fill_normal_(a, 4, 0);
    const ops::Conv1dArgs args{g.stride, g.padding};
    const Tensor y_ref = ops::conv1d(x, w, bias, args), h_ref = ops::conv1d(x, a, Tensor(), args);
    Tensor y = empty(y_ref.shape()), h = empty(h_ref.shape());
    ops::conv1d_pair_out(y, h, x, w, bias, a, args);
    CHECK(y.to_vector<float>() == y_ref.to_vector<float>());
    CHECK(h.to_vector<float>() == h_ref.to_vector<float>());
  }
  // A second weight whose kernel does not match is refused by name.
  Tensor x = empty({1, 3, 16}), w = empty({4, 3, 3}), a = empty({2, 3, 5});
  Tensor y = empty({1, 4, 16}), h = empty({1, 2, 16});
  CHECK_THROWS_WITH_AS(ops::conv1d_pair_out(y, h, x, w, Tensor(), a, {1, 1}),
                       doctest::Contains("another kernel size"), Error);
}
