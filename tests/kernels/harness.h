#pragma once
// The kernel regression harness. Each op is a list of small Case structs (several shapes: odd sizes, size-1 dims,
// non-contiguous inputs). For every case the harness
//   - builds deterministic inputs in the requested layout (contiguous, transposed, strided, expanded),
//   - runs the kernel with every output handed out by a Guard: poisoned with NaN inside, sentinel bytes around,
//   - compares against a float64 naive reference written independently in the case (tolerance scales with |ref|),
//   - in gradient mode, compares the backward kernel (float64) with central differences of that reference,
//   - on a GPU, compares the CUDA kernels with the CPU ones on the same inputs,
//   - in perf mode, times the forward and prints GFLOP/s and GB/s.
// It runs under doctest (tests/kernels/test_kernels.cpp) and from the agf-kernels CLI.
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace agf::kt {

// A dense float64 host tensor: what references read and write.
struct Ref {
  Shape shape;
  std::vector<double> v;

  Ref() = default;
  explicit Ref(Shape s, double fill = 0.0) : shape(std::move(s)), v(static_cast<size_t>(shape_numel(shape)), fill) {}
  int64_t numel() const { return static_cast<int64_t>(v.size()); }
  int64_t dim() const { return static_cast<int64_t>(shape.size()); }
  int64_t size(int64_t d) const { return shape[d < 0 ? d + dim() : d]; }
  // Row-major element access: r(i, j, k).
  template <typename... I>
  double& operator()(I... idx) {
    return v[offset({static_cast<int64_t>(idx)...})];
  }
  template <typename... I>
  double operator()(I... idx) const {
    return v[offset({static_cast<int64_t>(idx)...})];
  }
  int64_t offset(std::initializer_list<int64_t> idx) const;
};

enum class Layout { contiguous, transposed, strided, expanded };
const char* layout_name(Layout l);

struct InputSpec {
  Shape shape;                        // logical shape the op sees
  Layout layout = Layout::contiguous;  // transposed: last two dims; strided: every other element of the last dim
  double lo = -1.0, hi = 1.0;         // values uniform in [lo, hi]
  bool differentiable = true;         // included in gradient mode
  Shape expand_from;                  // Layout::expanded: the stored shape, broadcast up to `shape`
};

// Hands out output tensors for one kernel call and checks afterwards that nothing was written outside them.
class Guard {
 public:
  // checked = false hands out plain tensors (perf mode: no poisoning, no sentinels).
  explicit Guard(bool checked = true) : checked_(checked) {}
  static constexpr int64_t kGuardElems = 67;  // odd, so vectorised overruns of any width land in it
  Tensor out(const Shape& shape, DType dtype, Device device);
  Tensor zeros(const Shape& shape, DType dtype, Device device);  // for kernels that accumulate into their output
  // A non-contiguous output (every other element of the last dim) for ops that accept any output strides; the gaps
  // between its elements are guarded too.
  Tensor out_strided(const Shape& shape, DType dtype, Device device);
  // Empty when all guards are intact, else which output and where it was overwritten.
  std::string verify() const;

 private:
  struct Slot {
    Tensor buffer;
    int64_t n;          // elements between the guards
    int64_t row = 0;    // strided slots: the width of a row (2 * last dim + 1); the odd positions are the data
  };
  bool checked_;
  std::vector<Slot> slots_;
};

struct Case {
  std::string op;    // e.g. "conv1d" (what -o selects)
  std::string name;  // the shape/options, e.g. "B2 Cin3 T17 K5 s2 p2 x:strided"
  std::vector<InputSpec> inputs;
  // Runs the kernel(s) under test on inputs that live on one device; every output comes from `g`.
  std::function<std::vector<Tensor>(const std::vector<Tensor>& in, Guard& g)> forward;
  // The same function in float64, naive and independent of the kernel code.
  std::function<std::vector<Ref>(const std::vector<Ref>& in)> reference;
  // Optional: d(sum_k <out_k, grad_out_k>)/d in_i for every input (undefined for non-differentiable ones).
  std::function<std::vector<Tensor>(const std::vector<Tensor>& in, const std::vector<Tensor>& grad_out, Guard& g)>
      backward;
  std::vector<bool> output_differentiable;  // default: all floating outputs are
  double rtol_f32 = 2e-5;   // |got - ref| <= rtol * (|ref| + atol_frac * max|ref|)
  double rtol_f64 = 1e-11;
  // CUDA against CPU in float64: 1e-9 (the backends sum in other orders), or the float32 tolerance for ops that draw
  // Philox normals: those are float32 values from sin/cos/log, which device and host may round an ulp apart, and a
  // float64 parameter keeps the difference (scale * 1e-7 * |z|).
  double gpu_rtol_f64 = 1e-9;
  double atol_frac = 1e-2;
  double fd_rtol = 1e-6;    // gradient mode, float64, same formula
  double fd_step = 1e-6;
  int64_t fd_samples = 48;  // elements per input checked by finite differences
  bool perf_only = false;   // a large shape used by --perf, skipped by the correctness run
  std::function<double()> flops;  // per forward call; 0 when not meaningful
};

// All cases of all ops, in registration order (see cases.h).
const std::vector<Case>& all_cases();
std::vector<std::string> op_names();

struct Outcome {
  bool ok = true;
  bool cuda_unsupported = false;   // the op refused a CUDA tensor (no kernel): a failure, shown as "unsupported"
  std::vector<std::string> lines;  // one per check: what was compared and the worst error against its tolerance
};

// The op x backend table: per op, how many cases passed on the CPU (f32, f64, gradients) and on CUDA (against the
// CPU), "unsupported" where a backend has no kernel, and the reason where the CUDA column could not run at all.
class BackendTable {
 public:
  explicit BackendTable(std::string cuda_skip_reason = {}) : cuda_skip_(std::move(cuda_skip_reason)) {}
  void add_cpu(const std::string& op, bool ok);
  void add_cuda(const std::string& op, const Outcome& o);
  std::string str() const;

 private:
  struct Row {
    std::string op;
    int cpu_pass = 0, cpu_fail = 0, cuda_pass = 0, cuda_fail = 0, cuda_unsupported = 0;
  };
  Row& row(const std::string& op);
  std::vector<Row> rows_;
  std::string cuda_skip_;
};

struct RunOptions {
  bool forward_f32 = true;
  bool forward_f64 = true;
  bool gradients = true;
  bool gpu = false;  // compare CUDA against CPU (needs a device)
  bool gpu_f64 = true;  // ... in float64 too
};
Outcome run_case(const Case& c, int case_index, const RunOptions& opt);

struct PerfResult {
  double ms = 0, gflops = 0, gbytes_per_s = 0;
};
PerfResult time_case(const Case& c, int case_index, Device device, DType dtype, double min_seconds = 0.3);

// Input construction, exposed for cases that need tensors the spec cannot describe.
Tensor make_input(const InputSpec& spec, const Ref& values, DType dtype, Device device);
Ref random_ref(const InputSpec& spec, uint64_t seed, DType dtype);
Ref to_ref(const Tensor& t);
// The same values as t in a non-contiguous view (every other element of its last dim): backward kernels must read
// incoming gradients of any strides.
Tensor strided_copy(const Tensor& t);
// " name:layout" for a case name, or nothing for a contiguous input.
std::string layout_tag(const char* name, Layout l);

}  // namespace agf::kt
