#include <doctest/doctest.h>

#include <algorithm>

#include "nn/ecgnet.h"
#include "nn/losses.h"
#include "nn_test_util.h"

using namespace agf;
using namespace agf::nn;

TEST_CASE("EcgNet: parameter counts of the spec") {
  EcgNet tinylight(preset_config("tinylight", 6, /*aux_head=*/false));
  CHECK(tinylight.num_parameters() == 256070);
  CHECK(tinylight.num_buffer_elements() == 22790);
  CHECK(tinylight.state_dict().size() == 66);
  EcgNet medium(preset_config("medium", 6, /*aux_head=*/true));
  CHECK(medium.num_parameters() == 50618887);
  CHECK_THROWS_WITH_AS(preset_config("huge"), doctest::Contains("unknown EcgNet preset 'huge'"), Error);
}

TEST_CASE("EcgNet: checkpoint names and shapes") {
  EcgNet net(preset_config("tinylight", 6, true));
  std::vector<std::pair<std::string, Shape>> got;
  for (auto& [n, t] : net.state_dict()) got.emplace_back(n, t.shape());
  auto has = [&](const std::string& n, const Shape& s) {
    return std::find(got.begin(), got.end(), std::make_pair(n, s)) != got.end();
  };
  CHECK(has("encoder_layers.0.conv1.conv.weight", {64, 12, 9}));
  CHECK(has("encoder_layers.0.conv3.conv.weight", {64, 12, 1}));
  CHECK(has("encoder_layers.2.bn2.num_batches_tracked", {}));
  CHECK(has("position_encoding.positional_encoding", {200, 64}));
  CHECK(has("transformer_layers.0.self_attention.c_attn.weight", {64, 192}));
  CHECK(has("transformer_layers.0.self_attention.c_proj.weight", {64, 64}));
  CHECK(has("transformer_layers.0.self_attention.bias", {1, 1, 96, 96}));
  CHECK(has("transformer_layers.0.fc1.weight", {256, 64}));
  CHECK(has("classifier.1.weight", {6, 64}));
  CHECK(has("auxiliary_classifier.0.weight", {32, 64}));
  CHECK(has("auxiliary_classifier.2.bias", {1}));
  // The sinusoidal table: PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(...).
  const auto pe = net.position_encoding->positional_encoding.to_vector<float>();
  CHECK(pe[5 * 64 + 6] == doctest::Approx(std::sin(5.0 / std::pow(10000.0, 6.0 / 64))).epsilon(1e-6));
  CHECK(pe[5 * 64 + 7] == doctest::Approx(std::cos(5.0 / std::pow(10000.0, 6.0 / 64))).epsilon(1e-6));
}

TEST_CASE("EcgNet: fine-tuning trainable set") {
  EcgNet net(preset_config("tinylight", 6, true));
  net.enable_lora({4, 4.0}, 1);
  net.set_trainable(EcgNet::finetune_patterns());
  std::vector<std::string> trainable;
  for (auto& [n, t] : net.trainable_parameters()) trainable.push_back(n);
  auto is = [&](const std::string& n) { return std::find(trainable.begin(), trainable.end(), n) != trainable.end(); };
  CHECK(is("encoder_layers.0.conv1.conv.lora_A"));
  CHECK(is("transformer_layers.0.self_attention.c_attn.lora_B.v"));
  CHECK(is("transformer_layers.0.fc2.lora_A"));
  CHECK(is("encoder_layers.1.bn1.bias"));
  CHECK(is("transformer_layers.0.norm2.bias"));
  CHECK(is("classifier.1.weight"));
  CHECK(is("auxiliary_classifier.2.weight"));
  CHECK(!is("encoder_layers.1.bn1.weight"));
  CHECK(!is("classifier.0.weight"));
  CHECK(!is("transformer_layers.0.self_attention.c_proj.weight"));
  CHECK(!is("transformer_layers.0.self_attention.c_proj.lora_A"));  // c_proj carries no adapter
}

TEST_CASE("gradcheck: a whole tinylight EcgNet with LoRA r=4 (float64, T=512)") {
  EcgNet net(preset_config("tinylight", 6, true), 7);
  net.enable_lora({4, 4.0}, 8);
  net.to(DType::f64);
  {
    NoGradGuard ng;  // non-zero B so that every adapter has a gradient to check
    uint64_t s = 100;
    for (auto& [n, t] : net.named_parameters())
      if (n.find("lora_B") != std::string::npos) fill_uniform_(*t, s++, 0, -0.05, 0.05);
  }
  Tensor x = agf::test::random_tensor({2, 12, 512}, 9, DType::f64);
  Tensor y = from_vector<double>({1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0}, {2, 6});
  std::vector<Tensor> params;
  std::vector<std::string> names;
  for (auto& [n, t] : net.named_parameters()) {
    params.push_back(*t);
    names.push_back(n);
  }
  // The gate is in the graph, open for both samples (sigmoid > 0 always): where it is open it must be the identity.
  net.set_gradient_gate(0.0);
  GradcheckOptions opt;
  opt.max_samples = 8;
  agf::test::expect_gradcheck(
      [&] {
        auto out = net.forward(x);
        return fusion_loss(out.aux_logit, out.main_logits, y, 0.5, 0).total;
      },
      params, names, opt);
}

TEST_CASE("EcgNet gradient gate: closed samples give main_logits no gradient, forward unchanged, aux untouched") {
  EcgNet net(preset_config("tinylight", 6, true), 21);
  net.to(DType::f64);
  net.eval();  // running statistics: each sample's logits depend on that sample alone
  const int64_t B = 4;
  Tensor x = agf::test::random_tensor({B, 12, 256}, 22, DType::f64);
  std::vector<double> p;
  Tensor plain_logits;
  {
    NoGradGuard ng;
    auto o = net.forward(x);
    plain_logits = o.main_logits;
    for (double a : o.aux_logit.to_vector<double>()) p.push_back(1.0 / (1.0 + std::exp(-a)));
  }
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  REQUIRE(sorted[1] < sorted[2]);
  const double threshold = 0.5 * (sorted[1] + sorted[2]);  // two samples open, two closed
  std::vector<int> open;
  for (double v : p) open.push_back(v > threshold ? 1 : 0);

  net.set_gradient_gate(threshold);
  auto out = net.forward(x);
  CHECK(out.main_logits.to_vector<double>() == plain_logits.to_vector<double>());
  // d sum(main_logits) / d classifier.1.bias = the number of samples whose gradient passes, per class, exactly.
  backward(ag::sum(out.main_logits));
  Tensor* bias = nullptr;
  Tensor* aux_bias = nullptr;
  Tensor* w1 = nullptr;
  for (auto& [n, t] : net.named_parameters()) {
    if (n == "classifier.1.bias") bias = t;
    if (n == "auxiliary_classifier.2.bias") aux_bias = t;
    if (n == "classifier.1.weight") w1 = t;
  }
  REQUIRE(bias);
  for (double g : grad(*bias).to_vector<double>()) CHECK(g == 2.0);
  CHECK((!grad(*aux_bias).defined() || grad(*aux_bias).to_vector<double>() == std::vector<double>{0.0}));
  // The same gradient as the ungated net on the open samples alone.
  const auto gated_w1 = grad(*w1).to_vector<double>();
  net.set_gradient_gate(std::nullopt);
  zero_grad(*w1);
  std::vector<int64_t> open_rows;
  for (int64_t b = 0; b < B; ++b)
    if (open[static_cast<size_t>(b)]) open_rows.push_back(b);
  Tensor x_open = ops::cat({x.narrow(0, open_rows[0], 1), x.narrow(0, open_rows[1], 1)}, 0);
  backward(ag::sum(net.forward(x_open).main_logits));
  const auto ref_w1 = grad(*w1).to_vector<double>();
  double worst = 0, scale = 0;
  for (size_t i = 0; i < ref_w1.size(); ++i) {
    worst = std::max(worst, std::fabs(gated_w1[i] - ref_w1[i]));
    scale = std::max(scale, std::fabs(ref_w1[i]));
  }
  CHECK(worst <= 1e-12 * scale);

  CHECK_THROWS_WITH_AS(net.set_gradient_gate(1.5), doctest::Contains("threshold 1.5 is not in [0, 1)"), Error);
  EcgNet no_aux(preset_config("tinylight", 6, false), 1);
  CHECK_THROWS_WITH_AS(no_aux.set_gradient_gate(0.3), doctest::Contains("needs the auxiliary head"), Error);
}

TEST_CASE("gate_main_logits: the mask is sigmoid(aux) > threshold, strictly, per sample") {
  Tensor main = agf::test::leaf64({3, 2}, 70);
  // sigmoid(0) = 0.5 exactly: the sample at the threshold is closed.
  Tensor aux = from_vector<double>({0.0, 0.1, -0.1}, {3, 1});
  set_requires_grad(aux, true);
  Tensor gated = gate_main_logits(main, aux, 0.5);
  CHECK(gated.to_vector<double>() == main.to_vector<double>());
  backward(ag::sum(gated));
  CHECK(grad(main).to_vector<double>() == std::vector<double>{0, 0, 1, 1, 0, 0});
  CHECK(!grad(aux).defined());
}

TEST_CASE("LoRA on the whole tinylight net: merged forward within 1e-5 relative, unmerge restores every weight") {
  EcgNet net(preset_config("tinylight", 6, true), 31);
  net.enable_lora({4, 4.0}, 32);
  net.eval();
  NoGradGuard ng;
  uint64_t s = 300;
  for (auto& [n, t] : net.named_parameters())
    if (n.find("lora_B") != std::string::npos) fill_uniform_(*t, s++, 0, -0.05, 0.05);
  std::vector<std::vector<float>> before;
  for (auto& [n, t] : net.named_parameters()) before.push_back(t->to_vector<float>());
  Tensor x = agf::test::random_tensor({2, 12, 1024}, 33);
  auto rel_diff = [](const Tensor& a, const Tensor& b) {
    const auto va = a.to_vector<float>(), vb = b.to_vector<float>();
    double worst = 0, scale = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      worst = std::max(worst, std::fabs(double(va[i]) - vb[i]));
      scale = std::max(scale, std::fabs(double(vb[i])));
    }
    return worst / scale;
  };
  const auto ref = net.forward(x);
  net.merge_lora();
  CHECK(net.lora_merged());
  const auto merged = net.forward(x);
  CHECK(rel_diff(merged.main_logits, ref.main_logits) <= 1e-5);
  CHECK(rel_diff(merged.aux_logit, ref.aux_logit) <= 1e-5);
  CHECK(rel_diff(merged.features, ref.features) <= 1e-5);
  CHECK_THROWS_AS(net.merge_lora(), Error);  // never applied twice
  net.unmerge_lora();
  CHECK(!net.lora_merged());
  size_t i = 0;
  for (auto& [n, t] : net.named_parameters()) {
    const auto now = t->to_vector<float>();
    const auto& was = before[i++];
    double worst = 0;
    for (size_t k = 0; k < now.size(); ++k)
      worst = std::max(worst, std::fabs(double(now[k]) - was[k]) / (1e-3 + std::fabs(double(was[k]))));
    CAPTURE(n);
    CHECK(worst <= 1e-5);
  }
  CHECK(rel_diff(net.forward(x).main_logits, ref.main_logits) <= 1e-5);
}

TEST_CASE("EcgNet memory: NoGrad forward holds a few intermediates; with grad it grows with depth") {
  EcgNet net(preset_config("medium", 6, true));
  net.eval();
  Tensor x;
  {
    MemScope data(MemTag::data);
    x = agf::test::random_tensor({4, 12, 6144}, 11);
  }
  MemoryLedger& L = ledger(Device::cpu());
  const int64_t largest = int64_t{4} * 512 * 1536 * 4;  // the first block's (B, C, T/4) float32 maps
  int64_t peak_nograd = 0, peak_grad = 0;
  {
    NoGradGuard ng;
    MemScope act(MemTag::activations);
    const int64_t base = L.live(MemTag::activations);
    L.reset_peak();
    auto out = net.forward(x);
    peak_nograd = L.peak(MemTag::activations) - base;
  }
  {
    MemScope act(MemTag::activations);
    const int64_t base = L.live(MemTag::activations);
    L.reset_peak();
    auto out = net.forward(x);
    peak_grad = L.peak(MemTag::activations) - base;
  }
  MESSAGE("medium B=4 forward, activations peak: NoGrad ", peak_nograd / 1048576.0, " MiB; with grad ",
          peak_grad / 1048576.0, " MiB; largest intermediate ", largest / 1048576.0, " MiB");
  CHECK(peak_nograd <= 2 * largest + largest / 8);  // two maps at a time (the skip made last), plus small ones
  CHECK(peak_grad >= 10 * largest);  // every layer's saved maps accumulate
}
