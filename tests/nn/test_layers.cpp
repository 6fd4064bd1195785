// gradcheck (float64) of every layer, LoRA-wrapped layers included, and LoRA merge/unmerge.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "nn/ecgnet.h"
#include "nn_test_util.h"

using namespace agf;
using namespace agf::nn;
using agf::test::expect_gradcheck;
using agf::test::leaf64;

namespace {
std::vector<Tensor> params_of(Module& m, std::vector<std::string>* names = nullptr) {
  std::vector<Tensor> v;
  for (auto& [n, t] : m.named_parameters()) {
    v.push_back(*t);
    if (names) names->push_back(n);
  }
  return v;
}

// LoRA B starts at zero, which would make A's gradient vanish: give B random values for the check.
void randomise_lora_b(Module& m, uint64_t seed) {
  NoGradGuard ng;
  for (auto& [n, t] : m.named_parameters())
    if (n.find("lora_B") != std::string::npos) fill_uniform_(*t, seed++, 0, -0.5, 0.5);
}

void check_module(Module& m, const std::function<Tensor()>& f, int64_t samples = 24) {
  m.to(DType::f64);
  std::vector<std::string> names;
  auto params = params_of(m, &names);
  GradcheckOptions opt;
  opt.max_samples = samples;
  expect_gradcheck(f, params, names, opt);
}
}  // namespace

TEST_CASE("gradcheck: Conv1d, Linear (both layouts), norms") {
  Conv1d conv(3, 5, 5, 2, 2);
  conv.init_parameters(1);
  Tensor x = leaf64({2, 3, 19}, 2);
  check_module(conv, [&] { return conv.forward(x); });

  Linear lin(6, 4);
  lin.init_parameters(3);
  Tensor h = leaf64({2, 3, 6}, 4);
  check_module(lin, [&] { return lin.forward(h); });

  Linear lin_im(6, 9, true, true);
  lin_im.init_parameters(5);
  check_module(lin_im, [&] { return lin_im.forward(h); });

  BatchNorm1d bn(3);
  check_module(bn, [&] { return bn.forward(x); });
  bn.eval();
  check_module(bn, [&] { return bn.forward(x); });

  LayerNorm ln(6);
  check_module(ln, [&] { return ln.forward(h); });
}

TEST_CASE("gradcheck: LoRA-wrapped conv, linear and the q/k/v of c_attn") {
  const LoraConfig cfg{4, 8.0};  // scaling 2: the scaling path is exercised too
  Conv1d conv(3, 5, 5, 2, 2);
  conv.init_parameters(6);
  conv.enable_lora(cfg, 7);
  randomise_lora_b(conv, 8);
  Tensor x = leaf64({2, 3, 19}, 9);
  check_module(conv, [&] { return conv.forward(x); });

  Linear lin(6, 4);
  lin.init_parameters(10);
  lin.enable_lora(cfg, 11);
  randomise_lora_b(lin, 12);
  Tensor h = leaf64({2, 3, 6}, 13);
  check_module(lin, [&] { return lin.forward(h); });

  Linear attn(6, 18, true, true);
  attn.init_parameters(14);
  attn.enable_lora(cfg, 15, LoraInit::kaiming_uniform, {"q", "k", "v"});
  randomise_lora_b(attn, 16);
  check_module(attn, [&] { return attn.forward(h); });
  std::vector<std::string> names;
  params_of(attn, &names);
  CHECK(names == std::vector<std::string>{"weight", "bias", "lora_A.q", "lora_B.q", "lora_A.k", "lora_B.k",
                                          "lora_A.v", "lora_B.v"});
}

TEST_CASE("gradcheck: attention, transformer layer, residual block") {
  CausalSelfAttention attn(32, 16, 96);
  attn.init_parameters(20);
  Tensor t = leaf64({2, 7, 32}, 21);
  check_module(attn, [&] { return attn.forward(t); }, 12);

  TransformerLayer layer(32, 16, 96, 0.01);
  layer.init_parameters(22);
  check_module(layer, [&] { return layer.forward(t); }, 12);

  ResidualBlock block(3, 8, 0.01);
  block.init_parameters(23);
  Tensor x = leaf64({2, 3, 64}, 24);
  check_module(block, [&] { return block.forward(x); }, 12);
}

TEST_CASE("LoRA: merged forward agrees, unmerge restores, conv two-step path equals W + dW") {
  Conv1d conv(12, 16, 9, 4, 4);
  conv.init_parameters(30);
  conv.enable_lora({4, 4.0}, 31);
  randomise_lora_b(conv, 32);
  NoGradGuard ng;
  Tensor x = agf::test::random_tensor({2, 12, 256}, 33);
  const auto before_w = conv.weight.to_vector<float>();
  const auto y_lora = conv.forward(x).to_vector<float>();
  // The same output from one convolution with W + dW.
  const auto y_direct = ops::conv1d(x, ops::add(conv.weight, conv.delta_weight()), conv.bias, conv.args).to_vector<float>();
  conv.merge_lora();
  CHECK(conv.lora().merged);
  const auto y_merged = conv.forward(x).to_vector<float>();
  double max_ref = 0, max_err = 0, max_err2 = 0;
  for (size_t i = 0; i < y_lora.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(double(y_lora[i])));
    max_err = std::max(max_err, std::fabs(double(y_merged[i]) - y_lora[i]));
    max_err2 = std::max(max_err2, std::fabs(double(y_direct[i]) - y_lora[i]));
  }
  CHECK(max_err <= 1e-5 * max_ref);
  CHECK(max_err2 <= 1e-5 * max_ref);
  CHECK_THROWS_WITH_AS(conv.merge_lora(), doctest::Contains("unmerged"), Error);
  conv.unmerge_lora();
  const auto after_w = conv.weight.to_vector<float>();
  for (size_t i = 0; i < after_w.size(); ++i) CHECK(std::fabs(after_w[i] - before_w[i]) <= 1e-6f * (1 + std::fabs(before_w[i])));
}

TEST_CASE("LoRA: a merge whose result is not finite is refused and leaves the weight untouched") {
  Linear lin(4, 3);
  lin.init_parameters(40);
  lin.enable_lora({2, 2.0}, 41);
  {
    NoGradGuard ng;
    const_cast<Tensor&>(lin.lora().B[0]).fill_(1e30);
    const_cast<Tensor&>(lin.lora().A[0]).fill_(1e30);
  }
  const auto w = lin.weight.to_vector<float>();
  CHECK_THROWS_WITH_AS(lin.merge_lora(), doctest::Contains("not be finite"), Error);
  CHECK(!lin.lora().merged);
  CHECK(lin.weight.to_vector<float>() == w);
}

TEST_CASE("LoRA: a whole-network merge is all or nothing, and a refusal names the layer") {
  EcgNet net(preset_config("tinylight", 6, true), 1);
  net.enable_lora({4, 4.0}, 2);
  {
    NoGradGuard ng;
    for (auto& [n, t] : net.named_parameters())
      if (n == "transformer_layers.0.fc2.lora_B") t->fill_(INFINITY);
  }
  const auto before = net.encoder_layers->child("0")->named_parameters()[0].second->to_vector<float>();
  CHECK_THROWS_WITH_AS(net.merge_lora(), doctest::Contains("'transformer_layers.0.fc2'"), Error);
  CHECK(!net.lora_merged());
  CHECK(net.encoder_layers->child("0")->named_parameters()[0].second->to_vector<float>() == before);
}

TEST_CASE("LoRA conv without a graph: B accumulates into the output, same values as the recorded path, one output") {
  Conv1d conv(16, 32, 9, 1, 4);
  conv.init_parameters(40);
  conv.enable_lora({4, 4.0}, 41);
  randomise_lora_b(conv, 42);
  conv.set_trainable({"*lora*"});
  Tensor x = agf::test::random_tensor({3, 16, 512}, 43);
  const auto recorded = conv.forward(x).to_vector<float>();  // a graph is recorded: the two-convolution path
  MemoryLedger& L = ledger(Device::cpu());
  std::vector<float> direct;
  int64_t added = 0, plain = 0;
  {
    NoGradGuard ng;
    L.reset_peak();
    const int64_t before = L.live_total();
    Tensor y = conv.forward(x);
    added = L.peak_total() - before;
    direct = y.to_vector<float>();
    y = Tensor();
    L.reset_peak();
    Tensor y0 = ops::conv1d(x, conv.weight, conv.bias, conv.args);  // the same convolution without adapters
    plain = L.peak_total() - before;
  }
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < direct.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(double(recorded[i])));
    max_err = std::max(max_err, std::fabs(double(direct[i]) - recorded[i]));
  }
  CHECK(max_err <= 1e-5 * max_ref);
  // Beyond the plain convolution, only A's r-channel intermediate (3 x 4 x 512 floats): no second output.
  const int64_t out_bytes = 3 * 32 * 512 * 4;
  MESSAGE("NoGrad LoRA conv peak ", added, " bytes, the plain convolution's ", plain, ", output ", out_bytes);
  CHECK(added - plain <= 3 * 4 * 512 * 4 + 4096);
}

// BatchNorm + leaky ReLU without a graph runs in place in one pass; it must give bit for bit what the two ops give,
// update the running statistics identically (training mode), and hold no second map.
TEST_CASE("BatchNorm + leaky ReLU without a graph: in place, bit for bit the separate ops, running stats alike") {
  for (const bool training : {true, false}) {
    CAPTURE(training);
    BatchNorm1d fused(24), separate(24);
    for (BatchNorm1d* bn : {&fused, &separate}) {
      bn->weight.copy_(agf::test::random_tensor({24}, 51));
      bn->bias.copy_(agf::test::random_tensor({24}, 52));
      bn->running_mean.copy_(agf::test::random_tensor({24}, 53));
      bn->running_var.fill_(0.7);
      bn->train(training);
    }
    const Tensor x = agf::test::random_tensor({5, 24, 300}, 54);
    NoGradGuard ng;
    const Tensor want = ag::leaky_relu(separate.forward(x), 0.01);
    Tensor owned = x.clone();
    const void* storage = owned.raw_data();
    MemoryLedger& L = ledger(Device::cpu());
    L.reset_peak();
    const int64_t before = L.live_total();
    const Tensor got = fused.forward_leaky_owned(std::move(owned), 0.01);
    const int64_t added = L.peak_total() - before;
    CHECK(got.raw_data() == storage);             // in place
    CHECK(added <= 2 * 24 * 4 + 2048);            // the two (C) statistics vectors, nothing the size of x
    CHECK(got.to_vector<float>() == want.to_vector<float>());
    CHECK(fused.running_mean.to_vector<float>() == separate.running_mean.to_vector<float>());
    CHECK(fused.running_var.to_vector<float>() == separate.running_var.to_vector<float>());
    CHECK(fused.num_batches_tracked.item<int64_t>() == separate.num_batches_tracked.item<int64_t>());
    // Some outputs must be negative, or the leaky branch went untested.
    const auto v = got.to_vector<float>();
    CHECK(std::count_if(v.begin(), v.end(), [](float f) { return f < 0; }) > 100);
  }
  // With a graph to record, it takes the two recorded ops (a gradient reaches x).
  BatchNorm1d bn(4);
  Tensor x = agf::test::random_tensor({2, 4, 16}, 55);
  set_requires_grad(x, true);
  backward(ag::sum(bn.forward_leaky_owned(x, 0.01), {}, false));
  CHECK(grad(x).defined());
}

TEST_CASE("BatchNorm num_batches_tracked counts training forwards, and follows a buffer changed behind its back") {
  BatchNorm1d bn(3);
  bn.train(true);
  const Tensor x = agf::test::random_tensor({2, 3, 8}, 61);
  NoGradGuard ng;
  for (int i = 0; i < 3; ++i) (void)bn.forward(x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 3);
  (void)bn.forward_leaky_owned(x.clone(), 0.01);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 4);
  bn.eval();
  (void)bn.forward(x);  // eval: not counted
  CHECK(bn.num_batches_tracked.item<int64_t>() == 4);
  bn.train(true);
  // A loaded value (copy_ into the buffer): the count goes on from it, not from the layer's own tally.
  bn.num_batches_tracked.copy_(from_vector<int64_t>({40}, {}));
  (void)bn.forward(x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 41);
  // A new buffer (as a move to another device or a state dict load makes): read again.
  bn.num_batches_tracked = from_vector<int64_t>({7}, {});
  (void)bn.forward(x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 8);
}
