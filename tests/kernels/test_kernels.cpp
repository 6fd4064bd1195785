// Runs the kernel regression harness under doctest: one test case per op, every shape of it checked forward
// (f32 and f64 against the float64 reference) and backward (finite differences), with guard bytes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/test_util.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/harness.h"
#include "kernels/ops.h"
#include "tensor/random.h"
#ifdef AGF_WITH_CUDA
#include "kernels/flawed_kernel.h"
#include "tensor/cuda/launch_util.h"
#endif

namespace {

// Largest error of a against the float64 b, over b's largest magnitude.
double conv_rel_error(const agf::Tensor& a, const agf::Tensor& b) {
  const auto av = a.contiguous().to(agf::DType::f64).to_vector<double>();
  const auto bv = b.contiguous().to_vector<double>();
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < bv.size(); ++i) {
    err = std::max(err, std::abs(av[i] - bv[i]));
    scale = std::max(scale, std::abs(bv[i]));
  }
  return err / scale;
}

// Runs every correctness case of `op`; on a GPU, the CUDA kernels against the CPU ones, with the grid at its normal
// size and then capped at 2 blocks, so that every grid-stride (and block-stride) loop wraps even on small shapes.
void run_op(const std::string& op, bool gpu, agf::kt::BackendTable& table) {
  const auto& cases = agf::kt::all_cases();
  int ran = 0;
  for (int i = 0; i < static_cast<int>(cases.size()); ++i) {
    const auto& c = cases[i];
    if (c.op != op || c.perf_only) continue;
    agf::kt::RunOptions opt;
    if (gpu) opt = {false, false, false, true};
    for (const int64_t cap : gpu ? std::vector<int64_t>{0, 2} : std::vector<int64_t>{0}) {
#ifdef AGF_WITH_CUDA
      const int64_t saved = cap > 0 ? agf::cuda::set_grid_cap(cap) : agf::cuda::grid_cap();
#endif
      const auto outcome = agf::kt::run_case(c, i, opt);
#ifdef AGF_WITH_CUDA
      agf::cuda::set_grid_cap(saved);
#endif
      ++ran;
      if (gpu) table.add_cuda(c.op, outcome);
      else table.add_cpu(c.op, outcome.ok);
      INFO(c.op, " [", c.name, "]", cap > 0 ? " grid capped at 2 blocks" : "");
      for (const auto& line : outcome.lines) {
        INFO(line);
        CHECK(line.find("FAIL") == std::string::npos);
      }
      CHECK(outcome.ok);
    }
  }
  CHECK(ran >= 3);  // every op is exercised on at least three shapes
}

}  // namespace

TEST_CASE("kernel harness: every op on the CPU against float64 references") {
  agf::kt::BackendTable table;
  for (const auto& op : agf::kt::op_names()) {
    SUBCASE(op.c_str()) { run_op(op, false, table); }
  }
}

// Every op, every case, on CUDA: an op without a CUDA kernel fails here as "unsupported", never silently skipped.
AGF_GPU_TEST("kernel harness: CUDA against CPU, every op") {
  agf::kt::BackendTable table;
  for (const auto& op : agf::kt::op_names()) run_op(op, true, table);
  MESSAGE("op x backend:\n", table.str());
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

#ifdef AGF_WITH_CUDA
// y = 2x on the CPU through the op, on the GPU through a deliberately flawed kernel: the harness's GPU comparison
// must pass the sound kernel and catch each flaw, with the grid capped at 2 blocks of 256 threads for 1000 elements
// (the shape that makes a kernel without a grid-stride loop leave elements unwritten).
TEST_CASE("kernel harness: it catches a flawed CUDA kernel (no grid-stride loop, an overrun)" *
          doctest::skip(agf::test::no_gpu())) {
  using namespace agf;
  for (kt::CudaFlaw flaw : {kt::CudaFlaw::none, kt::CudaFlaw::no_grid_stride, kt::CudaFlaw::overrun}) {
    CAPTURE(static_cast<int>(flaw));
    kt::Case c;
    c.op = "selftest-cuda";
    c.name = "flawed doubling";
    c.inputs = {kt::InputSpec{{1000}}};
    c.forward = [flaw](const std::vector<Tensor>& in, kt::Guard& g) {
      Tensor out = g.out(in[0].shape(), in[0].dtype(), in[0].device());
      if (in[0].device().is_cpu()) {
        ops::unary_out(out, UnaryOp::mul_scalar, in[0], 2.0);
      } else {
        REQUIRE(kt::launch_flawed_double(out.data<float>(), in[0].data<float>(), 1000, flaw) == cudaSuccess);
      }
      return std::vector<Tensor>{out};
    };
    c.reference = [](const std::vector<kt::Ref>& in) {
      kt::Ref y(in[0].shape);
      for (int64_t i = 0; i < y.numel(); ++i) y.v[i] = 2.0 * in[0].v[i];
      return std::vector<kt::Ref>{y};
    };
    const int64_t saved = cuda::set_grid_cap(2);
    const kt::Outcome o = kt::run_case(c, 0, {false, false, false, true, false});  // float32 only
    cuda::set_grid_cap(saved);
    std::string lines;
    for (const auto& l : o.lines) lines += l + "\n";
    INFO(lines);
    CHECK(o.ok == (flaw == kt::CudaFlaw::none));
    CHECK((lines.find("guard byte") != std::string::npos) == (flaw == kt::CudaFlaw::overrun));
  }
}
#endif

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

// oneDNN's channels-last route (direct kernels on time-major chunks of records, reorders around them) against float64,
// forward and both backward passes, with the chunks capped so that a batch goes in several of them and a shorter
// last one: the weight gradient is summed over the chunks, each chunk's records land at their own offsets. Also on
// views that are not contiguous (the reorders read the caller's strides). The route must really run: a silent fall
// back to the plain route would check nothing new.
TEST_CASE("conv1d on oneDNN's channels-last route, in chunks of records, agrees with float64") {
#ifndef AGF_WITH_ONEDNN
  MESSAGE("built without oneDNN: nothing to check");
#else
  using namespace agf;
  struct Geometry {
    int64_t batch, cin, cout, t, k, stride, padding, cap;
    bool transposed_x;  // x and grad_y (B, T, C) tensors seen as (B, C, T)
    bool bias;
  };
  const Geometry geometries[] = {
      {5, 12, 64, 1024, 9, 4, 4, 2, false, true},   // block 0 conv1: chunks of 2, 2, 1
      {5, 64, 64, 256, 9, 1, 4, 2, false, false},   // conv2
      {3, 64, 64, 256, 9, 4, 4, 0, false, true},    // a stride-4 conv, the batch in one chunk
      {5, 32, 48, 150, 9, 1, 4, 2, true, true},     // time-major x and grad_y: chunks of 2, 2, 1
      {7, 16, 16, 33, 5, 2, 2, 4, false, false},    // odd lengths
  };
  for (const Geometry& g : geometries) {
    CAPTURE(g.cin);
    CAPTURE(g.t);
    CAPTURE(g.cap);
    Tensor base = g.transposed_x ? empty({g.batch, g.t, g.cin}) : empty({g.batch, g.cin, g.t});
    fill_normal_(base, 21, 0);
    const Tensor x = g.transposed_x ? base.transpose(1, 2) : base;
    Tensor w = empty({g.cout, g.cin, g.k}), bias = g.bias ? empty({g.cout}) : Tensor();
    fill_normal_(w, 22, 0);
    if (g.bias) fill_normal_(bias, 23, 0);
    const ops::Conv1dArgs args{g.stride, g.padding};
    const int64_t t_out = ops::conv1d_out_len(g.t, g.k, args);
    Tensor gy_base = g.transposed_x ? empty({g.batch, t_out, g.cout}) : empty({g.batch, g.cout, t_out});
    fill_normal_(gy_base, 24, 0);
    const Tensor gy = g.transposed_x ? gy_base.transpose(1, 2) : gy_base;
    const Tensor x64 = x.to(DType::f64), w64 = w.to(DType::f64), gy64 = gy.to(DType::f64);
    const Tensor y_ref = ops::conv1d(x64, w64, g.bias ? bias.to(DType::f64) : Tensor(), args);
    const Tensor gx_ref = ops::conv1d_backward_input(gy64, w64, g.t, args);
    const Tensor gw_ref = ops::conv1d_backward_weight(gy64, x64, g.k, args);

    const auto was = cpu::set_onednn_routes(cpu::OnednnRoutes::channels_last, g.cap);
    const int64_t runs = cpu::onednn_channels_last_runs();
    Tensor y = empty({g.batch, g.cout, t_out}), gx = empty({g.batch, g.cin, g.t}), gw = empty({g.cout, g.cin, g.k});
    gw.fill_(1e6);  // the first chunk must overwrite the gradient, not add to it
    CHECK(cpu::onednn_conv1d(y, x, w, bias, args, 0));
    CHECK(cpu::onednn_conv1d_backward_input(gx, gy, w, args, 0));
    CHECK(cpu::onednn_conv1d_backward_weight(gw, gy, x, args, 0));
    CHECK(cpu::onednn_channels_last_runs() == runs + 3);
    cpu::set_onednn_routes(was);
    // float32 sums of up to Cin*K (forward, backward input) or B*T_out (weight) products of unit normals.
    CHECK(conv_rel_error(y, y_ref) < 1e-5);
    CHECK(conv_rel_error(gx, gx_ref) < 1e-5);
    CHECK(conv_rel_error(gw, gw_ref) < 1e-5);
  }
  // The plain route is what `plain` asks for: the channels-last route does not run.
  const auto was = cpu::set_onednn_routes(cpu::OnednnRoutes::plain);
  const int64_t runs = cpu::onednn_channels_last_runs();
  Tensor x = empty({2, 64, 128}), w = empty({64, 64, 9}), y = empty({2, 64, 128});
  fill_normal_(x, 1, 0);
  fill_normal_(w, 2, 0);
  CHECK(cpu::onednn_conv1d(y, x, w, Tensor(), {1, 4}, 0));
  CHECK(cpu::onednn_channels_last_runs() == runs);
  cpu::set_onednn_routes(was);
#endif
}

// The oneDNN convolutions (float32) against im2col + BLAS in float32 and against float64 (im2col, the reference),
// forward and both backward passes, on EcgNet's own geometries and on views that are not contiguous. Where the build
// has oneDNN, its kernels must really take EcgNet's geometries: a silent fallback would compare im2col with itself.
TEST_CASE("conv1d through oneDNN agrees with im2col and with float64, forward and backward") {
  using namespace agf;
  struct Geometry {
    int64_t batch, cin, cout, t, k, stride, padding;
    int layout;  // 0 contiguous x, 1 x a transposed view of (B, T, C), 2 every other time step of a longer x
  };
  const Geometry geometries[] = {
      {3, 12, 64, 1024, 9, 4, 4, 0},   // block 0 conv1 (leads to width, stride 4)
      {3, 64, 64, 256, 9, 1, 4, 0},    // conv2
      {2, 96, 48, 200, 9, 4, 4, 0},    // a stride-4 conv1 of a wider block
      {4, 64, 64, 128, 1, 1, 0, 0},    // the 1x1 skip conv3
      {2, 32, 40, 150, 9, 1, 4, 1},    // time-major input
      {2, 16, 24, 301, 5, 2, 2, 2},    // strided time
      {1, 8, 4, 7, 9, 1, 4, 0},        // shorter than the kernel: padding only
  };
  for (const Geometry& g : geometries) {
    CAPTURE(g.cin);
    CAPTURE(g.t);
    CAPTURE(g.layout);
    Tensor base = g.layout == 1 ? empty({g.batch, g.t, g.cin})
                  : g.layout == 2 ? empty({g.batch, g.cin, 2 * g.t})
                                  : empty({g.batch, g.cin, g.t});
    fill_normal_(base, 11, 0);
    const Tensor x = g.layout == 1 ? base.transpose(1, 2)
                     : g.layout == 2 ? base.as_strided({g.batch, g.cin, g.t}, {g.cin * 2 * g.t, 2 * g.t, 2}, 0)
                                     : base;
    Tensor w = empty({g.cout, g.cin, g.k}), bias = empty({g.cout});
    fill_normal_(w, 12, 0);
    fill_normal_(bias, 13, 0);
    const ops::Conv1dArgs args{g.stride, g.padding};
    const int64_t t_out = ops::conv1d_out_len(g.t, g.k, args);
    Tensor gy = empty({g.batch, g.cout, t_out});
    fill_normal_(gy, 14, 0);

    const Tensor x64 = x.to(DType::f64), w64 = w.to(DType::f64), b64 = bias.to(DType::f64), gy64 = gy.to(DType::f64);
    const Tensor y_ref = ops::conv1d(x64, w64, b64, args);
    const Tensor gx_ref = ops::conv1d_backward_input(gy64, w64, g.t, args);
    const Tensor gw_ref = ops::conv1d_backward_weight(gy64, x64, g.k, args);

    // oneDNN's plain route, its default routing (the channels-last route at these widths), and im2col + BLAS.
    for (const auto route : {cpu::OnednnRoutes::plain, cpu::OnednnRoutes::automatic, cpu::OnednnRoutes::off}) {
      CAPTURE(static_cast<int>(route));
      const auto was = cpu::set_onednn_routes(route);
      const Tensor y = ops::conv1d(x, w, bias, args);
      const Tensor gx = ops::conv1d_backward_input(gy, w, g.t, args);
      const Tensor gw = ops::conv1d_backward_weight(gy, x, g.k, args);
      cpu::set_onednn_routes(was);
      // float32 sums of up to Cin*K (forward, backward input) or B*T_out (weight) products of unit normals.
      CHECK(conv_rel_error(y, y_ref) < 1e-5);
      CHECK(conv_rel_error(gx, gx_ref) < 1e-5);
      CHECK(conv_rel_error(gw, gw_ref) < 1e-5);
    }
#ifdef AGF_WITH_ONEDNN
    // Contiguous inputs are what EcgNet hands its convolutions, and oneDNN's optimised kernels take them all (views
    // go wherever it takes them; the loop above checked both paths on those).
    if (g.layout == 0) {
      for (const auto route : {cpu::OnednnRoutes::plain, cpu::OnednnRoutes::automatic}) {
        CAPTURE(static_cast<int>(route));
        const auto was = cpu::set_onednn_routes(route);
        Tensor y = empty({g.batch, g.cout, t_out}), gx = empty({g.batch, g.cin, g.t}),
               gw = empty({g.cout, g.cin, g.k});
        CHECK(cpu::onednn_conv1d(y, x, w, bias, args, 0));
        CHECK(cpu::onednn_conv1d_backward_input(gx, gy, w, args, 0));
        CHECK(cpu::onednn_conv1d_backward_weight(gw, gy, x, args, 0));
        CHECK(conv_rel_error(y, y_ref) < 1e-5);
        CHECK(conv_rel_error(gx, gx_ref) < 1e-5);
        CHECK(conv_rel_error(gw, gw_ref) < 1e-5);
        cpu::set_onednn_routes(was);
      }
    }
    // float64 never goes to oneDNN.
    Tensor y64 = empty(y_ref.shape(), DType::f64);
    CHECK_FALSE(cpu::onednn_conv1d(y64, x64, w64, b64, args, 0));
#endif
  }
}
