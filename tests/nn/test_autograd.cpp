#include <doctest/doctest.h>

#include <cmath>
#include <tuple>

#include "autograd/functions.h"
#include "nn_test_util.h"

using namespace agf;
using agf::test::expect_gradcheck;
using agf::test::leaf64;

TEST_CASE("autograd: gradients of a small graph with shared subexpressions") {
  // f = sum(x * y + x) ; df/dx = y + 1, df/dy = x
  Tensor x = leaf64({2, 3}, 1), y = leaf64({2, 3}, 2);
  Tensor f = ag::sum(ag::add(ag::mul(x, y), x));
  backward(f);
  const auto gx = grad(x).to_vector<double>(), gy = grad(y).to_vector<double>();
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int i = 0; i < 6; ++i) {
    CHECK(gx[i] == doctest::Approx(yv[i] + 1.0).epsilon(1e-15));
    CHECK(gy[i] == doctest::Approx(xv[i]).epsilon(1e-15));
  }
  // A second backward accumulates into .grad.
  backward(ag::sum(ag::scale(x, 2.0)));
  CHECK(grad(x).to_vector<double>()[0] == doctest::Approx(yv[0] + 3.0).epsilon(1e-15));
}

TEST_CASE("autograd: NoGradGuard records nothing, detach cuts history, errors are clear") {
  Tensor x = leaf64({4}, 3);
  {
    NoGradGuard ng;
    Tensor y = ag::mul(x, x);
    CHECK(!requires_grad(y));
    CHECK_THROWS_WITH_AS(backward(ag::sum(y)), doctest::Contains("does not require grad"), Error);
  }
  Tensor y = ag::mul(x, x);
  CHECK(requires_grad(y));
  CHECK(!is_leaf(y));
  CHECK(!requires_grad(detach(y)));
  CHECK_THROWS_WITH_AS(set_requires_grad(y, true), doctest::Contains("only leaves"), Error);
  CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("not a scalar"), Error);
  Tensor s = ag::sum(y);
  backward(s, {}, /*retain_graph=*/true);
  backward(s);  // allowed: the graph was retained
  CHECK_THROWS_WITH_AS(backward(s), doctest::Contains("a second time"), Error);
}

TEST_CASE("autograd: the graph's saved tensors are freed by backward") {
  MemoryLedger& L = ledger(Device::cpu());
  Tensor x = leaf64({256, 256}, 4);
  const int64_t before = L.live(MemTag::activations);
  Tensor loss;
  {
    MemScope scope(MemTag::activations);
    Tensor h = ag::sigmoid(ag::matmul(x, x));  // saves x and the sigmoid output
    h = ag::mul(h, h);
    loss = ag::sum(h);
  }
  CHECK(L.live(MemTag::activations) - before >= 256 * 256 * 8);  // saved activations are alive
  backward(loss);
  CHECK(L.live(MemTag::activations) - before <= 8);  // only the 0-dim loss remains
}

TEST_CASE("gradcheck: element-wise ops, broadcasting, reductions") {
  Tensor a = leaf64({3, 4}, 10), b = leaf64({4}, 11, 0.5, 2.0), p = leaf64({3, 4}, 12, 0.2, 2.0);
  expect_gradcheck([&] { return ag::add(a, b); }, {a, b}, {"a", "b"});
  expect_gradcheck([&] { return ag::sub(a, b); }, {a, b}, {"a", "b"});
  expect_gradcheck([&] { return ag::mul(a, b); }, {a, b}, {"a", "b"});
  expect_gradcheck([&] { return ag::div(a, b); }, {a, b}, {"a", "b"});
  for (UnaryOp op : {UnaryOp::exp, UnaryOp::log, UnaryOp::sqrt, UnaryOp::sigmoid, UnaryOp::tanh, UnaryOp::square,
                     UnaryOp::reciprocal, UnaryOp::neg, UnaryOp::mul_scalar, UnaryOp::add_scalar, UnaryOp::pow_scalar}) {
    INFO(unary_op_name(op));
    expect_gradcheck([&] { return ag::unary(op, p, 1.5); }, {p});
  }
  expect_gradcheck([&] { return ag::leaky_relu(a, 0.01); }, {a});
  expect_gradcheck([&] { return ag::sum(a, {1}); }, {a});
  expect_gradcheck([&] { return ag::mean(a, {0}, true); }, {a});
  expect_gradcheck([&] { return ag::mean(a); }, {a});
  expect_gradcheck([&] { return ag::max(a, 1); }, {a});
}

TEST_CASE("gradcheck: shape ops and matrix products") {
  Tensor a = leaf64({2, 3, 4}, 20), m = leaf64({4, 5}, 21), w = leaf64({5, 4}, 22), bias = leaf64({5}, 23);
  expect_gradcheck([&] { return ag::reshape(ag::permute(a, {2, 0, 1}), {4, 6}); }, {a});
  expect_gradcheck([&] { return ag::narrow(ag::transpose(a, 0, 2), 1, 1, 2); }, {a});
  expect_gradcheck([&] { return ag::expand(ag::unsqueeze(m, 0), {3, 4, 5}); }, {m});
  expect_gradcheck([&] { return ag::cat({a, ag::scale(a, 2.0)}, 1); }, {a});
  expect_gradcheck([&] { return ag::matmul(a, m); }, {a, m}, {"a", "m"});
  expect_gradcheck([&] { return ag::matmul(m, a, true, true); }, {m, a}, {"m", "a"});
  expect_gradcheck([&] { return ag::linear(a, w, bias); }, {a, w, bias}, {"x", "w", "b"});
  expect_gradcheck([&] { return ag::linear_input_major(a, m, bias); }, {a, m, bias}, {"x", "w", "b"});
}

TEST_CASE("gradcheck: network ops") {
  Tensor x = leaf64({2, 3, 17}, 30), w = leaf64({4, 3, 5}, 31), b = leaf64({4}, 32);
  expect_gradcheck([&] { return ag::conv1d(x, w, b, {2, 2}); }, {x, w, b}, {"x", "w", "b"});
  expect_gradcheck([&] { return ag::avg_pool1d(x, 4, 4); }, {x});
  expect_gradcheck([&] { return ag::max_pool1d(x, 3, 2); }, {x});
  Tensor g = leaf64({3}, 33, 0.5, 1.5), be = leaf64({3}, 34);
  Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
  expect_gradcheck([&] { return ag::batch_norm(x, g, be, rm, rv, true, 0.1, 1e-5); }, {x, g, be}, {"x", "g", "b"});
  expect_gradcheck([&] { return ag::batch_norm(x, g, be, rm, rv, false, 0.1, 1e-5); }, {x, g, be}, {"x", "g", "b"});
  Tensor t = leaf64({2, 5, 8}, 35), lg = leaf64({8}, 36, 0.5, 1.5), lb = leaf64({8}, 37);
  expect_gradcheck([&] { return ag::layer_norm(t, lg, lb, 1e-5); }, {t, lg, lb}, {"x", "g", "b"});
  Tensor s = leaf64({2, 2, 6, 6}, 38, -3, 3);
  expect_gradcheck([&] { return ag::softmax(s, true); }, {s});
  expect_gradcheck([&] { return ag::softmax(s, false); }, {s});
  Tensor logits = leaf64({4, 6}, 39, -4, 4);
  Tensor y = empty({4, 6}, DType::f64);
  fill_uniform_(y, 40, 0, 0.0, 1.0);
  Tensor pw = full({6}, 2.5, DType::f64);
  expect_gradcheck([&] { return ag::bce_with_logits(logits, y, pw); }, {logits});
  expect_gradcheck([&] { return ag::bce_with_logits(logits, y, {}, ops::Reduction::none); }, {logits});
}

TEST_CASE("gradient gate: identity forward, per-sample masked backward") {
  Tensor x = leaf64({4, 3}, 50);
  Tensor mask = from_vector<double>({1, 0, 1, 0}, {4});
  Tensor y = ag::gradient_gate(x, mask);
  CHECK(y.to_vector<double>() == x.to_vector<double>());
  backward(ag::sum(ag::mul(y, y)));
  const auto g = grad(x).to_vector<double>(), xv = x.to_vector<double>();
  for (int b = 0; b < 4; ++b)
    for (int k = 0; k < 3; ++k) CHECK(g[b * 3 + k] == (b % 2 == 0 ? 2 * xv[b * 3 + k] : 0.0));
  // Where the gate is open it is the identity, so central differences agree with it; closed samples are checked
  // exactly above (their gradient is zero by design, not by differentiation).
  Tensor z = leaf64({4, 3}, 51);
  Tensor open = ones({4}, DType::f64);
  expect_gradcheck([&] { return ag::square(ag::gradient_gate(ag::tanh(z), open)); }, {z});
}

TEST_CASE("autograd: a saved tensor overwritten before backward is an error, not a wrong gradient") {
  Tensor w = leaf64({3, 4}, 60), x = leaf64({2, 3}, 61);
  Tensor loss = ag::sum(ag::matmul(x, w));  // matmul saves x and w
  {
    NoGradGuard ng;
    ops::perturb_(w, 5, 0, 1e-3);  // e.g. a perturbation or an optimizer step between forward and backward
  }
  CHECK_THROWS_WITH_AS(backward(loss), doctest::Contains("backward of matmul: a tensor saved for the gradient"), Error);
  Tensor ok = ag::sum(ag::matmul(x, w));
  backward(ok);  // a fresh forward after the write is fine
  CHECK(grad(x).defined());

  // The left operand is saved for the right one's gradient: overwriting it is caught the same way.
  Tensor a = leaf64({2, 3}, 62), b = leaf64({3, 4}, 63);
  Tensor loss_ab = ag::sum(ag::matmul(a, b));
  {
    NoGradGuard ng;
    ops::perturb_(a, 6, 0, 1e-3);
  }
  CHECK_THROWS_WITH_AS(backward(loss_ab), doctest::Contains("backward of matmul: a tensor saved for the gradient"),
                       Error);
}

TEST_CASE("batch norm on running statistics with a frozen gamma keeps no x: the same gradients") {
  // Eval mode, gamma frozen: grad_x = g gamma invstd and grad_beta = sum g do not read x, so the node does not keep
  // it; against a trainable gamma (which keeps x), the gradients must agree bit for bit.
  Tensor gamma = agf::test::random_tensor({6}, 31, DType::f64, 0.5, 1.5);
  Tensor mean = agf::test::random_tensor({6}, 32, DType::f64, -0.3, 0.3);
  Tensor var = agf::test::random_tensor({6}, 33, DType::f64, 0.5, 2.0);
  Tensor w = agf::test::random_tensor({4, 6, 40}, 34, DType::f64);
  const auto grads = [&](bool gamma_trains) {
    Tensor x = agf::test::leaf64({4, 6, 40}, 35);
    Tensor g = gamma.clone(), b = agf::test::leaf64({6}, 36);
    if (gamma_trains) set_requires_grad(g, true);
    MemoryLedger& L = ledger(Device::cpu());
    MemScope act(MemTag::activations);
    const int64_t before = L.live(MemTag::activations);
    Tensor loss;
    {
      // x through an op that keeps nothing, so that the batch norm's input is an intermediate only it could keep.
      Tensor xi = ag::scale(x, 1.0);
      Tensor h = ag::batch_norm(xi, g, b, mean, var, false, 0.1, 1e-5);
      loss = ag::sum(ag::mul(h, w));
    }
    const int64_t kept = L.live(MemTag::activations) - before;
    backward(loss);
    return std::make_tuple(grad(x).to_vector<double>(), grad(b).to_vector<double>(), kept);
  };
  const auto [gx_frozen, gb_frozen, kept_frozen] = grads(false);
  const auto [gx_train, gb_train, kept_train] = grads(true);
  CHECK(gx_frozen == gx_train);
  CHECK(gb_frozen == gb_train);
  // The batch norm's input (4 x 6 x 40 doubles) is kept only for a trainable gamma.
  CHECK(kept_train - kept_frozen >= int64_t{4} * 6 * 40 * 8);
  CHECK(kept_frozen > 0);  // the batch norm's output, kept by mul
  // grad_x against the formula, to the last bits.
  const auto gv = gamma.to_vector<double>(), mv = var.to_vector<double>(), wv = w.to_vector<double>();
  for (int64_t c = 0; c < 6; ++c) {
    const double scale = gv[c] / std::sqrt(mv[c] + 1e-5);
    for (int64_t i : {int64_t{0}, int64_t{39}})
      CHECK(gx_frozen[c * 40 + i] == doctest::Approx(wv[c * 40 + i] * scale).epsilon(1e-14));
  }
}
