// Distillation (spec/fusion.md "Distillation") and what the pipeline hands from stage to stage: a reduced-lead
// student reads only its leads, a merged teacher computes what the unmerged one does, the teacher's soft targets
// enter the loss exactly as written, the teacher costs the ledger its forward and nothing more, a teacher of another
// label set is refused, and distillation resumes bit for bit like every other run.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include "ecg/leads.h"
#include "fusion/model_io.h"
#include "fusion/step.h"
#include "fusion/trainer.h"
#include "fusion/trainer_test_util.h"
#include "fusion/training_setup.h"
#include "kernels/ops.h"
#include "nn/losses.h"
#include "tensor/ledger.h"
#include "tensor/random.h"

using namespace agf;
using namespace agf::fusion;
using namespace agf::fusion::test;

namespace {

ResolvedConfig plain(const TrainConfig& c) { return ResolvedConfig{c, {}}; }

Tensor random_input(int64_t batch, int64_t length, uint64_t seed) {
  Tensor x = zeros({batch, 12, length});
  fill_normal_(x, seed, 0);
  return x;
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  REQUIRE(va.size() == vb.size());
  double worst = 0.0, scale = 0.0;
  for (size_t i = 0; i < va.size(); ++i) scale = std::max(scale, std::fabs(static_cast<double>(vb[i])));
  for (size_t i = 0; i < va.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(va[i]) - vb[i]) / std::max(scale, 1e-30));
  return worst;
}

}  // namespace

TEST_CASE("lead masks: names, the two presets of the spec, and refusals") {
  CHECK(ecg::parse_lead_mask("all").empty());
  CHECK(ecg::parse_lead_mask("").empty());
  CHECK(ecg::parse_lead_mask("1lead") == std::vector<int64_t>{0});
  CHECK(ecg::parse_lead_mask("3lead") == std::vector<int64_t>{1, 6, 10});  // II, V1, V5
  CHECK(ecg::parse_lead_mask("v5, II ,V1") == std::vector<int64_t>{1, 6, 10});
  CHECK(ecg::parse_lead_mask("I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,V6").empty());  // every lead: no mask
  CHECK(ecg::lead_mask_name({1, 6, 10}) == "II,V1,V5");
  CHECK_THROWS_WITH_AS(ecg::parse_lead_mask("II,V7"), doctest::Contains("'V7' is not a lead"), Error);
  CHECK_THROWS_WITH_AS(ecg::parse_lead_mask("2lead"), doctest::Contains("'2lead' is not a lead"), Error);
}

TEST_CASE("a reduced-lead network reads its leads only, and keeps its mask through a checkpoint") {
  nn::EcgNetConfig cfg = nn::preset_config("tinylight", 4, true);
  cfg.input_leads = {1, 6, 10};
  nn::EcgNet student(cfg, 5);
  student.eval();
  NoGradGuard no_grad;
  const Tensor x = random_input(3, 256, 11);
  // The same records with every other lead replaced: the output does not move, bit for bit.
  Tensor y = random_input(3, 256, 12);
  for (int64_t lead : cfg.input_leads) y.narrow(1, lead, 1).copy_(x.narrow(1, lead, 1));
  const Tensor a = student.forward(x).main_logits, b = student.forward(y).main_logits;
  CHECK(max_rel_diff(a, b) == 0.0);
  // And it is the network without a mask on the zeroed input.
  nn::EcgNetConfig full_cfg = cfg;
  full_cfg.input_leads.clear();
  nn::EcgNet full(full_cfg, 5);
  full.eval();
  Tensor zeroed = zeros({3, 12, 256});
  for (int64_t lead : cfg.input_leads) zeroed.narrow(1, lead, 1).copy_(x.narrow(1, lead, 1));
  CHECK(max_rel_diff(full.forward(zeroed).main_logits, a) == 0.0);
  // A 12-lead input that differs in a read lead does change the output (the mask is not everything-off).
  Tensor z = x.clone();
  z.narrow(1, 6, 1).copy_(y.narrow(1, 0, 1));
  CHECK(max_rel_diff(student.forward(z).main_logits, a) > 1e-4);

  TempDir dir("distill_mask");
  TrainingState st;
  save_training_checkpoint(dir / "student.safetensors", student, nullptr, st);
  auto back = build_from_checkpoint(dir / "student.safetensors");
  CHECK(back->config().input_leads == cfg.input_leads);
  back->eval();
  CHECK(max_rel_diff(back->forward(y).main_logits, a) == 0.0);
}

TEST_CASE("a teacher loaded from a LoRA run computes what the unmerged network does (1e-5 relative)") {
  TempDir dir("distill_merge");
  nn::EcgNet net(nn::preset_config("tinylight", 3, true), 3);
  net.enable_lora({4, 8.0}, 9);
  // Adapters that are not zero (B starts at zero): what a fine-tuned run holds.
  for (auto& [name, t] : net.named_parameters())
    if (name.find("lora_B") != std::string::npos) fill_normal_(*t, 77, 0, 0.0, 0.05);
  TrainingState st;
  st.fs = 400;
  st.classes = classes_to_json({{"164889003", "AF"}, {"59118001", "RBBB"}, {"426783006", "NSR"}});
  save_training_checkpoint(dir / "best.safetensors", net, nullptr, st);

  FrozenNetwork teacher = load_frozen_network(dir / "best.safetensors");
  CHECK_FALSE(teacher.net->lora_enabled());
  CHECK(teacher.net->trainable_parameters().empty());
  CHECK(teacher.fs == 400);
  REQUIRE(teacher.classes.size() == 3);
  CHECK(teacher.classes[1].abbreviation == "RBBB");
  NoGradGuard no_grad;
  net.eval();
  const Tensor x = random_input(4, 512, 21);
  const Tensor unmerged = net.forward(x).main_logits, merged = teacher.net->forward(x).main_logits;
  const double rel = max_rel_diff(merged, unmerged);
  CAPTURE(rel);
  CHECK(rel < 1e-5);
  // The same teacher exported as a backbone (agf-finetune --export-merged) loads to the same network.
  io::save_safetensors(dir / "teacher.safetensors", merged_backbone(net, BackboneLayout::published),
                       backbone_metadata(net, 400, st.classes));
  FrozenNetwork exported = load_frozen_network(dir / "teacher.safetensors");
  CHECK(exported.classes == teacher.classes);
  CHECK(max_rel_diff(exported.net->forward(x).main_logits, merged) == 0.0);
  // Kept unmerged for evaluation: exactly the network as trained.
  FrozenNetwork as_trained = load_frozen_network(dir / "best.safetensors", /*merge_lora=*/false);
  CHECK(max_rel_diff(as_trained.net->forward(x).main_logits, unmerged) == 0.0);
}

TEST_CASE("the distillation step: the loss of spec/fusion.md, and the teacher's forward is all it costs") {
  nn::EcgNet teacher(nn::preset_config("tiny", 3, true), 1);
  teacher.set_trainable({});
  teacher.eval();
  const Tensor x = random_input(6, 256, 31);
  Tensor y = zeros({6, 3});
  for (int64_t i = 0; i < 6; ++i) y.data<float>()[i * 3 + i % 3] = 1.0f;

  const auto make_student = [] {
    auto s = std::make_unique<nn::EcgNet>(nn::preset_config("tinylight", 3, true), 2);
    s->set_trainable({"*"});
    return s;
  };
  StepOptions so;
  so.mode = Mode::bp;
  so.aux_weight = 0.5;
  so.normal_class = 2;
  so.teacher = &teacher;
  so.temperature = 2.0;

  // The loss the step reports is BCE(s, sigmoid(t / T)) + BCE(s, y) + aux_weight BCE(s_aux, a(y)) of the student as
  // it was before the update, in training mode on the whole batch.
  auto student = make_student();
  double expected = 0.0;
  {
    NoGradGuard no_grad;
    student->train(true);
    auto copy = make_student();  // the same seed: the same initial weights
    copy->train(true);
    const nn::EcgNetOutput s = copy->forward(x);
    const Tensor t = teacher.forward(x).main_logits;
    expected = nn::distillation_loss(s.aux_logit, s.main_logits, t, y, 2.0, 0.5, 2).item<double>();
    // Written out by hand from the spec, in double: the same number.
    const auto sm = s.main_logits.to_vector<float>(), tm = t.to_vector<float>(), sa = s.aux_logit.to_vector<float>();
    const auto bce = [](double logit, double target) {
      return std::max(logit, 0.0) - logit * target + std::log1p(std::exp(-std::fabs(logit)));
    };
    double soft = 0.0, hard = 0.0, aux = 0.0;
    for (int64_t i = 0; i < 6; ++i) {
      for (int64_t k = 0; k < 3; ++k) {
        const double tk = 1.0 / (1.0 + std::exp(-tm[static_cast<size_t>(i * 3 + k)] / 2.0));
        soft += bce(sm[static_cast<size_t>(i * 3 + k)], tk);
        hard += bce(sm[static_cast<size_t>(i * 3 + k)], y.data<float>()[i * 3 + k]);
      }
      const double abnormal = (i % 3) != 2 ? 1.0 : 0.0;  // class 2 is the normal one
      aux += bce(sa[static_cast<size_t>(i)], abnormal);
    }
    const double by_hand = soft / 18.0 + hard / 18.0 + 0.5 * aux / 6.0;
    CHECK(expected == doctest::Approx(by_hand).epsilon(1e-5));
  }
  nn::AdamW opt(student->trainable_parameters(), {});
  FusionStep step(*student, opt, so);
  PhiloxStream rng(1, 0);
  const StepRecord rec = step.run(x, y, 1e-3, 1.0, rng);
  CHECK(rec.loss == doctest::Approx(expected).epsilon(1e-6));

  // The ledger: the teacher's phase adds exactly what an inference forward of the teacher adds on that batch, and
  // the student's backprop phases hold only the teacher's (B, K) logits more than without a teacher.
  int64_t teacher_added = 0;
  {
    MemoryLedger& L = ledger(Device::cpu());
    NoGradGuard no_grad;
    MemScope scope(MemTag::activations);
    L.reset_peak();
    const int64_t start = L.live_total();
    Tensor t = teacher.forward(x).main_logits;
    teacher_added = L.peak_total() - start;
  }
  const auto phase = [](const StepRecord& r, const std::string& name) -> const PhaseStats& {
    for (const auto& p : r.phases)
      if (p.name == name) return p;
    FAIL("no phase " << name);
    return r.phases.front();
  };
  const PhaseStats& tp = phase(rec, "teacher/forward");
  CHECK(tp.peak_bytes - tp.start_bytes == teacher_added);

  auto plain_student = make_student();
  nn::AdamW opt2(plain_student->trainable_parameters(), {});
  StepOptions no_teacher = so;
  no_teacher.teacher = nullptr;
  FusionStep step2(*plain_student, opt2, no_teacher);
  const StepRecord rec2 = step2.run(x, y, 1e-3, 1.0, rng);
  const int64_t logits_bytes = 6 * 3 * 4;
  for (const std::string name : {"fo/forward", "fo/backward"}) {
    CAPTURE(name);
    const int64_t with = phase(rec, name).peak_bytes - phase(rec, name).start_bytes;
    const int64_t without = phase(rec2, name).peak_bytes - phase(rec2, name).start_bytes;
    // The soft targets and the second BCE term are (B, K) tensors; nothing the size of an activation (here
    // 6 x 64 x 256 floats, 384 KiB) is added.
    CHECK(std::abs(with - without) <= 16 * logits_bytes);
  }
}

TEST_CASE("a distillation run: the teacher's label set is checked, the student learns, and resume is exact") {
  TempDir dir("distill_run");
  write_learnable_dataset(dir / "d.h5");
  // The teacher: a short fine-tuning run on the dataset (LoRA, fusion), as the pipeline makes it.
  TrainConfig t = small_run(dir / "d.h5", dir / "teacher", "fusion");
  t.steps = 10;
  Trainer(plain(t)).run();
  const fs::path teacher = dir / "teacher" / "best.safetensors";
  REQUIRE(fs::exists(teacher));

  TrainConfig s = small_run(dir / "d.h5", dir / "student", "bp");
  s.r = 0;
  s.teacher = teacher.string();
  s.lead_mask = "3lead";
  s.temperature = 2.0;
  s.steps = 20;
  TrainConfig half = s;
  half.out = (dir / "student_half").string();
  half.stop_after = 10;

  // A teacher whose label set is another one is refused, naming both, before anything is written.
  {
    nn::EcgNet other(nn::preset_config("tinylight", 3, true), 1);
    TrainingState st;
    st.classes = classes_to_json({{"164889003", "AF"}, {"426177001", "SB"}, {"426783006", "NSR"}});
    save_training_checkpoint(dir / "other.safetensors", other, nullptr, st);
    TrainConfig bad = s;
    bad.teacher = (dir / "other.safetensors").string();
    bad.out = (dir / "never").string();
    CHECK_THROWS_WITH_AS(Trainer{plain(bad)}, doctest::Contains("teacher [AF, SB, NSR], dataset [AF, RBBB, NSR]"),
                         Error);
    CHECK_FALSE(fs::exists(dir / "never"));
  }

  const TrainResult full = Trainer(plain(s)).run();
  CHECK(full.steps_done == 20);
  // The student's checkpoint carries its lead mask and label set; its report has test figures.
  LoadedTraining h = read_training_checkpoint_header(dir / "student" / "best.safetensors");
  CHECK(h.net_config.input_leads == std::vector<int64_t>{1, 6, 10});
  CHECK(classes_from_json(h.state.classes, "student").size() == 3);
  CHECK(full.report["test"]["macro"]["auroc"]["value"].is_number());

  Trainer(plain(half)).run();
  TrainConfig resume;
  resume.resume = half.out;
  resume.progress = false;
  Trainer(ResolvedConfig{resume, {"resume", "progress"}}).run();
  // Same losses, step by step (the teacher ran again on the same batches after the resume).
  const auto losses = [](const fs::path& run) {
    std::vector<double> out;
    std::ifstream in(run / "steps.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line)["loss"].get<double>());
    return out;
  };
  const auto a = losses(dir / "student"), b = losses(dir / "student_half");
  REQUIRE(a.size() == 20);
  CHECK(a == b);
  CHECK(a.back() < a.front());
}
