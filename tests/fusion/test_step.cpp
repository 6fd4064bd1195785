// The correctness tests of spec/fusion.md for one step: the eps -> 0 limit of the ZO estimate against autograd's
// directional derivative (float64), the perturbation's drift bounds, coef = 1 against fo_micro bit for bit, the
// norm-matched fused update against a float64 reference formed by hand, reruns bit-identical, and grad_topk.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "fusion/fusion_test_util.h"
#include "tensor/philox.h"

using namespace agf;
using namespace agf::fusion;
using namespace agf::fusion::test;

namespace {
// p of one ZO estimate and the directional derivative z . grad L of the same loss by autograd (BatchNorm on batch
// statistics, as in the ZO passes), z drawn element by element from Philox at each tensor's counter offset.
std::pair<double, double> zo_vs_autograd(TinySetup& s, double eps) {
  StepOptions o = s.options(Mode::zo);
  o.zo_eps = eps;
  FusionStep step(*s.net, *s.opt, o);
  s.net->train(true);
  s.net->zero_grad();
  {
    nn::EcgNetOutput out = s.net->forward(s.x);
    backward(nn::fusion_loss(out.aux_logit, out.main_logits, s.y, 1.0, s.normal_class).total);
  }
  PhiloxStream rng(7), replay = rng;
  StepRecord rec;
  const auto est = step.zo_estimate(s.x, s.y, rng, false, rec);
  const uint64_t seed = replay.next_u64();
  REQUIRE(est.seeds.size() == 1);
  CHECK(est.seeds[0] == seed);
  double directional = 0.0;
  for (const auto& e : step.perturbed_set().entries()) {
    const std::vector<double> g = grad(*e.param).to_vector<double>();
    for (size_t i = 0; i < g.size(); ++i) directional += static_cast<double>(philox::normal(seed, e.offset + i)) * g[i];
  }
  return {est.p[0], directional};
}
}  // namespace

TEST_CASE("the ZO estimate p matches the directional derivative z . grad L within 1% at eps 1e-3 (float64)") {
  // The finite difference of a loss with kinks has no derivative to match wherever eps z moves a unit across one; so
  // the 1% check runs on a small network (width 16, 17k parameters) without kinks: activations made linear (slope
  // 1) and one token (64 samples), so that the max over tokens is the identity. Every smooth nonlinearity stays:
  // BatchNorm, LayerNorm, attention, the losses' sigmoids. The real network is checked in the limit below.
  for (bool lora : {true, false}) {
    CAPTURE(lora);
    TinySetup s(DType::f64, lora, 6, 64, 1.0, 16);
    const auto [p, directional] = zo_vs_autograd(s, 1e-3);
    MESSAGE((lora ? "LoRA" : "all parameters"), ", smooth network: p = ", p, ", z . grad L = ", directional);
    CHECK(std::fabs(directional) > 1e-3);  // a direction with a real slope, or the comparison proves nothing
    CHECK(std::fabs(p - directional) <= 0.01 * std::fabs(directional));
  }
}

TEST_CASE("on the real network (leaky ReLU) p tends to z . grad L as eps -> 0") {
  double previous = 1e300;
  for (double eps : {1e-3, 1e-4, 1e-5, 1e-6}) {
    TinySetup s(DType::f64, true);
    const auto [p, directional] = zo_vs_autograd(s, eps);
    const double rel = std::fabs(p - directional) / std::fabs(directional);
    MESSAGE("eps ", eps, ": p = ", p, ", z . grad L = ", directional, ", relative error ", rel);
    if (eps <= 1e-5) CHECK(rel < previous);
    previous = rel;
    if (eps == 1e-6) CHECK(rel < 1e-4);
  }
}

TEST_CASE("perturb(+eps), perturb(-eps twice), restore(+eps) returns every parameter to within 4 ulp") {
  TinySetup s(DType::f32, true);
  FusionStep step(*s.net, *s.opt, s.options(Mode::fusion));
  const PerturbedSet& set = step.perturbed_set();
  std::vector<std::vector<float>> start;
  for (const auto& e : set.entries()) start.push_back(e.param->to_vector<float>());
  const double eps = 1e-3;
  const uint64_t seed = 0xD1B54A32D192ED03ull;
  const ops::SpsaDirection z{{{seed, 1.0f}}, 0.0};
  set.perturb(z, eps);
  set.perturb(z, -eps, 2);
  set.perturb(z, eps);
  double worst_ulps = 0.0;
  int64_t moved = 0;
  for (size_t t = 0; t < set.entries().size(); ++t) {
    const auto& e = set.entries()[t];
    const std::vector<float> now = e.param->to_vector<float>();
    for (size_t i = 0; i < now.size(); ++i) {
      // ulp of the largest magnitude the element took on its way (|theta| or eps |z|).
      const double zi = std::fabs(static_cast<double>(philox::normal(seed, e.offset + i)));
      const double scale = std::max(std::fabs(static_cast<double>(start[t][i])), eps * zi);
      const double ulp = std::ldexp(1.0, std::ilogb(std::max(scale, 1e-30)) - 23);
      const double ulps = std::fabs(static_cast<double>(now[i]) - static_cast<double>(start[t][i])) / ulp;
      worst_ulps = std::max(worst_ulps, ulps);
      moved += now[i] != start[t][i];
    }
  }
  MESSAGE("after one perturb/restore cycle: worst ", worst_ulps, " ulp, ", moved, " of ", set.numel(),
          " elements not bit-exact");
  CHECK(worst_ulps <= 4.0);
}

TEST_CASE("over 1000 steps at lr 0 the perturbation drift stays below 1e-6 relative") {
  TinySetup s(DType::f32, true);
  StepOptions o = s.options(Mode::fusion);
  FusionStep step(*s.net, *s.opt, o);
  const std::vector<Tensor> start = s.trainable_copy();
  PhiloxStream rng(3);
  const ops::SpsaDirection plain{{{0, 1.0f}}, 0.0};
  // The cycle of a step at lr 0 (AdamW at lr 0 leaves theta exactly alone: decay 1, step size 0), without the
  // forwards, which do not touch theta: 1000 step seeds, three passes each.
  for (int k = 0; k < 1000; ++k) {
    ops::SpsaDirection z = plain;
    z.queries[0].seed = rng.next_u64();
    step.perturbed_set().perturb(z, o.zo_eps);
    step.perturbed_set().perturb(z, -o.zo_eps, 2);
    step.perturbed_set().perturb(z, o.zo_eps);
  }
  // And a few whole steps at lr 0, forwards and the fused update included: their drift is of the same kind.
  for (int k = 0; k < 5; ++k) step.run(s.x, s.y, 0.0, 0.9, rng);
  const auto [diff, ref] = s.distance_from(start);
  MESSAGE("relative drift after 1000 perturbation cycles + 5 steps at lr 0: ", diff / ref);
  CHECK(diff / ref < 1e-6);
  CHECK(diff > 0);  // it does drift (by rounding): the bound is not vacuous
}

TEST_CASE("fusion with coef = 1 reproduces fo_micro bit for bit") {
  TinySetup a(DType::f32, true), b(DType::f32, true);
  FusionStep fusion(*a.net, *a.opt, a.options(Mode::fusion));
  FusionStep fo(*b.net, *b.opt, b.options(Mode::fo_micro));
  PhiloxStream ra(5), rb(5);
  for (int k = 0; k < 4; ++k) {
    const StepRecord x = fusion.run(a.x, a.y, 1e-2, 1.0, ra);
    const StepRecord y = fo.run(b.x, b.y, 1e-2, 1.0, rb);
    CHECK(!x.zo_ran);
    CHECK(std::memcmp(&x.loss_fo, &y.loss_fo, sizeof(double)) == 0);
  }
  CHECK(a.bitwise_equal(b));
  CHECK(!a.bitwise_equal(TinySetup(DType::f32, true)));  // the steps did move the parameters
}

TEST_CASE("the fused update equals its formula: coef g_fo + (1 - coef) ||g_fo|| sign(p) z / (||z|| + 1e-6)") {
  // float64 throughout, so the comparison with the formula evaluated here by hand is tight.
  TinySetup s(DType::f64, true);
  const double coef = 0.7, lr = 1e-2;
  StepOptions o = s.options(Mode::fusion);
  FusionStep step(*s.net, *s.opt, o);
  // What the step will see: theta, the FO gradient of the micro-batch (after the ZO passes, whose BatchNorm updates
  // the FO pass reads: replay them on a twin), the step seed.
  TinySetup twin(DType::f64, true);
  FusionStep twin_step(*twin.net, *twin.opt, o);
  PhiloxStream rng(11), twin_rng(11);
  StepRecord scratch;
  const auto est = twin_step.zo_estimate(twin.x, twin.y, twin_rng, false, scratch);
  twin.net->train(false);
  twin.net->zero_grad();
  {
    nn::EcgNetOutput out = twin.net->forward(twin.x.narrow(0, 0, o.bp_batch));
    backward(nn::fusion_loss(out.aux_logit, out.main_logits, twin.y.narrow(0, 0, o.bp_batch), 1.0, twin.normal_class).total);
  }
  const StepRecord rec = step.run(s.x, s.y, lr, coef, rng);
  REQUIRE(rec.p.size() == 1);
  CHECK(rec.p[0] == est.p[0]);
  const double sign = rec.p[0] > 0 ? 1.0 : -1.0;
  // AdamW's first step from m = v = 0: theta' = theta (1 - lr wd) - lr g / (|g| + eps) elementwise.
  int checked = 0;
  double worst = 0.0;
  for (const auto& e : twin_step.perturbed_set().entries()) {
    const std::vector<double> theta = e.param->to_vector<double>();
    const Tensor g_t = grad(*e.param);
    REQUIRE(g_t.defined());
    const std::vector<double> g_fo = g_t.to_vector<double>();
    double fo_norm = 0.0, z_norm = 0.0;
    for (size_t i = 0; i < g_fo.size(); ++i) {
      fo_norm += g_fo[i] * g_fo[i];
      const double z = philox::normal(est.seeds[0], e.offset + i);
      z_norm += z * z;
    }
    fo_norm = std::sqrt(fo_norm);
    z_norm = std::sqrt(z_norm);
    const Tensor* live = nullptr;
    for (const auto& [n, t] : s.net->named_parameters())
      if (n == e.name) live = t;
    REQUIRE(live != nullptr);
    const std::vector<double> after = live->to_vector<double>();
    for (size_t i = 0; i < g_fo.size(); ++i) {
      const double z = philox::normal(est.seeds[0], e.offset + i);
      const double g = coef * g_fo[i] + (1 - coef) * fo_norm * sign * z / (z_norm + 1e-6);
      const double expect = theta[i] * (1 - lr * 0.01) - lr * g / (std::fabs(g) + 1e-8);
      worst = std::max(worst, std::fabs(after[i] - expect));
      ++checked;
    }
  }
  MESSAGE("fused update vs its formula on ", checked, " elements: worst |diff| ", worst);
  CHECK(checked > 1000);
  CHECK(worst < 1e-12);
}

TEST_CASE("the same seed gives bit-identical losses and parameters, in every mode") {
  for (Mode m : {Mode::fusion, Mode::zo, Mode::bp, Mode::fo_micro}) {
    CAPTURE(mode_name(m));
    TinySetup a(DType::f32, true), b(DType::f32, true);
    StepOptions o = a.options(m);
    o.zo_queries = m == Mode::zo ? 2 : 1;
    o.zo_sparsity = m == Mode::fusion ? 0.25 : 0.0;
    FusionStep sa(*a.net, *a.opt, o), sb(*b.net, *b.opt, o);
    PhiloxStream ra(21), rb(21);
    for (int k = 0; k < 3; ++k) {
      const StepRecord x = sa.run(a.x, a.y, 5e-3, 0.9, ra), y = sb.run(b.x, b.y, 5e-3, 0.9, rb);
      CHECK(std::memcmp(&x.loss, &y.loss, sizeof(double)) == 0);
    }
    CHECK(a.bitwise_equal(b));
  }
}

TEST_CASE("gradient_checkpointing changes no bit of a step, in every mode that backpropagates") {
  for (Mode m : {Mode::fusion, Mode::bp, Mode::fo_micro}) {
    for (bool lora : {true, false}) {
      CAPTURE(mode_name(m));
      CAPTURE(lora);
      TinySetup a(DType::f32, lora), b(DType::f32, lora);
      StepOptions o = a.options(m), oc = o;
      oc.gradient_checkpointing = true;
      FusionStep sa(*a.net, *a.opt, o), sb(*b.net, *b.opt, oc);
      PhiloxStream ra(41), rb(41);
      for (int k = 0; k < 3; ++k) {
        const StepRecord x = sa.run(a.x, a.y, 5e-3, 0.9, ra), y = sb.run(b.x, b.y, 5e-3, 0.9, rb);
        CHECK(std::memcmp(&x.loss, &y.loss, sizeof(double)) == 0);
        CHECK(std::memcmp(&x.grad_fo_norm, &y.grad_fo_norm, sizeof(double)) == 0);
      }
      CHECK(a.bitwise_equal(b));  // parameters, AdamW's moments aside, and BatchNorm's running statistics
      CHECK(!a.bitwise_equal(TinySetup(DType::f32, lora)));
    }
  }
}

TEST_CASE("grad_topk keeps the k fraction of largest |g| per tensor, found by selection") {
  // The selection against a sort, on a fused gradient with a ZO term (regenerated by each radix pass).
  Tensor g_fo = empty({1000});
  fill_uniform_(g_fo, 5, 0, -1.0, 1.0);
  ops::FusedGradient g{g_fo, 0.6, 0.3, {{{99, 1.0f}}, 0.0}, 8, 0.0};
  std::vector<double> mags;
  const std::vector<float> gv = g_fo.to_vector<float>();
  for (size_t i = 0; i < gv.size(); ++i) {
    const float v = 0.6f * gv[i] + 0.3f * philox::normal(99, 8 + i);
    mags.push_back(std::fabs(v));
  }
  std::sort(mags.rbegin(), mags.rend());
  for (int64_t k : {1, 2, 100, 437, 1000}) {
    CAPTURE(k);
    CHECK(ops::fused_gradient_kth_abs(1000, g, k) == mags[static_cast<size_t>(k - 1)]);
  }
  // In a step: with grad_topk 0.1 each tensor's update touches at most ~10% of its elements' moments.
  TinySetup s(DType::f32, true);
  StepOptions o = s.options(Mode::fusion);
  o.grad_topk = 0.1;
  FusionStep step(*s.net, *s.opt, o);
  PhiloxStream rng(4);
  step.run(s.x, s.y, 1e-2, 0.5, rng);
  int64_t nonzero = 0, total = 0;
  for (const auto& [name, t] : s.opt->state()) {
    if (!name.ends_with(".exp_avg")) continue;
    const std::vector<float> m = t.to_vector<float>();
    if (m.size() < 100) continue;
    for (float v : m) nonzero += v != 0.0f;
    total += static_cast<int64_t>(m.size());
  }
  MESSAGE("grad_topk 0.1: ", nonzero, " of ", total, " first moments nonzero");
  CHECK(total > 0);
  CHECK(nonzero <= total / 10 + 64);
  CHECK(nonzero >= total / 10 - 64);
}

namespace {
const PhaseStats& phase(const StepRecord& r, const std::string& name) {
  for (const auto& p : r.phases)
    if (p.name == name) return p;
  FAIL("no phase ", name);
  return r.phases.front();
}
}  // namespace

TEST_CASE("memory contract: the perturbation and the fused update allocate nothing the size of a parameter") {
  TinySetup s(DType::f32, true, 8, 1024);
  FusionStep step(*s.net, *s.opt, s.options(Mode::fusion));
  PhiloxStream rng(9);
  step.run(s.x, s.y, 1e-3, 0.9, rng);  // the first step creates the AdamW moments (optimizer state, once)
  int64_t smallest = INT64_MAX;
  for (const auto& e : step.perturbed_set().entries()) smallest = std::min<int64_t>(smallest, e.numel * 4);
  const StepRecord r = step.run(s.x, s.y, 1e-3, 0.9, rng);
  for (const char* name : {"zo/perturb+", "zo/perturb-", "zo/restore"}) {
    CAPTURE(name);
    CHECK(phase(r, name).peak_bytes == phase(r, name).start_bytes);  // not one byte
  }
  // The update allocates only the scalars of its norms (a few bytes each, freed at once).
  const PhaseStats& u = phase(r, "update");
  MESSAGE("update phase: at most ", u.peak_bytes - u.start_bytes, " bytes beyond its start; smallest perturbed tensor ",
          smallest, " bytes");
  CHECK(u.peak_bytes - u.start_bytes <= 64);
  CHECK(u.peak_bytes - u.start_bytes < smallest);
}

TEST_CASE("memory contract: a zo step peaks where an inference forward at the same batch does (+1%)") {
  TinySetup s(DType::f32, true, 32, 6144);
  FusionStep step(*s.net, *s.opt, s.options(Mode::zo));
  PhiloxStream rng(9);
  step.run(s.x, s.y, 1e-3, 1.0, rng);
  const StepRecord r = step.run(s.x, s.y, 1e-3, 1.0, rng);
  MemoryLedger& L = ledger(Device::cpu());
  int64_t inference = 0;
  {
    NoGradGuard no_grad;
    MemScope scope(MemTag::activations);
    s.net->eval();
    L.reset_peak();
    nn::EcgNetOutput out = s.net->forward(s.x);
    inference = L.peak_total();
  }
  MESSAGE("zo step peak ", r.peak_bytes / 1048576.0, " MiB; inference forward peak ", inference / 1048576.0, " MiB");
  CHECK(r.peak_bytes <= inference + inference / 100);
  CHECK(r.peak_bytes >= inference - inference / 100);  // the same working set, not a smaller one by accident
}

TEST_CASE("memory contract: a fusion step at B=64, b=4 on preset base peaks below 1/4 of a bp LoRA step at B=64") {
  // base (C 256, 8 layers, 10.3M parameters), LoRA rank 16, 1536-sample inputs (24 tokens; 6144 would cost CI four
  // times the time for the same ratio, which bench/ measures at full length).
  const auto peak_of = [](Mode mode) {
    nn::EcgNet net(nn::preset_config("base", 6, true), 1);
    net.enable_lora({16, 16.0}, 2);
    net.set_trainable(nn::EcgNet::finetune_patterns());
    nn::AdamW opt(net.trainable_parameters());
    StepOptions o;
    o.mode = mode;
    o.bp_batch = 4;
    Tensor x, y;
    {
      MemScope data(MemTag::data);
      x = empty({64, 12, 1536});
      fill_normal_(x, 5, 0);
      y = zeros({64, 6});
    }
    FusionStep step(net, opt, o);
    PhiloxStream rng(1);
    return step.run(x, y, 1e-3, 0.9, rng).peak_bytes;
  };
  const int64_t fusion = peak_of(Mode::fusion), bp = peak_of(Mode::bp);
  MESSAGE("base, B=64: fusion (b=4) step peak ", fusion / 1048576.0, " MiB, bp LoRA step peak ", bp / 1048576.0,
          " MiB: ratio ", static_cast<double>(fusion) / static_cast<double>(bp));
  CHECK(4 * fusion < bp);
}

TEST_CASE("zo_chunk streams the ZO passes: one chunk is the whole batch bit for bit, and the peak is a chunk's") {
  // With the whole batch as one chunk, nothing changes.
  {
    TinySetup a(DType::f32, true, 8, 1024), b(DType::f32, true, 8, 1024);
    StepOptions oa = a.options(Mode::fusion), ob = b.options(Mode::fusion);
    ob.zo_chunk = 8;
    FusionStep sa(*a.net, *a.opt, oa), sb(*b.net, *b.opt, ob);
    PhiloxStream ra(2), rb(2);
    const StepRecord x = sa.run(a.x, a.y, 1e-3, 0.9, ra), y = sb.run(b.x, b.y, 1e-3, 0.9, rb);
    CHECK(std::memcmp(&x.loss_plus, &y.loss_plus, sizeof(double)) == 0);
    CHECK(a.bitwise_equal(b));
  }
  // Chunks of 4 records at B = 32: the ZO passes peak where an inference forward at B = 4 does (the batch itself,
  // tagged data, aside), far below the whole batch's.
  TinySetup s(DType::f32, true, 32, 6144);
  StepOptions o = s.options(Mode::zo);
  o.zo_chunk = 4;
  FusionStep step(*s.net, *s.opt, o);
  PhiloxStream rng(3);
  step.run(s.x, s.y, 1e-3, 1.0, rng);
  const StepRecord r = step.run(s.x, s.y, 1e-3, 1.0, rng);
  MemoryLedger& L = ledger(Device::cpu());
  int64_t inference4 = 0;
  {
    NoGradGuard no_grad;
    MemScope scope(MemTag::activations);
    s.net->train(true);
    L.reset_peak();
    nn::EcgNetOutput out = s.net->forward(s.x.narrow(0, 0, 4));
    inference4 = L.peak_total();
  }
  const int64_t zo_peak = std::max(phase(r, "zo/forward+").peak_bytes, phase(r, "zo/forward-").peak_bytes);
  MESSAGE("B=32 in chunks of 4: ZO pass peak ", zo_peak / 1048576.0, " MiB; inference forward at B=4 ",
          inference4 / 1048576.0, " MiB");
  CHECK(zo_peak <= inference4 + inference4 / 100);
}

TEST_CASE("reference_compat: L- leaves the auxiliary term out and the auxiliary target is 1, as the reference does") {
  // At a tiny eps the main losses of the two passes cancel, so L+ - L- is what the passes do not share: the
  // auxiliary term with target 1 (aux_weight 1), which only L+ carries.
  TinySetup s(DType::f64, true);
  StepOptions o = s.options(Mode::zo);
  o.reference_compat = true;
  o.zo_eps = 1e-9;
  FusionStep step(*s.net, *s.opt, o);
  double aux_target_one = 0.0;
  {
    NoGradGuard no_grad;
    s.net->train(true);
    nn::EcgNetOutput out = s.net->forward(s.x);
    aux_target_one = ops::bce_with_logits(out.aux_logit, ones({s.x.size(0), 1}, DType::f64)).item<double>();
  }
  PhiloxStream rng(1);
  StepRecord rec;
  step.zo_estimate(s.x, s.y, rng, false, rec);
  MESSAGE("L+ - L- = ", rec.loss_plus - rec.loss_minus, "; BCE(aux, 1) = ", aux_target_one);
  CHECK(std::fabs((rec.loss_plus - rec.loss_minus) - aux_target_one) <= 1e-6 * aux_target_one);
  // Without compat both passes carry the same loss, with the abnormal/normal target: the difference vanishes.
  TinySetup t(DType::f64, true);
  FusionStep plain(*t.net, *t.opt, [&] { StepOptions p = o; p.reference_compat = false; return p; }());
  PhiloxStream rng2(1);
  StepRecord rec2;
  plain.zo_estimate(t.x, t.y, rng2, false, rec2);
  CHECK(std::fabs(rec2.loss_plus - rec2.loss_minus) < 1e-6);
}
