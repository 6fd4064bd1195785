// The memory planner (tensor/planning.h) against real runs: the same step with and without a PlanScope must show the
// ledger the same figures, phase by phase and tag by tag, byte for byte.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "fusion/step.h"
#include "nn/ecgnet.h"
#include "tensor/planning.h"
#include "tensor/random.h"

using namespace agf;
using namespace agf::fusion;

namespace {

struct Config {
  std::string preset = "tinylight";
  Mode mode = Mode::fusion;
  int64_t rank = 4;  // 0: every parameter trains
  int64_t batch = 6, bp_batch = 2, length = 512, zo_chunk = 0;
  HeadGrad head_grad = HeadGrad::micro;
  bool gradient_checkpointing = false;
};

// Two steps (the first creates the optimizer's moments); the second's record. Everything is built inside the call,
// so a planned call builds its network, batch and optimizer as plans too.
StepRecord second_step(const Config& c) {
  nn::EcgNet net(nn::preset_config(c.preset, 5, true), 3);
  if (c.rank > 0) {
    net.enable_lora({c.rank, static_cast<double>(c.rank)}, 4);
    net.set_trainable(nn::EcgNet::finetune_patterns());
  } else {
    net.set_trainable({"*"});
  }
  nn::AdamW opt(net.trainable_parameters());
  Tensor x, y;
  {
    MemScope data(MemTag::data);
    x = empty({c.batch, 12, c.length});
    fill_normal_(x, 5, 0);
    y = zeros({c.batch, 5});
  }
  StepOptions o;
  o.mode = c.mode;
  o.bp_batch = c.mode == Mode::bp ? c.batch : c.bp_batch;
  o.zo_chunk = c.zo_chunk;
  o.head_grad = c.head_grad;
  o.gradient_checkpointing = c.gradient_checkpointing;
  FusionStep step(net, opt, o);
  PhiloxStream rng(1);
  step.run(x, y, 1e-3, 0.9, rng);
  return step.run(x, y, 1e-3, 0.9, rng);
}

void check_plan_equals_run(const Config& c) {
  const StepRecord real = second_step(c);
  StepRecord planned;
  {
    PlanScope plan;
    planned = second_step(c);
  }
  CHECK(!planning());
  REQUIRE(real.phases.size() == planned.phases.size());
  CHECK(planned.peak_bytes == real.peak_bytes);
  for (size_t i = 0; i < real.phases.size(); ++i) {
    const PhaseStats &r = real.phases[i], &p = planned.phases[i];
    CAPTURE(r.name);
    CHECK(p.name == r.name);
    CHECK(p.peak_bytes == r.peak_bytes);
    CHECK(p.start_bytes == r.start_bytes);
    for (int t = 0; t < kNumMemTags; ++t) {
      const std::string tag(mem_tag_name(static_cast<MemTag>(t)));
      CAPTURE(tag);
      CHECK(p.tag_peak_bytes[t] == r.tag_peak_bytes[t]);
    }
  }
  MESSAGE(std::string(mode_name(c.mode)), " ", c.preset, " B=", c.batch, " r=", c.rank, ": planned peak ", planned.peak_bytes,
          " bytes = the run's");
}

}  // namespace

TEST_CASE("a planned step shows the ledger exactly what the real step does, in every mode") {
  for (Mode m : {Mode::fusion, Mode::zo, Mode::bp, Mode::fo_micro})
    for (int64_t rank : {int64_t{0}, int64_t{4}}) {
      Config c;
      c.mode = m;
      c.rank = rank;
      const std::string mode = mode_name(m);
      CAPTURE(mode);
      CAPTURE(rank);
      check_plan_equals_run(c);
    }
}

TEST_CASE("the plan stays exact with zo_chunk, head_grad full and a wider preset") {
  Config c;
  c.zo_chunk = 2;
  c.head_grad = HeadGrad::full;
  check_plan_equals_run(c);
  Config base;
  base.preset = "base";
  base.batch = 4;
  base.length = 1024;
  base.rank = 8;
  check_plan_equals_run(base);
}

TEST_CASE("the plan stays exact with gradient checkpointing (the FO pass and bp recompute their blocks)") {
  for (Mode m : {Mode::fusion, Mode::bp}) {
    Config c;
    c.mode = m;
    c.gradient_checkpointing = true;
    const std::string mode = mode_name(m);
    CAPTURE(mode);
    check_plan_equals_run(c);
  }
}

TEST_CASE("a planned inference forward peaks where the real one does, and planning leaves no trace") {
  const auto inference_peak = [] {
    nn::EcgNet net(nn::preset_config("tinylight", 5, true), 3);
    net.eval();
    Tensor x;
    {
      MemScope data(MemTag::data);
      x = empty({4, 12, 1024});
      fill_normal_(x, 5, 0);
    }
    NoGradGuard ng;
    MemScope act(MemTag::activations);
    MemoryLedger& L = ledger(Device::cpu());
    L.reset_peak();
    const nn::EcgNetOutput out = net.forward(x);
    return std::make_pair(L.peak_total(), out.main_logits.to_vector<double>());
  };
  const auto [real_peak, real_logits] = inference_peak();
  std::pair<int64_t, std::vector<double>> planned;
  {
    PlanScope plan;
    planned = inference_peak();
    CHECK_THROWS_WITH_AS(PlanScope(), doctest::Contains("a plan is already running"), Error);
  }
  CHECK(planned.first == real_peak);
  for (double v : planned.second) CHECK(v == 0.0);  // nothing was computed: the outputs read as zeros
  // A real run after the plan computes again, and the same numbers as before.
  const auto [again_peak, again_logits] = inference_peak();
  CHECK(again_peak == real_peak);
  CHECK(again_logits == real_logits);
  bool any_nonzero = false;
  for (double v : again_logits) any_nonzero = any_nonzero || v != 0.0;
  CHECK(any_nonzero);
}
