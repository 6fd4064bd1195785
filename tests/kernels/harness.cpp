#include "kernels/harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cases.h"
#include "tensor/philox.h"

namespace agf::kt {

int64_t Ref::offset(std::initializer_list<int64_t> idx) const {
  int64_t off = 0, d = 0;
  for (auto i : idx) off = off * shape[d++] + i;
  return off;
}

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::transposed: return "transposed";
    case Layout::strided: return "strided";
    case Layout::expanded: return "expanded";
  }
  return "?";
}

// ------------------------------------------------------------------------------------------------ guards
namespace {
constexpr uint8_t kSentinel = 0xA5;

Tensor host_pattern(int64_t n, DType dt) {
  Tensor t = empty({n}, dt, Device::cpu());
  std::memset(t.raw_data(), kSentinel, t.nbytes());
  return t;
}
}  // namespace

Tensor Guard::out(const Shape& shape, DType dtype, Device device) {
  if (!checked_) return empty(shape, dtype, device);
  const int64_t n = shape_numel(shape);
  Tensor host = host_pattern(n + 2 * kGuardElems, dtype);
  // Poison the inside too: an element the kernel forgets to write shows up as NaN (or a sentinel integer).
  if (is_floating(dtype)) host.narrow(0, kGuardElems, n).fill_(std::numeric_limits<double>::quiet_NaN());
  Tensor buffer = host.to(device);
  slots_.push_back({buffer, n});
  return buffer.narrow(0, kGuardElems, n).view(shape);
}

Tensor Guard::zeros(const Shape& shape, DType dtype, Device device) { return out(shape, dtype, device).zero_(); }

Tensor Guard::out_strided(const Shape& shape, DType dtype, Device device) {
  AGF_CHECK(!shape.empty(), "harness: a strided output needs at least one dim");
  if (!checked_) return empty(shape, dtype, device);
  Shape wide = shape;
  wide.back() = 2 * shape.back() + 1;
  const int64_t n = shape_numel(wide);
  Tensor host = host_pattern(n + 2 * kGuardElems, dtype);
  Tensor view = host.narrow(0, kGuardElems, n).view(wide).slice(-1, 1, wide.back(), 2);
  if (is_floating(dtype)) view.fill_(std::numeric_limits<double>::quiet_NaN());
  Tensor buffer = host.to(device);
  slots_.push_back({buffer, n, wide.back()});
  return buffer.narrow(0, kGuardElems, n).view(wide).slice(-1, 1, wide.back(), 2);
}

std::string Guard::verify() const {
  for (size_t s = 0; s < slots_.size(); ++s) {
    Tensor host = slots_[s].buffer.to(Device::cpu());
    const auto* bytes = static_cast<const uint8_t*>(host.raw_data());
    const size_t es = host.element_size();
    const size_t n = static_cast<size_t>(slots_[s].n);
    for (size_t b = 0; b < kGuardElems * es; ++b) {
      if (bytes[b] != kSentinel) return fmt::format("output {}: guard byte {} before the data overwritten", s, b);
      const size_t after = (kGuardElems + n) * es + b;
      if (bytes[after] != kSentinel) return fmt::format("output {}: guard byte {} after the data overwritten", s, b);
    }
    const int64_t row = slots_[s].row;
    for (int64_t e = 0; row > 0 && e < static_cast<int64_t>(n); ++e) {
      if ((e % row) % 2 == 1) continue;  // data: the odd positions of each row
      const uint8_t* p = bytes + (kGuardElems + e) * es;
      for (size_t b = 0; b < es; ++b)
        if (p[b] != kSentinel) return fmt::format("output {}: the gap at element {} of a strided output written", s, e);
    }
  }
  return {};
}

// ------------------------------------------------------------------------------------------------ inputs
Ref random_ref(const InputSpec& spec, uint64_t seed, DType dtype) {
  const Shape stored = spec.layout == Layout::expanded ? spec.expand_from : spec.shape;
  Ref compact(stored);
  for (int64_t i = 0; i < compact.numel(); ++i) {
    double x = spec.lo + (spec.hi - spec.lo) * static_cast<double>(philox::uniform(seed, static_cast<uint64_t>(i)));
    // Add finer bits so values are not all on a 2^-24 grid, then round to the dtype under test.
    x += (spec.hi - spec.lo) * 1e-8 * static_cast<double>(philox::uniform(seed ^ 0x9E37u, static_cast<uint64_t>(i)));
    compact.v[i] = dtype == DType::f32 ? static_cast<double>(static_cast<float>(x)) : x;
  }
  if (spec.layout != Layout::expanded) return compact;
  Tensor t = from_vector<double>(compact.v, stored).expand(spec.shape).contiguous();
  return to_ref(t);
}

Tensor make_input(const InputSpec& spec, const Ref& values, DType dtype, Device device) {
  Tensor dense = from_vector<double>(values.v, values.shape).to(dtype);
  const int64_t nd = static_cast<int64_t>(spec.shape.size());
  switch (spec.layout) {
    case Layout::contiguous: return dense.to(device);
    case Layout::transposed: {
      AGF_CHECK(nd >= 2, "harness: a transposed input needs 2+ dims, got {}", shape_str(spec.shape));
      Shape swapped = spec.shape;
      std::swap(swapped[nd - 1], swapped[nd - 2]);
      Tensor base = full(swapped, std::numeric_limits<double>::quiet_NaN(), dtype, device);
      Tensor view = base.transpose(-1, -2);
      view.copy_(dense);
      return view;
    }
    case Layout::strided: {
      AGF_CHECK(nd >= 1, "harness: a strided input needs 1+ dims");
      Shape wide = spec.shape;
      wide[nd - 1] = 2 * wide[nd - 1] + 1;
      Tensor base = full(wide, std::numeric_limits<double>::quiet_NaN(), dtype, device);
      Tensor view = base.slice(-1, 1, 2 * spec.shape[nd - 1] + 1, 2);
      view.copy_(dense);
      return view;
    }
    case Layout::expanded: {
      Tensor compact = dense;
      for (int64_t d = 0; d < nd; ++d)
        if (spec.expand_from[d] == 1 && spec.shape[d] != 1) compact = compact.narrow(d, 0, 1);
      return compact.contiguous().to(device).expand(spec.shape);
    }
  }
  return dense;
}

Ref to_ref(const Tensor& t) {
  Ref r(t.shape());
  r.v = t.to(Device::cpu()).to(DType::f64).to_vector<double>();
  return r;
}

Tensor strided_copy(const Tensor& t) {
  return make_input(InputSpec{t.shape(), Layout::strided}, to_ref(t), t.dtype(), t.device());
}

std::string layout_tag(const char* name, Layout l) {
  return l == Layout::contiguous ? std::string() : fmt::format(" {}:{}", name, layout_name(l));
}

// ------------------------------------------------------------------------------------------------ comparison
namespace {

uint64_t input_seed(int case_index, size_t input_index) {
  return 0xC0FFEEull * 1000003ull + static_cast<uint64_t>(case_index) * 131ull + input_index;
}

// Appends one line; returns false when some element is out of tolerance (or not finite where the ref is).
bool compare(Outcome& o, const std::string& what, const Ref& got, const Ref& ref, double rtol, double atol_frac,
             double abs_tol = 0.0) {
  if (got.shape != ref.shape) {
    o.lines.push_back(fmt::format("{}: shape {} but reference {}", what, shape_str(got.shape), shape_str(ref.shape)));
    return o.ok = false;
  }
  double max_abs_ref = 0;
  for (double r : ref.v) max_abs_ref = std::max(max_abs_ref, std::fabs(r));
  double worst = 0, worst_err = 0;
  int64_t worst_at = -1;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double err = std::fabs(got.v[i] - ref.v[i]);
    const double tol =
        rtol * (std::fabs(ref.v[i]) + atol_frac * max_abs_ref) + abs_tol + std::numeric_limits<double>::min();
    const double ratio = std::isnan(err) ? std::numeric_limits<double>::infinity() : err / tol;
    if (ratio > worst || worst_at < 0) {
      worst = ratio;
      worst_err = err;
      worst_at = i;
    }
  }
  const bool pass = worst <= 1.0;
  o.lines.push_back(fmt::format("{}: {} (worst err/tol {:.3g}, |err| {:.3g} at {}: got {:.9g} ref {:.9g})", what,
                                pass ? "ok" : "FAIL", worst, worst_err, worst_at,
                                worst_at >= 0 ? got.v[worst_at] : 0.0, worst_at >= 0 ? ref.v[worst_at] : 0.0));
  if (!pass) o.ok = false;
  return pass;
}

void check_guard(Outcome& o, const std::string& what, const Guard& g) {
  if (auto msg = g.verify(); !msg.empty()) {
    o.lines.push_back(fmt::format("{}: FAIL out-of-bounds write: {}", what, msg));
    o.ok = false;
  }
}

std::vector<Tensor> build_inputs(const Case& c, const std::vector<Ref>& refs, DType dt, Device dev) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.inputs.size(); ++i) in.push_back(make_input(c.inputs[i], refs[i], dt, dev));
  return in;
}

std::vector<Ref> input_refs(const Case& c, int case_index, DType rounding) {
  std::vector<Ref> refs;
  for (size_t i = 0; i < c.inputs.size(); ++i) refs.push_back(random_ref(c.inputs[i], input_seed(case_index, i), rounding));
  return refs;
}

bool output_is_differentiable(const Case& c, size_t k, const Tensor& out) {
  if (k < c.output_differentiable.size()) return c.output_differentiable[k];
  return is_floating(out.dtype());
}

// f = sum_k <out_k, w_k>, and the sum of the magnitudes of its terms (what bounds its rounding error).
std::pair<double, double> objective(const std::vector<Ref>& outs, const std::vector<Ref>& weights) {
  double f = 0, mag = 0;
  for (size_t k = 0; k < weights.size(); ++k) {
    if (weights[k].v.empty()) continue;
    for (int64_t i = 0; i < outs[k].numel(); ++i) {
      f += outs[k].v[i] * weights[k].v[i];
      mag += std::fabs(outs[k].v[i] * weights[k].v[i]);
    }
  }
  return {f, mag};
}

void run_forward(const Case& c, int ci, DType dt, Outcome& o) {
  const std::vector<Ref> refs = input_refs(c, ci, dt);
  Guard g;
  const std::vector<Tensor> outs = c.forward(build_inputs(c, refs, dt, Device::cpu()), g);
  check_guard(o, fmt::format("forward {}", dt), g);
  const std::vector<Ref> expect = c.reference(refs);
  AGF_CHECK(outs.size() == expect.size(), "harness: {} outputs but {} reference outputs", outs.size(), expect.size());
  const double rtol = dt == DType::f32 ? c.rtol_f32 : c.rtol_f64;
  for (size_t k = 0; k < outs.size(); ++k)
    compare(o, fmt::format("forward {} out{}", dt, k), to_ref(outs[k]), expect[k], is_floating(outs[k].dtype()) ? rtol : 0.0,
            c.atol_frac);
}

void run_gradients(const Case& c, int ci, Outcome& o) {
  // f32-representable values, so the f32 and f64 backward see the same inputs.
  const std::vector<Ref> refs = input_refs(c, ci, DType::f32);
  Guard fg;
  const std::vector<Tensor> outs = c.forward(build_inputs(c, refs, DType::f64, Device::cpu()), fg);
  std::vector<Ref> weights(outs.size());
  std::vector<Tensor> grad_out64(outs.size()), grad_out32(outs.size());
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!output_is_differentiable(c, k, outs[k])) continue;
    const InputSpec ws{outs[k].shape(), Layout::contiguous, -1.0, 1.0};
    weights[k] = random_ref(ws, input_seed(ci, 1000 + k), DType::f32);
    grad_out64[k] = make_input(ws, weights[k], DType::f64, Device::cpu());
    grad_out32[k] = make_input(ws, weights[k], DType::f32, Device::cpu());
  }
  Guard g64, g32;
  const std::vector<Tensor> grads64 = c.backward(build_inputs(c, refs, DType::f64, Device::cpu()), grad_out64, g64);
  const std::vector<Tensor> grads32 = c.backward(build_inputs(c, refs, DType::f32, Device::cpu()), grad_out32, g32);
  check_guard(o, "backward f64", g64);
  check_guard(o, "backward f32", g32);
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    if (!c.inputs[i].differentiable) continue;
    AGF_CHECK(i < grads64.size() && grads64[i].defined(), "harness: {} gives no gradient for input {}", c.op, i);
    const Ref analytic = to_ref(grads64[i]);
    // Central differences of the float64 reference at a spread of elements.
    const int64_t n = refs[i].numel();
    const int64_t samples = std::min(n, c.fd_samples);
    Ref fd_got({samples}), fd_ref({samples});
    double noise = 0;  // rounding error of the differences: eps * |terms of f| / h
    std::vector<Ref> probe = refs;
    for (int64_t s = 0; s < samples; ++s) {
      const int64_t e = samples == n ? s : (s * 7919) % n;
      const double x0 = refs[i].v[e];
      const double h = c.fd_step * std::max(1.0, std::fabs(x0));
      probe[i].v[e] = x0 + h;
      const auto [fp, mag] = objective(c.reference(probe), weights);
      probe[i].v[e] = x0 - h;
      const double fm = objective(c.reference(probe), weights).first;
      probe[i].v[e] = x0;
      fd_ref.v[s] = (fp - fm) / (2 * h);
      noise = std::max(noise, 8 * std::numeric_limits<double>::epsilon() * mag / (2 * h));
      fd_got.v[s] = analytic.v[e];
    }
    compare(o, fmt::format("backward f64 d/d in{} vs finite differences", i), fd_got, fd_ref, c.fd_rtol, c.atol_frac,
            noise);
    compare(o, fmt::format("backward f32 d/d in{} vs f64", i), to_ref(grads32[i]), analytic, c.rtol_f32,
            c.atol_frac);
  }
}

// CUDA against CPU on the same inputs, in dtype dt (float64 held to Case::gpu_rtol_f64).
void run_gpu_dtype(const Case& c, int ci, DType dt, Outcome& o) {
  const double rtol = dt == DType::f64 ? c.gpu_rtol_f64 : c.rtol_f32;
  const std::string tag = dt == DType::f64 ? " f64" : "";
  const std::vector<Ref> refs = input_refs(c, ci, dt);
  Guard gc, gg;
  const std::vector<Tensor> cpu = c.forward(build_inputs(c, refs, dt, Device::cpu()), gc);
  std::vector<Tensor> gpu;
  try {
    gpu = c.forward(build_inputs(c, refs, dt, Device::cuda(0)), gg);
  } catch (const std::exception& e) {
    // The op layer's refusal of a CUDA tensor (kernels/dispatch.h, AGF_CPU_ONLY): a missing kernel, not a crash.
    if (std::string(e.what()).find("no CUDA kernel") == std::string::npos) throw;
    o.ok = false;
    o.cuda_unsupported = true;
    o.lines.push_back(fmt::format("FAIL: cuda unsupported: {}", e.what()));
    return;
  }
  check_guard(o, "cuda forward" + tag, gg);
  for (size_t k = 0; k < cpu.size(); ++k)
    compare(o, fmt::format("cuda vs cpu{} forward out{}", tag, k), to_ref(gpu[k]), to_ref(cpu[k]),
            is_floating(cpu[k].dtype()) ? rtol : 0.0, c.atol_frac);
  if (!c.backward) return;
  std::vector<Tensor> go_cpu(cpu.size()), go_gpu(cpu.size());
  for (size_t k = 0; k < cpu.size(); ++k) {
    if (!output_is_differentiable(c, k, cpu[k])) continue;
    const InputSpec ws{cpu[k].shape(), Layout::contiguous, -1.0, 1.0};
    const Ref w = random_ref(ws, input_seed(ci, 2000 + k), dt);
    go_cpu[k] = make_input(ws, w, dt, Device::cpu());
    go_gpu[k] = make_input(ws, w, dt, Device::cuda(0));
  }
  Guard bc, bg;
  const auto gcpu = c.backward(build_inputs(c, refs, dt, Device::cpu()), go_cpu, bc);
  const auto ggpu = c.backward(build_inputs(c, refs, dt, Device::cuda(0)), go_gpu, bg);
  check_guard(o, "cuda backward" + tag, bg);
  for (size_t i = 0; i < gcpu.size(); ++i)
    if (gcpu[i].defined())
      compare(o, fmt::format("cuda vs cpu{} backward d/d in{}", tag, i), to_ref(ggpu[i]), to_ref(gcpu[i]), rtol,
              c.atol_frac);
}

void run_gpu(const Case& c, int ci, const RunOptions& opt, Outcome& o) {
  run_gpu_dtype(c, ci, DType::f32, o);
  if (opt.gpu_f64 && !o.cuda_unsupported) run_gpu_dtype(c, ci, DType::f64, o);
}

}  // namespace

Outcome run_case(const Case& c, int case_index, const RunOptions& opt) {
  Outcome o;
  try {
    if (opt.forward_f32) run_forward(c, case_index, DType::f32, o);
    if (opt.forward_f64) run_forward(c, case_index, DType::f64, o);
    if (opt.gradients && c.backward) run_gradients(c, case_index, o);
    if (opt.gpu) run_gpu(c, case_index, opt, o);
  } catch (const std::exception& e) {
    o.ok = false;
    o.lines.push_back(fmt::format("FAIL: exception: {}", e.what()));
  }
  return o;
}

PerfResult time_case(const Case& c, int case_index, Device device, DType dtype, double min_seconds) {
  const std::vector<Ref> refs = input_refs(c, case_index, dtype);
  const std::vector<Tensor> in = build_inputs(c, refs, dtype, device);
  double bytes = 0;
  for (const auto& t : in) bytes += static_cast<double>(t.nbytes());
  Guard warm(false);
  for (const auto& t : c.forward(in, warm)) bytes += static_cast<double>(t.nbytes());
  cuda_synchronize();
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  int iters = 0;
  double elapsed = 0;
  do {
    Guard g(false);
    c.forward(in, g);
    cuda_synchronize();
    ++iters;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  } while (elapsed < min_seconds);
  PerfResult r;
  r.ms = 1e3 * elapsed / iters;
  r.gflops = c.flops ? c.flops() / (r.ms * 1e6) : 0.0;
  r.gbytes_per_s = bytes / (r.ms * 1e6);
  return r;
}

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> v;
    add_elementwise_cases(v);
    add_reduce_cases(v);
    add_linalg_cases(v);
    add_norm_cases(v);
    add_loss_optim_cases(v);
    add_spsa_cases(v);
    return v;
  }();
  return cases;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const auto& c : all_cases())
    if (std::find(names.begin(), names.end(), c.op) == names.end()) names.push_back(c.op);
  return names;
}

BackendTable::Row& BackendTable::row(const std::string& op) {
  for (Row& r : rows_)
    if (r.op == op) return r;
  rows_.push_back({op});
  return rows_.back();
}

void BackendTable::add_cpu(const std::string& op, bool ok) { (ok ? row(op).cpu_pass : row(op).cpu_fail)++; }

void BackendTable::add_cuda(const std::string& op, const Outcome& o) {
  Row& r = row(op);
  if (o.cuda_unsupported) ++r.cuda_unsupported;
  else (o.ok ? r.cuda_pass : r.cuda_fail)++;
}

std::string BackendTable::str() const {
  const auto cell = [](int pass, int fail, int unsupported, bool ran) -> std::string {
    if (!ran) return "not run";
    if (unsupported > 0) return pass + fail > 0 ? fmt::format("unsupported ({} of {})", unsupported,
                                                              pass + fail + unsupported)
                                                : "unsupported";
    return fail > 0 ? fmt::format("FAIL {} of {}", fail, pass + fail) : fmt::format("ok {}", pass);
  };
  std::string t = fmt::format("{:<26} {:<22} {}\n", "op", "cpu", "cuda");
  for (const Row& r : rows_) {
    const bool cpu_ran = r.cpu_pass + r.cpu_fail > 0;
    const bool cuda_ran = r.cuda_pass + r.cuda_fail + r.cuda_unsupported > 0;
    t += fmt::format("{:<26} {:<22} {}\n", r.op, cell(r.cpu_pass, r.cpu_fail, 0, cpu_ran),
                     cuda_ran || cuda_skip_.empty() ? cell(r.cuda_pass, r.cuda_fail, r.cuda_unsupported, cuda_ran)
                                                    : "skipped: " + cuda_skip_);
  }
  return t;
}

}  // namespace agf::kt
