// Native training checkpoints: a run resumes exactly; backbones load by name; LoRA merges into an export.
#include <doctest/doctest.h>

#include <cstdlib>

#include "common/test_util.h"
#include "fusion/model_io.h"
#include "io/checkpoint.h"
#include "nn/losses.h"

using namespace agf;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/agf-ckpt-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// A small deterministic training run: batches drawn with the run's Philox stream, LoRA fine-tuning with AdamW
// and the warm-up/linear-decay schedule. Returns the loss of each step.
std::vector<double> train(nn::EcgNet& net, nn::AdamW& opt, fusion::TrainingState& st, int steps, int64_t total) {
  const nn::LRSchedule sched(nn::LRSchedule::Kind::warmup_linear, 2.5e-3, total, 0.1);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s, ++st.step) {
    const uint64_t batch_seed = st.rng.next_u64();
    Tensor x = empty({4, 12, 512});
    fill_normal_(x, batch_seed, 0);
    Tensor y = ops::greater_than(ops::sigmoid(x.narrow(1, 0, 1).narrow(2, 0, 6).reshape({4, 6})), 0.5);
    net.zero_grad();
    auto out = net.forward(x);
    Tensor loss = nn::fusion_loss(out.aux_logit, out.main_logits, y, 1.0, 0).total;
    losses.push_back(loss.item<double>());
    backward(loss);
    opt.step(sched.at(st.step));
  }
  return losses;
}

std::unique_ptr<nn::EcgNet> make_net() {
  auto net = std::make_unique<nn::EcgNet>(nn::preset_config("tinylight", 6, true), 5);
  net->enable_lora({4, 4.0}, 6);
  net->set_trainable(nn::EcgNet::finetune_patterns());
  return net;
}

}  // namespace

TEST_CASE("checkpoint: 10 steps, save, reload, 10 more = 20 straight, bit-identical losses on the CPU") {
  TempDir dir;
  std::vector<double> straight;
  {
    auto net = make_net();
    nn::AdamW opt(net->trainable_parameters());
    fusion::TrainingState st{0, {{"lr", 2.5e-3}}, PhiloxStream(18)};
    straight = train(*net, opt, st, 20, 20);
  }
  std::vector<double> resumed;
  {
    auto net = make_net();
    nn::AdamW opt(net->trainable_parameters());
    fusion::TrainingState st{0, {{"lr", 2.5e-3}}, PhiloxStream(18)};
    resumed = train(*net, opt, st, 10, 20);
    fusion::save_training_checkpoint(dir.path / "run.safetensors", *net, &opt, st);
  }
  {
    fusion::LoadedTraining header;
    auto net = fusion::build_from_checkpoint(dir.path / "run.safetensors", &header);
    CHECK(header.lora);
    CHECK(header.state.step == 10);
    CHECK(header.state.run_config["lr"] == 2.5e-3);
    net->set_trainable(nn::EcgNet::finetune_patterns());
    nn::AdamW opt(net->trainable_parameters());
    fusion::TrainingState st = fusion::load_training_checkpoint(dir.path / "run.safetensors", *net, &opt);
    CHECK(opt.steps() == 10);
    auto more = train(*net, opt, st, 10, 20);
    resumed.insert(resumed.end(), more.begin(), more.end());
  }
  REQUIRE(resumed.size() == 20);
  for (int i = 0; i < 20; ++i) {
    INFO("step ", i);
    CHECK(resumed[i] == straight[i]);  // bit-identical
  }
  CHECK(straight.back() < straight.front());
}

TEST_CASE("checkpoint: refusals name the file and the mismatch") {
  TempDir dir;
  auto net = make_net();
  // Exporting the merged backbone leaves the network unmerged; a merged network is never saved for training.
  fusion::merged_backbone(*net);
  CHECK(!net->lora_merged());
  net->merge_lora();
  CHECK_THROWS_WITH_AS(fusion::save_training_checkpoint(dir.path / "m.safetensors", *net, nullptr, {}),
                       doctest::Contains("LoRA adapters are merged"), Error);
  CHECK(!std::filesystem::exists(dir.path / "m.safetensors"));
  net->unmerge_lora();
  fusion::save_training_checkpoint(dir.path / "a.safetensors", *net, nullptr, {3, {}, PhiloxStream(1)});
  nn::EcgNet other(nn::preset_config("tiny", 6, true));
  CHECK_THROWS_WITH_AS(fusion::load_training_checkpoint(dir.path / "a.safetensors", other, nullptr),
                       doctest::Contains("differs from the one built"), Error);
  io::save_safetensors(dir.path / "plain.safetensors", {{"w", zeros({2})}});
  CHECK_THROWS_WITH_AS(fusion::read_training_checkpoint_header(dir.path / "plain.safetensors"),
                       doctest::Contains("not an adagrad-fusion training checkpoint"), Error);
}

TEST_CASE("backbone: the real checkpoint loads by name; a wrong shape is named; LoRA merges into an export" *
          doctest::skip(agf::test::no_pretrained_fixture())) {
  const auto ckpt = agf::test::pretrained_fixture();
  nn::EcgNet tiny(nn::preset_config("tinylight", 6, false));
  auto rep = fusion::load_backbone(tiny, ckpt);
  CHECK(rep.load.loaded.size() == 66);
  CHECK(rep.load.missing.empty());
  // Nine classes instead of six: refused, unless the head is re-initialised on request.
  nn::EcgNet nine(nn::preset_config("tinylight", 9, false));
  CHECK_THROWS_WITH_AS(fusion::load_backbone(nine, ckpt), doctest::Contains("'classifier.1.weight' has shape (6, 64)"),
                       Error);
  auto rep9 = fusion::load_backbone(nine, ckpt, {true, /*reinit_classifier=*/true});
  CHECK(rep9.load.reinitialised.size() == 2);
  // Merge LoRA into a plain backbone: the export has no adapter names and reproduces the adapted forward.
  auto net = make_net();
  fusion::load_backbone(*net, ckpt);
  {
    NoGradGuard ng;
    uint64_t s = 9;
    for (auto& [n, t] : net->named_parameters())
      if (n.find("lora_B") != std::string::npos) fill_uniform_(*t, s++, 0, -0.02, 0.02);
  }
  net->eval();
  Tensor x = empty({2, 12, 1024});
  fill_normal_(x, 3, 0);
  NoGradGuard ng;
  const auto adapted = net->forward(x).main_logits.to_vector<float>();
  auto merged = fusion::merged_backbone(*net);
  CHECK(merged.size() == 66 + 4);
  nn::EcgNet plain(nn::preset_config("tinylight", 6, true));
  plain.load_state_dict(merged);
  plain.eval();
  const auto got = plain.forward(x).main_logits.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(adapted[i]).epsilon(1e-5));
}

namespace {
// Every parameter and buffer of `net`, as bytes.
std::vector<std::vector<uint8_t>> state_bytes(nn::EcgNet& net) {
  std::vector<std::vector<uint8_t>> out;
  for (auto& [n, t] : net.state_dict()) {
    const Tensor c = t.contiguous();
    const auto* p = static_cast<const uint8_t*>(c.raw_data());
    out.emplace_back(p, p + c.nbytes());
  }
  return out;
}
}  // namespace

TEST_CASE("backbone export: the network is untouched bit for bit; the published layout has (Cout, Cin, 1, K) convs") {
  TempDir dir;
  auto net = make_net();
  {
    NoGradGuard ng;
    uint64_t s = 40;
    for (auto& [n, t] : net->named_parameters())
      if (n.find("lora_B") != std::string::npos) fill_uniform_(*t, s++, 0, -0.05, 0.05);
  }
  const auto before = state_bytes(*net);
  const auto native = fusion::merged_backbone(*net);
  const auto published = fusion::merged_backbone(*net, fusion::BackboneLayout::published);
  CHECK(state_bytes(*net) == before);  // merge + unmerge in place would leave W + dW - dW
  CHECK(!net->lora_merged());
  REQUIRE(native.size() == published.size());
  int convs = 0;
  for (size_t i = 0; i < native.size(); ++i) {
    const auto& [n, t] = published[i];
    CHECK(n.find("lora_") == std::string::npos);
    if (n.ends_with(".conv.weight")) {
      ++convs;
      CHECK(t.dim() == 4);
      CHECK(t.size(2) == 1);
      CHECK(t.squeeze(2).to_vector<float>() == native[i].second.to_vector<float>());
    } else {
      CHECK(t.shape() == native[i].second.shape());
    }
  }
  CHECK(convs == 9);
  // The published layout loads back through the same loader as the real checkpoints.
  io::save_safetensors(dir.path / "merged.safetensors", published, {});
  nn::EcgNet plain(nn::preset_config("tinylight", 6, true));
  const auto rep = fusion::load_backbone(plain, dir.path / "merged.safetensors");
  CHECK(rep.load.loaded.size() == published.size());
}

TEST_CASE("backbone load: missing and unexpected names are reported; the head is re-initialised on request") {
  TempDir dir;
  nn::EcgNet src(nn::preset_config("tinylight", 6, true), 50);
  nn::NamedTensors state = src.state_dict();
  // One name dropped, one stray name added.
  std::erase_if(state, [](const auto& e) { return e.first == "transformer_layers.0.fc1.bias"; });
  state.emplace_back("transformer_layers.0.fc3.weight", zeros({2, 2}));
  io::save_safetensors(dir.path / "odd.safetensors", state, {});
  nn::EcgNet dst(nn::preset_config("tinylight", 6, true), 51);
  CHECK_THROWS_WITH_AS(fusion::load_backbone(dst, dir.path / "odd.safetensors"),
                       doctest::Contains("state dict: 1 missing name(s): transformer_layers.0.fc1.bias"), Error);
  const auto lenient = fusion::load_backbone(dst, dir.path / "odd.safetensors", {/*strict=*/false});
  CHECK(lenient.load.missing == std::vector<std::string>{"transformer_layers.0.fc1.bias"});
  CHECK(lenient.load.unexpected == std::vector<std::string>{"transformer_layers.0.fc3.weight"});

  // Same class count, head re-initialised on request: classifier.1 keeps its fresh values, the rest is loaded.
  io::save_safetensors(dir.path / "six.safetensors", src.state_dict(), {});
  nn::EcgNet fresh(nn::preset_config("tinylight", 6, true), 52);
  auto tensor_of = [](nn::EcgNet& n, const std::string& name) {
    for (auto& [k, t] : n.state_dict())
      if (k == name) return t.to_vector<float>();
    FAIL("no tensor " << name);
    return std::vector<float>{};
  };
  const auto fresh_head = tensor_of(fresh, "classifier.1.weight");
  REQUIRE(fresh_head != tensor_of(src, "classifier.1.weight"));
  const auto rep = fusion::load_backbone(fresh, dir.path / "six.safetensors", {true, /*reinit_classifier=*/true});
  CHECK(rep.load.reinitialised == std::vector<std::string>{"classifier.1.weight", "classifier.1.bias"});
  CHECK(tensor_of(fresh, "classifier.1.weight") == fresh_head);
  CHECK(tensor_of(fresh, "classifier.0.weight") == tensor_of(src, "classifier.0.weight"));
}
