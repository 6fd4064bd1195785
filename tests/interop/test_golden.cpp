// The engine against the independent PyTorch implementation (tools/reference/), on the real pretrained backbone:
// activations and logits within 1e-4, gradients within 1e-3 of each tensor's scale (float32).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>

#include "common/test_util.h"
#include "fusion/model_io.h"
#include "nn/losses.h"

using namespace agf;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(AGF_SOURCE_ROOT) / "tests" / "golden" / "ecgnet";

// The reference's input, regenerated from its closed formula (tools/reference/README.md).
Tensor golden_input() {
  Tensor x = empty({2, 12, 6144});
  float* p = x.data<float>();
  const double twopi = 2.0 * M_PI;
  for (int b = 0; b < 2; ++b)
    for (int c = 0; c < 12; ++c)
      for (int t = 0; t < 6144; ++t) {
        const int u = (t + 37 * b) % 400 - 200;
        const double v = 0.8 * std::sin(twopi * (c + 1) * t / 700.0 + 0.3 * b) +
                         0.3 * std::cos(twopi * t / 97.0 + c) + (1.2 - 0.1 * c) * std::exp(-(u * u) / 50.0) - 0.1;
        p[(b * 12 + c) * 6144 + t] = static_cast<float>(v);
      }
  return x;
}

struct Golden {
  std::map<std::string, Tensor> tensors;
  io::Metadata meta;
  explicit Golden(const std::string& file) {
    auto f = io::load_safetensors(kGolden / file);
    for (auto& [n, t] : f.tensors) tensors[n] = t;
    meta = f.metadata;
  }
};

double g_worst = 0;  // worst max|engine - golden| / max|golden| of the current test case, for its MESSAGE

// Compares `got` with the golden tensor `name` (whole, or its `.every<N>` subsample plus the full sum).
void compare(const Golden& g, const std::string& name, const Tensor& got, double rel) {
  INFO("tensor ", name);
  const auto full = got.to(DType::f64).contiguous().to_vector<double>();
  std::vector<double> mine, ref;
  auto it = g.tensors.find(name);
  int64_t stride = 1;
  if (it == g.tensors.end()) {
    stride = std::stoll(g.meta.at(name + ".stride"));
    it = g.tensors.find(name + ".every" + std::to_string(stride));
    REQUIRE(it != g.tensors.end());
    const auto shape = nlohmann::json::parse(g.meta.at(name + ".shape")).get<std::vector<int64_t>>();
    REQUIRE(shape_numel(shape) == got.numel());
    double sum = 0;
    for (double v : full) sum += v;
    const double ref_sum = std::stod(g.meta.at(name + ".sum_f64"));
    const double ref_sumsq = std::stod(g.meta.at(name + ".sumsq_f64"));
    CHECK(std::fabs(sum - ref_sum) <= rel * std::sqrt(ref_sumsq * static_cast<double>(full.size())) + 1e-9);
  } else {
    REQUIRE(it->second.numel() == got.numel());
  }
  ref = it->second.to(DType::f64).to_vector<double>();
  double max_ref = 0, max_err = 0;
  for (size_t k = 0; k < ref.size(); ++k) {
    max_ref = std::max(max_ref, std::fabs(ref[k]));
    max_err = std::max(max_err, std::fabs(full[k * stride] - ref[k]));
  }
  INFO("max |engine - golden| = ", max_err, ", max |golden| = ", max_ref);
  CHECK(max_err <= rel * max_ref);
  g_worst = std::max(g_worst, max_err / std::max(max_ref, 1e-30));
}

std::unique_ptr<nn::EcgNet> load_reference_model() {
  auto net = std::make_unique<nn::EcgNet>(nn::preset_config("tinylight", 6, /*aux_head=*/true));
  const auto rep = fusion::load_backbone(*net, agf::test::pretrained_fixture());
  CHECK(rep.load.loaded.size() == 66);
  CHECK(rep.load.reinitialised.size() == 4);  // the auxiliary head, absent from the checkpoint
  // The reference's auxiliary-head weights (torch.manual_seed(0)), so both sides start equal.
  Golden in("inputs.safetensors");
  nn::NamedTensors aux;
  for (auto& [n, t] : in.tensors)
    if (n.starts_with("auxiliary_classifier.")) aux.emplace_back(n, t);
  net->load_state_dict(aux, {/*strict=*/false, {}});
  return net;
}

double loss_of(nn::EcgNet& net, const Tensor& x, const Tensor& y, Tensor* loss_out = nullptr,
               nn::EcgNetOutput* out = nullptr, nn::NamedTensors* trace = nullptr) {
  auto o = net.forward(x, trace);
  // CODE-15's six classes hold no normal class: a(y) is the max over all of them.
  auto parts = nn::fusion_loss(o.aux_logit, o.main_logits, y, 0.5, /*normal_class=*/-1);
  if (loss_out) *loss_out = parts.total;
  if (out) *out = o;
  return parts.total.item<double>();
}


}  // namespace

TEST_CASE("golden: the regenerated input is the reference's") {
  Golden in("inputs.safetensors");
  Tensor x = golden_input();
  const auto first = in.tensors.at("x.first16").to_vector<float>();
  const auto xv = x.to_vector<float>();
  for (int i = 0; i < 16; ++i) CHECK(xv[i] == first[i]);
  double sum = 0;
  for (float v : xv) sum += v;
  CHECK(sum == doctest::Approx(std::stod(in.meta.at("x.sum_f64"))).epsilon(1e-10));
}

TEST_CASE("golden: eval-mode activations, logits, loss and every parameter gradient vs PyTorch" * doctest::skip(agf::test::no_pretrained_fixture())) {
  auto net = load_reference_model();
  net->eval();
  Golden in("inputs.safetensors"), ev("eval.safetensors"), gr("eval_grads.safetensors");
  Tensor x = golden_input(), y = in.tensors.at("y"), loss;
  nn::EcgNetOutput out;
  nn::NamedTensors trace;
  loss_of(*net, x, y, &loss, &out, &trace);
  g_worst = 0;
  // Every block output the reference dumped: three encoder blocks, the tokens, the one transformer layer.
  std::vector<std::string> traced;
  for (auto& [n, t] : trace) traced.push_back(n);
  CHECK(traced == std::vector<std::string>{"encoder_layers.0.out", "encoder_layers.1.out", "encoder_layers.2.out",
                                           "tokens", "transformer_layers.0.out"});
  for (auto& [n, t] : trace) compare(ev, n, t, 1e-4);
  compare(ev, "features", out.features, 1e-4);
  compare(ev, "main_logits", out.main_logits, 1e-4);
  compare(ev, "aux_logit", out.aux_logit, 1e-4);
  MESSAGE("golden eval: activations and logits within ", g_worst, " of their scale (bound 1e-4)");
  g_worst = 0;
  CHECK(loss.item<double>() == doctest::Approx(std::stod(ev.meta.at("loss"))).epsilon(1e-5));
  backward(loss);
  int compared = 0;
  for (auto& [n, p] : net->named_parameters()) {
    compare(gr, n, grad(*p), 1e-3);
    ++compared;
  }
  CHECK(compared == 50);  // the 46 backbone parameters and the 4 of the auxiliary head
  MESSAGE("golden eval: 50 parameter gradients within ", g_worst, " of their scale (bound 1e-3)");
}

TEST_CASE("golden: LoRA r=4 variant — logits, loss and the fine-tuning gradients vs PyTorch" * doctest::skip(agf::test::no_pretrained_fixture())) {
  auto net = load_reference_model();
  net->enable_lora({4, 4.0}, 0);
  Golden ad("lora_adapters.safetensors"), lo("lora.safetensors"), lg("lora_grads.safetensors"), in("inputs.safetensors");
  nn::NamedTensors adapters(ad.tensors.begin(), ad.tensors.end());
  const auto rep = net->load_state_dict(adapters, {/*strict=*/false, {}});
  CHECK(rep.loaded.size() == 32);
  net->eval();
  net->set_trainable(nn::EcgNet::finetune_patterns());
  Tensor x = golden_input(), y = in.tensors.at("y"), loss;
  nn::EcgNetOutput out;
  loss_of(*net, x, y, &loss, &out);
  g_worst = 0;
  compare(lo, "main_logits", out.main_logits, 1e-4);
  compare(lo, "aux_logit", out.aux_logit, 1e-4);
  CHECK(loss.item<double>() == doctest::Approx(std::stod(lo.meta.at("loss"))).epsilon(1e-5));
  backward(loss);
  int compared = 0;
  for (auto& [n, p] : net->trainable_parameters()) {
    compare(lg, n, grad(*p), 1e-3);
    ++compared;
  }
  CHECK(compared == static_cast<int>(lg.tensors.size()));
  MESSAGE("golden LoRA r=4: logits and ", compared, " fine-tuning gradients within ", g_worst, " of their scale");
}

TEST_CASE("golden: training-mode BatchNorm — logits, loss and the running statistics vs PyTorch" * doctest::skip(agf::test::no_pretrained_fixture())) {
  auto net = load_reference_model();
  net->train();
  Golden tb("train_bn.safetensors"), in("inputs.safetensors");
  Tensor x = golden_input(), y = in.tensors.at("y"), loss;
  nn::EcgNetOutput out;
  {
    NoGradGuard ng;
    loss_of(*net, x, y, &loss, &out);
  }
  compare(tb, "main_logits", out.main_logits, 1e-4);
  CHECK(loss.item<double>() == doctest::Approx(std::stod(tb.meta.at("loss"))).epsilon(1e-5));
  for (auto& [n, b] : net->named_buffers()) {
    if (n.ends_with("running_mean") || n.ends_with("running_var")) compare(tb, n, *b, 1e-4);
    if (n.ends_with("num_batches_tracked")) CHECK(b->item<int64_t>() == 6793);
  }
}
