// The SPSA kernels of AdaGrad-Fusion: the perturbation of a whole parameter set in one call (several tensors, their
// counter offsets, sparsity masks, combinations of queries) and the fused AdamW update that forms
// g = fo * g_fo + zo * d element by element. References are float64 and draw z and the mask element by element from
// philox::normal / philox::uniform, independently of the kernels' block-wise loops.
#include <cmath>

#include "kernels/cases.h"
#include "kernels/dispatch.h"
#include "tensor/philox.h"

namespace agf::kt {

namespace {

// d at global counter index i, in double, as spec/fusion.md defines it.
double direction_at(const ops::SpsaDirection& dir, uint64_t i) {
  double d = 0.0;
  for (const auto& q : dir.queries) {
    const bool kept = dir.sparsity <= 0.0 ||
                      static_cast<double>(philox::uniform(math::spsa_mask_seed(q.seed), i)) >= dir.sparsity;
    if (kept) d += static_cast<double>(q.weight) * static_cast<double>(philox::normal(q.seed, i));
  }
  return d;
}

std::string direction_name(const ops::SpsaDirection& d) {
  std::string s = fmt::format("q{}", d.queries.size());
  if (d.sparsity > 0) s += fmt::format(" sparsity {}", d.sparsity);
  return s;
}

// ------------------------------------------------------------------------------------------------ perturbation
struct SetVariant {
  std::vector<Shape> shapes;
  std::vector<uint64_t> offsets;  // disjoint counter ranges, some not on a Philox block boundary
  ops::SpsaDirection dir;
  double scale;
  int repeats = 1;  // roundings per element (the ZO passes' minus step is -eps twice)
};

void add_spsa_perturb(std::vector<Case>& cases) {
  constexpr uint64_t kFar = (uint64_t{1} << 40) + 1;
  const ops::SpsaDirection plain{{{18, 1.0f}}, 0.0};
  const std::vector<SetVariant> variants = {
      {{{1}}, {3}, plain, 1e-3},
      {{{7}, {5, 9}, {3, 1, 13}}, {0, 7, 54}, plain, -2e-3},  // back-to-back ranges, the second mid-block
      {{{37}, {70001}}, {kFar, kFar + 40}, {{{0x123456789ABCDEF0ull, 1.0f}}, 0.0}, 0.5},  // the parallel path
      {{{33}, {4099}}, {1, 100}, {{{7, 1.0f}}, 0.5}, 0.25},                                // half the elements masked
      {{{129}}, {2}, {{{5, 0.75f}, {6, -0.25f}, {9, 1.5f}}, 0.0}, 1.0},                    // three queries combined
      {{{6, 11}}, {5}, {{{5, 0.5f}, {11, -2.0f}}, 0.9}, -0.5},                             // queries and sparsity
      {{{9}, {4101}}, {0, 9}, {{{77, 1.0f}}, 0.0}, -1e-3, 2},                              // the minus step
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "spsa_perturb";
    c.gpu_rtol_f64 = c.rtol_f32;  // float32 normals (harness.h)
    std::string shapes;
    for (const auto& s : v.shapes) shapes += shape_str(s);
    c.name = fmt::format("{} offsets {} {} scale {}{}", shapes, fmt::join(v.offsets, ","), direction_name(v.dir),
                         v.scale, v.repeats > 1 ? fmt::format(" x{}", v.repeats) : "");
    for (const auto& s : v.shapes) c.inputs.push_back(InputSpec{s, Layout::contiguous});
    c.forward = [v](const std::vector<Tensor>& in, Guard& g) {
      std::vector<Tensor> params;
      for (const Tensor& t : in) params.push_back(g.out(t.shape(), t.dtype(), t.device()).copy_(t));
      ops::spsa_perturb_(params, v.offsets, v.dir, v.scale, v.repeats);
      return params;
    };
    c.reference = [v](const std::vector<Ref>& in) {
      std::vector<Ref> out = in;
      for (size_t t = 0; t < out.size(); ++t)
        for (int64_t i = 0; i < out[t].numel(); ++i)
          out[t].v[i] += v.repeats * v.scale * direction_at(v.dir, v.offsets[t] + static_cast<uint64_t>(i));
      return out;
    };
    c.flops = [v] {
      double n = 0;
      for (const auto& s : v.shapes) n += static_cast<double>(shape_numel(s));
      return 2.0 * n * static_cast<double>(v.dir.queries.size());
    };
    cases.push_back(std::move(c));
  }
}

// ------------------------------------------------------------------------------------------------ fused AdamW
struct FusedVariant {
  Shape shape;
  bool with_fo;
  double fo_scale, zo_scale;
  ops::SpsaDirection dir;
  uint64_t offset;
  ops::AdamWArgs args;
};

void add_fused_adamw(std::vector<Case>& cases) {
  const ops::AdamWArgs first{1e-2, 0.9, 0.999, 1e-8, 0.01, 1}, later{2.5e-3, 0.9, 0.999, 1e-8, 0.01, 10};
  const std::vector<FusedVariant> variants = {
      {{5, 9}, true, 1.0, 0.0, {}, 0, first},                                    // plain AdamW through the fused op
      {{37}, true, 0.9, 0.013, {{{18, 1.0f}}, 0.0}, 3, later},                   // fusion: coef g_fo + norm-matched z
      {{3, 1, 17}, false, 0.0, -0.7, {{{21, 1.0f}}, 0.0}, 1, first},            // zo: g = p z
      {{2, 30001}, true, 0.5, 0.2, {{{0xC0FFEEull, 1.0f}}, 0.3}, 6, later},      // the parallel path, sparse z
      {{129}, true, 0.99, 0.05, {{{4, 0.5f}, {8, -0.5f}}, 0.0}, 2, later},       // two queries
  };
  for (const auto& v : variants) {
    Case c;
    c.op = "fused_adamw";
    c.gpu_rtol_f64 = c.rtol_f32;  // float32 normals (harness.h)
    c.name = fmt::format("{} fo {}{} zo {} {} offset {} step {}", shape_str(v.shape), v.fo_scale,
                         v.with_fo ? "" : " (no g_fo)", v.zo_scale, direction_name(v.dir), v.offset, v.args.step);
    c.inputs = {InputSpec{v.shape, Layout::contiguous, -0.05, 0.05}, InputSpec{v.shape, Layout::contiguous, -1.0, 1.0},
                InputSpec{v.shape, Layout::contiguous, -0.1, 0.1}, InputSpec{v.shape, Layout::contiguous, 0.0, 0.01}};
    c.forward = [v](const std::vector<Tensor>& in, Guard& g) {
      Tensor p = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[0]);
      Tensor m = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[2]);
      Tensor s = g.out(in[0].shape(), in[0].dtype(), in[0].device()).copy_(in[3]);
      ops::FusedGradient fg{v.with_fo ? in[1] : Tensor(), v.fo_scale, v.zo_scale, v.dir, v.offset, 0.0};
      ops::fused_adamw_(p, m, s, fg, v.args);
      return std::vector<Tensor>{p, m, s};
    };
    c.reference = [v](const std::vector<Ref>& in) {
      Ref p = in[0], m = in[2], s = in[3];
      const auto& a = v.args;
      const double t = static_cast<double>(a.step);
      const double bias1 = 1.0 - std::pow(a.beta1, t), bias2 = 1.0 - std::pow(a.beta2, t);
      for (int64_t i = 0; i < p.numel(); ++i) {
        double g = v.with_fo ? v.fo_scale * in[1].v[i] : 0.0;
        if (v.zo_scale != 0.0) g += v.zo_scale * direction_at(v.dir, v.offset + static_cast<uint64_t>(i));
        p.v[i] *= 1.0 - a.lr * a.weight_decay;
        m.v[i] = a.beta1 * m.v[i] + (1.0 - a.beta1) * g;
        s.v[i] = a.beta2 * s.v[i] + (1.0 - a.beta2) * g * g;
        p.v[i] -= a.lr / bias1 * m.v[i] / (std::sqrt(s.v[i]) / std::sqrt(bias2) + a.eps);
      }
      return std::vector<Ref>{p, m, s};
    };
    c.flops = [v] { return 16.0 * static_cast<double>(shape_numel(v.shape)); };
    cases.push_back(std::move(c));
  }
}

}  // namespace

void add_spsa_cases(std::vector<Case>& cases) {
  add_spsa_perturb(cases);
  add_fused_adamw(cases);
}

}  // namespace agf::kt
