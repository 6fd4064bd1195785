// EcgNet and the whole AdaGrad-Fusion step on the GPU against the CPU reference, and the GPU's determinism. These
// skip, with the reason, where no CUDA device answers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "common/test_util.h"
#include "fusion/fusion_test_util.h"

using namespace agf;
using namespace agf::fusion;
using namespace agf::fusion::test;

namespace {

// The same tiny network and batch (one seed) on `device`.
TinySetup on_device(Device device, bool lora) {
  TinySetup s(DType::f32, lora);
  s.net->to(device);
  s.x = s.x.to(device);
  s.y = s.y.to(device);
  return s;
}

// max |a - b| / max |b| over two tensors of one shape (on any devices).
double rel_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to(Device::cpu()).to_vector<double>(), vb = b.to(Device::cpu()).to_vector<double>();
  REQUIRE(va.size() == vb.size());
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::fabs(va[i] - vb[i]));
    scale = std::max(scale, std::fabs(vb[i]));
  }
  return diff / std::max(scale, 1e-30);
}

double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); }

}  // namespace

AGF_GPU_TEST("EcgNet forward and backward on CUDA match the CPU (tinylight, LoRA and all parameters)") {
  for (bool lora : {true, false}) {
    CAPTURE(lora);
    TinySetup cpu = on_device(Device::cpu(), lora), gpu = on_device(Device::cuda(0), lora);
    for (TinySetup* s : {&cpu, &gpu}) {
      s->net->train(true);
      s->net->zero_grad();
    }
    const nn::EcgNetOutput oc = cpu.net->forward(cpu.x), og = gpu.net->forward(gpu.x);
    CHECK(rel_diff(og.main_logits, oc.main_logits) < 1e-4);
    const Tensor lc = nn::fusion_loss(oc.aux_logit, oc.main_logits, cpu.y, 1.0, 0).total;
    const Tensor lg = nn::fusion_loss(og.aux_logit, og.main_logits, gpu.y, 1.0, 0).total;
    CHECK(rel(lg.to(Device::cpu()).item<double>(), lc.item<double>()) < 1e-5);
    backward(lc);
    backward(lg);
    const auto pc = cpu.net->trainable_parameters(), pg = gpu.net->trainable_parameters();
    REQUIRE(pc.size() == pg.size());
    for (size_t i = 0; i < pc.size(); ++i) {
      CAPTURE(pc[i].first);
      CHECK(grad(*pg[i].second).device() == Device::cuda(0));
      CHECK(rel_diff(grad(*pg[i].second), grad(*pc[i].second)) < 1e-3);
    }
  }
}

AGF_GPU_TEST("a full fusion step on CUDA gives the CPU's losses to 1e-5 relative, in every mode") {
  for (Mode m : {Mode::fusion, Mode::zo, Mode::fo_micro, Mode::bp}) {
    const std::string mode = mode_name(m);
    CAPTURE(mode);
    TinySetup cpu = on_device(Device::cpu(), true), gpu = on_device(Device::cuda(0), true);
    FusionStep sc(*cpu.net, *cpu.opt, cpu.options(m)), sg(*gpu.net, *gpu.opt, gpu.options(m));
    PhiloxStream rc(11), rg(11);
    // One step: the losses of its passes agree; after it the parameters moved alike (the ZO direction is regenerated
    // on the GPU from the same counters).
    const StepRecord a = sc.run(cpu.x, cpu.y, 1e-3, 0.5, rc), b = sg.run(gpu.x, gpu.y, 1e-3, 0.5, rg);
    CHECK(rel(b.loss, a.loss) < 1e-5);
    if (a.zo_ran) {
      CHECK(rel(b.loss_plus, a.loss_plus) < 1e-5);
      CHECK(rel(b.loss_minus, a.loss_minus) < 1e-5);
    }
    if (a.fo_ran) CHECK(rel(b.loss_fo, a.loss_fo) < 1e-5);
    const auto pc = cpu.net->trainable_parameters(), pg = gpu.net->trainable_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
      CAPTURE(pc[i].first);
      CHECK(rel_diff(*pg[i].second, *pc[i].second) < 1e-4);
    }
    // The second step starts from those parameters: its loss still agrees.
    const StepRecord a2 = sc.run(cpu.x, cpu.y, 1e-3, 0.5, rc), b2 = sg.run(gpu.x, gpu.y, 1e-3, 0.5, rg);
    CHECK(rel(b2.loss, a2.loss) < 1e-5);
  }
}

AGF_GPU_TEST("the same seed twice on the GPU gives bit-identical losses and parameters") {
  for (Mode m : {Mode::fusion, Mode::bp}) {
    const std::string mode = mode_name(m);
    CAPTURE(mode);
    std::vector<std::vector<double>> losses(2);
    std::vector<std::vector<double>> params(2);
    for (int run = 0; run < 2; ++run) {
      TinySetup s = on_device(Device::cuda(0), true);
      FusionStep step(*s.net, *s.opt, s.options(m));
      PhiloxStream rng(5);
      for (int i = 0; i < 3; ++i) {
        const StepRecord r = step.run(s.x, s.y, 1e-3, 0.5, rng);
        losses[run].push_back(r.loss);
        losses[run].push_back(r.loss_plus);
        losses[run].push_back(r.loss_minus);
      }
      for (auto& [name, t] : s.net->trainable_parameters()) {
        const std::vector<double> v = t->to(Device::cpu()).to_vector<double>();
        params[run].insert(params[run].end(), v.begin(), v.end());
      }
    }
    CHECK(losses[0] == losses[1]);
    CHECK(params[0] == params[1]);
  }
}

AGF_GPU_TEST("gradient_checkpointing on the GPU: the step of the plain backward, and the CPU's checkpointed step") {
  for (Mode m : {Mode::fusion, Mode::bp}) {
    const std::string mode = mode_name(m);
    CAPTURE(mode);
    TinySetup plain = on_device(Device::cuda(0), true), ckpt = on_device(Device::cuda(0), true),
              cpu = on_device(Device::cpu(), true);
    StepOptions oc = ckpt.options(m);
    oc.gradient_checkpointing = true;
    FusionStep sp(*plain.net, *plain.opt, plain.options(m)), sc(*ckpt.net, *ckpt.opt, oc), su(*cpu.net, *cpu.opt, oc);
    PhiloxStream rp(13), rc(13), ru(13);
    for (int i = 0; i < 2; ++i) {
      const StepRecord a = sp.run(plain.x, plain.y, 1e-3, 0.5, rp), b = sc.run(ckpt.x, ckpt.y, 1e-3, 0.5, rc),
                       c = su.run(cpu.x, cpu.y, 1e-3, 0.5, ru);
      // The recomputation runs the graph-free forward's kernels (in place, the LoRA pair): float rounding apart.
      CHECK(rel(b.loss, a.loss) < 1e-6);
      CHECK(rel(b.grad_fo_norm, a.grad_fo_norm) < 1e-5);
      CHECK(rel(b.loss, c.loss) < 1e-5);
    }
    const auto pp = plain.net->trainable_parameters(), pc = ckpt.net->trainable_parameters();
    for (size_t i = 0; i < pp.size(); ++i) {
      CAPTURE(pp[i].first);
      CHECK(rel_diff(*pc[i].second, *pp[i].second) < 1e-5);
    }
  }
}

AGF_GPU_TEST("spsa_sqnorms and fused_gradient_kth_abs on CUDA give the CPU's values") {
  // Two queries and a sparsity mask over three tensors, one of them straddling Philox blocks.
  ops::SpsaDirection d;
  d.queries = {{1234, 1.0f}, {99, -0.5f}};
  d.sparsity = 0.25;
  const std::vector<int64_t> numels{1000, 37, 70001};
  const std::vector<uint64_t> offsets{0, 1000, 1040};
  const std::vector<double> cpu = ops::spsa_sqnorms(numels, offsets, d);
  const std::vector<double> gpu = ops::spsa_sqnorms(numels, offsets, d, Device::cuda(0));
  REQUIRE(gpu.size() == cpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) CHECK(rel(gpu[i], cpu[i]) < 1e-6);  // float32 normals an ulp apart at most

  // The k-th largest |g| of a first-order gradient alone is exact; with a ZO term, as close as the normals.
  Tensor g_cpu = empty({4096});
  fill_normal_(g_cpu, 5, 0);
  const Tensor g_gpu = g_cpu.to(Device::cuda(0));
  for (const bool zo : {false, true}) {
    CAPTURE(zo);
    ops::FusedGradient fc, fg;
    fc.g_fo = g_cpu;
    fg.g_fo = g_gpu;
    fc.fo_scale = fg.fo_scale = 0.7;
    if (zo) {
      fc.zo_scale = fg.zo_scale = 0.3;
      fc.direction = fg.direction = d;
      fc.offset = fg.offset = 8;
    }
    for (const int64_t k : {int64_t{1}, int64_t{10}, int64_t{410}, int64_t{4096}}) {
      CAPTURE(k);
      const double a = ops::fused_gradient_kth_abs(4096, fc, k);
      const double b = ops::fused_gradient_kth_abs(4096, fg, k, Device::cuda(0));
      if (zo) CHECK(rel(b, a) < 1e-6);
      else CHECK(b == a);
    }
  }
}

AGF_GPU_TEST("a fusion step with grad_topk on CUDA matches the CPU") {
  TinySetup cpu = on_device(Device::cpu(), true), gpu = on_device(Device::cuda(0), true);
  StepOptions oc = cpu.options(Mode::fusion), og = gpu.options(Mode::fusion);
  oc.grad_topk = og.grad_topk = 0.1;
  FusionStep sc(*cpu.net, *cpu.opt, oc), sg(*gpu.net, *gpu.opt, og);
  PhiloxStream rc(3), rg(3);
  const StepRecord a = sc.run(cpu.x, cpu.y, 1e-3, 0.5, rc), b = sg.run(gpu.x, gpu.y, 1e-3, 0.5, rg);
  CHECK(rel(b.loss, a.loss) < 1e-5);
  const auto pc = cpu.net->trainable_parameters(), pg = gpu.net->trainable_parameters();
  for (size_t i = 0; i < pc.size(); ++i) {
    CAPTURE(pc[i].first);
    CHECK(rel_diff(*pg[i].second, *pc[i].second) < 1e-4);
  }
}
