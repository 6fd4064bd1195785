// Activation checkpointing (autograd/checkpoint.h): the recomputed backward must give the plain backward's gradients
// (bit for bit on the CPU), leave BatchNorm's running statistics as one forward does, pass the gradient on to the
// segment's input, and hold less memory.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "nn/ecgnet.h"
#include "nn/losses.h"
#include "nn_test_util.h"

using namespace agf;
using namespace agf::nn;

namespace {

double max_rel_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  REQUIRE(va.size() == vb.size());
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < va.size(); ++i) scale = std::max(scale, std::abs(vb[i]));
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  return scale > 0 ? worst / scale : worst;
}

struct Backward {
  double loss = 0.0;
  std::vector<std::pair<std::string, Tensor>> grads;  // every parameter with a gradient
  std::vector<std::pair<std::string, Tensor>> buffers;
  Tensor grad_x;
};

// One forward + backward of a float64 tinylight with LoRA r=4 (non-zero B), every parameter trainable, the input a
// leaf too. `training`: BatchNorm on batch statistics (updating the running ones), else running statistics.
Backward run(bool checkpointing, bool training, bool frozen_backbone,
            const std::vector<std::string>& trainable_override = {}, bool input_grad = true) {
  EcgNet net(preset_config("tinylight", 6, true), 7);
  net.enable_lora({4, 4.0}, 8);
  net.to(DType::f64);
  {
    NoGradGuard ng;
    uint64_t s = 100;
    for (auto& [n, t] : net.named_parameters())
      if (n.find("lora_B") != std::string::npos) fill_uniform_(*t, s++, 0, -0.05, 0.05);
    // Running statistics away from (0, 1), so that eval mode is not the identity.
    for (auto& [n, t] : net.named_buffers()) {
      if (n.find("running_mean") != std::string::npos) fill_uniform_(*t, s++, 0, -0.2, 0.2);
      if (n.find("running_var") != std::string::npos) fill_uniform_(*t, s++, 0, 0.5, 1.5);
    }
  }
  if (!trainable_override.empty())
    net.set_trainable(trainable_override);
  else if (frozen_backbone)
    net.set_trainable(EcgNet::finetune_patterns());
  else
    net.set_trainable({"*"});
  net.train(training);
  net.set_gradient_checkpointing(checkpointing);
  Tensor x = agf::test::leaf64({3, 12, 512}, 9);
  if (!input_grad) set_requires_grad(x, false);
  Tensor y = from_vector<double>({1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0}, {3, 6});
  auto out = net.forward(x);
  Tensor loss = fusion_loss(out.aux_logit, out.main_logits, y, 0.5, 0).total;
  out = EcgNetOutput();
  Backward r;
  r.loss = loss.item<double>();
  backward(loss);
  for (auto& [n, t] : net.named_parameters())
    if (grad(*t).defined()) r.grads.emplace_back(n, grad(*t));
  for (auto& [n, t] : net.named_buffers()) r.buffers.emplace_back(n, t->clone());
  r.grad_x = grad(x);
  return r;
}

}  // namespace

TEST_CASE("gradient checkpointing: EcgNet's gradients are the plain backward's (float64, BatchNorm both ways)") {
  for (bool training : {false, true})
    for (bool frozen : {false, true}) {
      CAPTURE(training);
      CAPTURE(frozen);
      const Backward plain = run(false, training, frozen), ckpt = run(true, training, frozen);
      // The checkpointed forward runs without a graph (in-place activations, the LoRA convolution's fused path) and
      // still computes the same values, bit for bit on the CPU.
      CHECK(ckpt.loss == plain.loss);
      REQUIRE(ckpt.grads.size() == plain.grads.size());
      CHECK(plain.grads.size() > (frozen ? 10u : 40u));
      double worst = 0.0;
      for (size_t i = 0; i < plain.grads.size(); ++i) {
        CAPTURE(plain.grads[i].first);
        CHECK(ckpt.grads[i].first == plain.grads[i].first);
        const double d = max_rel_diff(ckpt.grads[i].second, plain.grads[i].second);
        CHECK(d == 0.0);
        worst = std::max(worst, d);
      }
      REQUIRE(plain.grad_x.defined());  // (an input that wants no gradient: the frozen-batch-norm case below)
      REQUIRE(ckpt.grad_x.defined());
      CHECK(max_rel_diff(ckpt.grad_x, plain.grad_x) == 0.0);
      // BatchNorm's running statistics and its batch count: updated once, by the first forward, not again.
      REQUIRE(ckpt.buffers.size() == plain.buffers.size());
      for (size_t i = 0; i < plain.buffers.size(); ++i) {
        CAPTURE(plain.buffers[i].first);
        CHECK(ckpt.buffers[i].second.to_vector<double>() == plain.buffers[i].second.to_vector<double>());
      }
      MESSAGE("training ", training, ", frozen backbone ", frozen, ": ", plain.grads.size(),
              " gradients, worst relative difference ", worst);
    }
}

TEST_CASE("gradient checkpointing: a frozen batch norm in a segment that trains elsewhere is updated once") {
  // Block 0's first conv and batch norm frozen, its second conv trained: on the recomputation bn1 records nothing and
  // could take the in-place path, which must not update its running statistics a second time.
  const std::vector<std::string> trainable = {"encoder_layers.0.conv2.*", "classifier.*"};
  const Backward plain = run(false, true, false, trainable, false), ckpt = run(true, true, false, trainable, false);
  CHECK(ckpt.loss == plain.loss);
  REQUIRE(ckpt.grads.size() == plain.grads.size());
  for (size_t i = 0; i < plain.grads.size(); ++i) CHECK(max_rel_diff(ckpt.grads[i].second, plain.grads[i].second) == 0.0);
  REQUIRE(ckpt.buffers.size() == plain.buffers.size());
  for (size_t i = 0; i < plain.buffers.size(); ++i) {
    CAPTURE(plain.buffers[i].first);
    CHECK(ckpt.buffers[i].second.to_vector<double>() == plain.buffers[i].second.to_vector<double>());
  }
}

TEST_CASE("checkpoint(): a parameter written in place between the forward and the backward is an error") {
  Tensor w = agf::test::leaf64({5, 4}, 24);
  Tensor x = agf::test::random_tensor({3, 5}, 25, DType::f64);
  Tensor y = checkpoint("test_segment", [&](const Tensor& in) { return ag::sigmoid(ag::matmul(in, w)); }, x, {&w});
  {
    NoGradGuard ng;
    w.fill_(0.5);  // an optimizer step or a perturbation, too early
  }
  CHECK_THROWS_WITH_AS(backward(ag::sum(y)), doctest::Contains("modified in place"), Error);
}

TEST_CASE("checkpoint(): the segment runs twice with grad, once without; a data input gets no gradient") {
  Tensor w = agf::test::leaf64({5, 4}, 21);
  Tensor x = agf::test::random_tensor({3, 5}, 22, DType::f64);  // data: no gradient wanted
  int calls = 0;
  const auto segment = [&](const Tensor& in) {
    ++calls;
    return ag::sigmoid(ag::matmul(in, w));
  };
  Tensor plain_grad;
  {
    backward(ag::sum(ag::square(segment(x))));
    plain_grad = grad(w).clone();
    zero_grad(w);
  }
  calls = 0;
  Tensor y = checkpoint("test_segment", segment, x, {&w});
  CHECK(calls == 1);
  CHECK(requires_grad(y));
  backward(ag::sum(ag::square(y)));
  CHECK(calls == 2);
  CHECK(grad(w).to_vector<double>() == plain_grad.to_vector<double>());
  {
    NoGradGuard ng;
    calls = 0;
    Tensor z = checkpoint("test_segment", segment, x, {&w});
    CHECK(calls == 1);
    CHECK(!requires_grad(z));
  }
  // Nothing wants a gradient: the segment runs as itself.
  Tensor frozen = agf::test::random_tensor({5, 4}, 23, DType::f64);
  calls = 0;
  Tensor z = checkpoint("test_segment", [&](const Tensor& in) { ++calls; return ag::matmul(in, frozen); }, x,
                        {&frozen});
  CHECK(calls == 1);
  CHECK(!requires_grad(z));
}

TEST_CASE("gradient checkpointing: a backward holds one block's activations, not the whole network's") {
  // medium's first block at B=2, T=6144 (float32): its (2, 512, 1536) maps are 6 MiB each.
  EcgNet net(preset_config("medium", 6, true), 3);
  net.enable_lora({8, 8.0}, 4);
  net.set_trainable(EcgNet::finetune_patterns());
  net.eval();  // the FO micro-batch of fine-tuning: running statistics, a frozen backbone
  Tensor x;
  {
    MemScope data(MemTag::data);
    x = agf::test::random_tensor({2, 12, 6144}, 11);
  }
  Tensor y = zeros({2, 6});
  MemoryLedger& L = ledger(Device::cpu());
  const auto peak_of_step = [&](bool checkpointing) {
    net.set_gradient_checkpointing(checkpointing);
    net.zero_grad();
    MemScope act(MemTag::activations);
    const int64_t base = L.live(MemTag::activations);
    L.reset_peak();
    auto out = net.forward(x);
    Tensor loss = fusion_loss(out.aux_logit, out.main_logits, y, 1.0, 0).total;
    out = EcgNetOutput();
    backward(loss);
    return L.peak(MemTag::activations) - base;
  };
  const int64_t plain = peak_of_step(false), ckpt = peak_of_step(true);
  const int64_t map = int64_t{2} * 512 * 1536 * 4;
  MESSAGE("medium B=2 T=6144 LoRA r=8, forward + backward activations peak: plain ", plain / 1048576.0,
          " MiB, checkpointed ", ckpt / 1048576.0, " MiB (a first-block map is ", map / 1048576.0, " MiB)");
  // Plain: every block's maps at once. Checkpointed: the later blocks' inputs (the second block's is one map), then
  // the first block's graph (its saved maps, the incoming gradient and the one being made): under 9 maps, and under
  // half the plain peak.
  CHECK(plain >= 12 * map);
  CHECK(ckpt <= 9 * map);
  CHECK(2 * ckpt <= plain);
}
