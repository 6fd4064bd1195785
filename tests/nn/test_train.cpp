#include <doctest/doctest.h>

#include <cmath>

#include "nn/ecgnet.h"
#include "nn/losses.h"
#include "nn/optim.h"
#include "nn_test_util.h"

using namespace agf;
using namespace agf::nn;

TEST_CASE("losses: fusion loss = BCE(main) + w * BCE(aux, a(y)), a(y) ignores the normal class") {
  Tensor y = from_vector<float>({1, 0, 0, /**/ 0, 1, 0, /**/ 1, 1, 0, /**/ 0, 0, 0}, {4, 3});
  const auto a = abnormal_target(y, 0).to_vector<float>();
  CHECK(a == std::vector<float>{0, 1, 1, 0});
  Tensor main = from_vector<float>({0.5f, -1, 2, 0, 0, 0, 1, 1, 1, -2, -2, -2}, {4, 3});
  Tensor aux = from_vector<float>({0.3f, -0.2f, 1.5f, -3}, {4, 1});
  auto bce = [](double x, double t) { return std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x))); };
  const auto mv = main.to_vector<float>(), yv = y.to_vector<float>(), av = aux.to_vector<float>();
  double lm = 0, la = 0;
  for (int i = 0; i < 12; ++i) lm += bce(mv[i], yv[i]) / 12;
  for (int i = 0; i < 4; ++i) la += bce(av[i], a[i]) / 4;
  auto parts = fusion_loss(aux, main, y, 0.25, 0);
  CHECK(parts.main.item<double>() == doctest::Approx(lm).epsilon(1e-6));
  CHECK(parts.aux.item<double>() == doctest::Approx(la).epsilon(1e-6));
  CHECK(parts.total.item<double>() == doctest::Approx(lm + 0.25 * la).epsilon(1e-6));
  // Distillation at T = 2: soft targets sigmoid(t / 2).
  Tensor teacher = from_vector<float>({2, -2, 0, 4, 1, -1, 0, 0, 3, -3, 2, 2}, {4, 3});
  const auto tv = teacher.to_vector<float>();
  double ld = 0;
  for (int i = 0; i < 12; ++i) ld += (bce(mv[i], 1 / (1 + std::exp(-tv[i] / 2.0))) + bce(mv[i], yv[i])) / 12;
  CHECK(distillation_loss(aux, main, teacher, y, 2.0, 0.25, 0).item<double>() ==
        doctest::Approx(ld + 0.25 * la).epsilon(1e-6));
}

TEST_CASE("AdamW: three steps match a float64 transcription of torch.optim.AdamW") {
  Tensor p = from_vector<double>({0.5, -1.0, 2.0}, {3});
  set_requires_grad(p, true);
  AdamW opt({{"p", &p}}, AdamW::Options{0.9, 0.999, 1e-8, 0.01});
  double ref[3] = {0.5, -1.0, 2.0}, m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
  const double lr = 0.1;
  for (int step = 1; step <= 3; ++step) {
    zero_grad(p);
    backward(ag::sum(ag::mul(p, ag::mul(p, p))));  // grad 3 p^2
    for (int i = 0; i < 3; ++i) {
      const double g = 3 * ref[i] * ref[i];
      ref[i] *= 1 - lr * 0.01;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double mh = m[i] / (1 - std::pow(0.9, step)), vh = v[i] / (1 - std::pow(0.999, step));
      ref[i] -= lr * mh / (std::sqrt(vh) + 1e-8);
    }
    opt.step(lr);
  }
  const auto got = p.to_vector<double>();
  for (int i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-12));
}

TEST_CASE("AdamW: each parameter counts its own steps, and the state round-trips") {
  // q gets no gradient for two steps; its first update must then be a first step (bias corrections at t = 1).
  Tensor p = from_vector<double>({0.5}, {1}), q = from_vector<double>({0.5}, {1});
  set_requires_grad(p, true);
  set_requires_grad(q, true);
  AdamW opt({{"p", &p}, {"q", &q}}, AdamW::Options{0.9, 0.999, 1e-8, 0.0});
  for (int s = 0; s < 3; ++s) {
    zero_grad(p);
    zero_grad(q);
    if (s < 2) backward(ag::sum(p));
    else backward(ag::sum(ag::add(p, q)));
    opt.step(0.1);
  }
  // A first AdamW step moves a parameter by lr * g / (|g| + eps) = 0.1.
  CHECK(q.item<double>() == doctest::Approx(0.4).epsilon(1e-9));
  AdamW copy({{"p", &p}, {"q", &q}}, AdamW::Options{0.9, 0.999, 1e-8, 0.0});
  copy.load_state(opt.state(), opt.steps());
  CHECK(copy.steps() == 3);
  const auto st = copy.state();
  int64_t q_step = -1;
  for (auto& [n, t] : st)
    if (n == "q.step") q_step = t.item<int64_t>();
  CHECK(q_step == 1);
  NamedTensors partial;
  for (auto& [n, t] : opt.state())
    if (n != "p.exp_avg_sq") partial.emplace_back(n, t);
  CHECK_THROWS_WITH_AS(copy.load_state(partial, 3), doctest::Contains("optimizer state of 'p' is incomplete"), Error);
}

TEST_CASE("SGD with momentum and LR schedules: known values") {
  Tensor p = from_vector<double>({1.0}, {1});
  set_requires_grad(p, true);
  SGD sgd({{"p", &p}}, 0.9);
  double ref = 1.0, buf = 0;
  for (int s = 0; s < 3; ++s) {
    zero_grad(p);
    backward(ag::sum(ag::scale(ag::mul(p, p), 0.5)));  // grad p
    buf = s == 0 ? ref : 0.9 * buf + ref;
    ref -= 0.1 * buf;
    sgd.step(0.1);
  }
  CHECK(p.item<double>() == doctest::Approx(ref).epsilon(1e-14));
  LRSchedule lin(LRSchedule::Kind::warmup_linear, 1.0, 1000, 0.01);  // 10 warm-up steps
  CHECK(lin.at(0) == 0.0);  // as the reference: the first update runs at lr 0
  CHECK(lin.at(1) == doctest::Approx(0.1));
  CHECK(lin.at(9) == doctest::Approx(0.9));
  CHECK(lin.at(10) == doctest::Approx(1.0));
  CHECK(lin.at(505) == doctest::Approx(0.5));
  CHECK(lin.at(999) == doctest::Approx(1.0 / 990));
  LRSchedule cos(LRSchedule::Kind::cosine, 2.0, 110, 10.0 / 110);
  CHECK(cos.at(60) == doctest::Approx(1.0));
  CHECK(LRSchedule(LRSchedule::Kind::constant, 0.3, 5).at(4) == 0.3);
  CHECK_THROWS_WITH_AS(LRSchedule::parse("step"), doctest::Contains("unknown lr schedule 'step'"), Error);
}

TEST_CASE("training sanity: backprop + AdamW overfits 64 random ECG-shaped inputs on tinylight") {
  EcgNet net(preset_config("tinylight", 6, true), 3);
  Tensor x = agf::test::random_tensor({64, 12, 6144}, 4);
  Tensor y = empty({64, 6});
  {
    auto u = agf::test::random_tensor({64, 6}, 5, DType::f32, 0, 1);
    y = ops::greater_than(u, 0.6);  // random multi-labels, ~40% positive
  }
  AdamW opt(net.trainable_parameters(), AdamW::Options{0.9, 0.999, 1e-8, 0.0});
  double loss = 0;
  int step = 0;
  for (; step < 300; ++step) {
    net.zero_grad();
    auto out = net.forward(x);
    Tensor l = ag::bce_with_logits(out.main_logits, y);
    loss = l.item<double>();
    if (loss < 0.05) break;
    backward(l);
    opt.step(3e-3);
  }
  MESSAGE("tinylight overfit: mean BCE ", loss, " after ", step, " AdamW steps");
  CHECK(loss < 0.05);
  // The memorised labels: every one of the 384 predictions on the right side of 0.5.
  NoGradGuard ng;
  const auto pred = ops::greater_than(net.forward(x).main_logits, 0.0).to_vector<float>();
  CHECK(pred == y.to_vector<float>());
}
