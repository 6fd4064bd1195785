// Conv1d forward and both backward passes in float32 through oneDNN (Debian's libdnnl), the library PyTorch's own CPU
// convolutions run on. Measured on this project's 2-core AVX-512 machine (BENCHMARKS.md, "Kernels"), its GEMM-based
// kernels on the plain (B, C, T) layout run EcgNet's convolutions 1.2-2.6x faster than im2col + OpenBLAS, and need
// no columns: the workspace is oneDNN's scratchpad, which it is handed from the ledger (tag `workspace`), never
// allocated by itself. The layout stays the engine's own: no reorders to blocked formats, whose buffers would cost a
// copy of x and y per call.
//
// oneDNN takes a convolution only when it would cost no more memory than the im2col path (scratchpad <= that path's
// columns, at least 8 MiB) and only with one of its optimised kernels (a strided view that only its reference kernel
// reads goes to im2col). float64 always goes to im2col, the reference. AGF_CONV=im2col turns oneDNN off.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/ledger.h"
#include "tensor/planning.h"

#ifdef AGF_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace agf::cpu {

namespace {

std::atomic<int> g_onednn_state{-1};  // -1: not read from AGF_CONV yet, 0 off, 1 on

bool onednn_on() {
#ifdef AGF_WITH_ONEDNN
  int s = g_onednn_state.load(std::memory_order_relaxed);
  if (s < 0) {
    const char* env = std::getenv("AGF_CONV");
    s = env != nullptr && std::strcmp(env, "im2col") == 0 ? 0 : 1;
    g_onednn_state.store(s, std::memory_order_relaxed);
  }
  return s == 1;
#else
  return false;
#endif
}

}  // namespace

bool set_onednn_convolutions(bool on) {
  const bool was = onednn_on();
#ifdef AGF_WITH_ONEDNN
  g_onednn_state.store(on ? 1 : 0, std::memory_order_relaxed);
#else
  (void)on;
#endif
  return was;
}

#ifndef AGF_WITH_ONEDNN

bool onednn_conv1d(const Tensor&, const Tensor&, const Tensor&, const Tensor&, ops::Conv1dArgs, int64_t) {
  return false;
}
bool onednn_conv1d_backward_input(const Tensor&, const Tensor&, const Tensor&, ops::Conv1dArgs, int64_t) {
  return false;
}
bool onednn_conv1d_backward_weight(const Tensor&, const Tensor&, const Tensor&, ops::Conv1dArgs, int64_t) {
  return false;
}
std::string onednn_summary() { return "conv1d: im2col + BLAS (built without oneDNN)"; }

#else

namespace {

using dnnl::memory;
using Dims = memory::dims;

// The signals the apps catch to stop at a safe point (io/interrupt.h): SIGINT and SIGTERM.
sigset_t interrupt_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// oneDNN's JIT convolution kernels must not take a signal: a Ctrl-C delivered to a thread while it ran one corrupted
// the heap (the interrupted-experiment test: 3 of 40 runs aborted in malloc, and 0 of 48 with the forward
// convolutions on im2col instead, 0 of 134 runs with no signal). So the OpenMP threads that run the kernels block
// SIGINT and SIGTERM for good (done once, by every thread of the team for itself), and the calling thread blocks them
// for the length of each execution (SignalsHeld): a Ctrl-C then waits, pending, until the convolution is done, or
// lands on a thread that runs no oneDNN code (OpenBLAS's); either way the handler only raises the flag.
void block_signals_in_omp_workers() {
  const sigset_t set = interrupt_signals();
  sigset_t caller;
  pthread_sigmask(SIG_SETMASK, nullptr, &caller);
#pragma omp parallel
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  pthread_sigmask(SIG_SETMASK, &caller, nullptr);  // the calling thread blocks them only around executions
}

class SignalsHeld {
 public:
  SignalsHeld() {
    const sigset_t set = interrupt_signals();
    pthread_sigmask(SIG_BLOCK, &set, &previous_);
  }
  ~SignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  sigset_t previous_;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine eng = [] {
    block_signals_in_omp_workers();
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return eng;
}

// (B, C, T) as oneDNN's (N, C, H = 1, W = T), strides as the tensor has them, and a weight (Cout, Cin, K) likewise as
// (O, I, 1, K). The size-1 H gets the stride a dense layout would give it, so a contiguous tensor is exactly `nchw`
// (`oihw`) and a time-major view `nhwc`.
memory::desc desc_of(const Tensor& t) {
  const Dims dims{t.size(0), t.size(1), 1, t.size(2)};
  const Dims strides{t.stride(0), t.stride(1), t.size(2) * t.stride(2), t.stride(2)};
  return memory::desc(dims, memory::data_type::f32, strides);
}

memory::desc bias_desc(int64_t n) { return memory::desc({n}, memory::data_type::f32, memory::format_tag::x); }

// One cached primitive per pass and geometry (strides included): a primitive descriptor lists the implementations
// and picks one, which is worth doing once per shape, not once per call.
enum class Pass { forward, backward_input, backward_weight };
using Key = std::tuple<Pass, std::vector<int64_t>>;

struct Entry {
  dnnl::primitive prim;
  size_t scratchpad = 0;
  bool usable = false;  // an optimised kernel took it
};

std::vector<int64_t> key_of(const Tensor& a, const Tensor& b, const Tensor& c, ops::Conv1dArgs args, bool bias) {
  std::vector<int64_t> k{args.stride, args.padding, bias ? 1 : 0};
  for (const Tensor* t : {&a, &b, &c}) {
    for (int64_t d = 0; d < t->dim(); ++d) {
      k.push_back(t->size(d));
      k.push_back(t->stride(d));
    }
  }
  return k;
}

std::mutex g_cache_mutex;
std::map<Key, Entry>& cache() {
  static std::map<Key, Entry> c;
  return c;
}

bool optimised(const char* impl) { return impl != nullptr && std::strstr(impl, "ref") == nullptr; }

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::convolution_forward::primitive_desc forward_pd(const memory::desc& x, const memory::desc& w,
                                                     const memory::desc* b, const memory::desc& y,
                                                     ops::Conv1dArgs args, dnnl::prop_kind kind) {
  const Dims strides{1, args.stride}, pad{0, args.padding};
  const auto d = b != nullptr ? dnnl::convolution_forward::desc(kind, dnnl::algorithm::convolution_direct, x, w, *b, y,
                                                                strides, pad, pad)
                              : dnnl::convolution_forward::desc(kind, dnnl::algorithm::convolution_direct, x, w, y,
                                                                strides, pad, pad);
  return {d, user_scratchpad(), cpu_engine()};
}

// What both backward passes are built from: the three descriptors, the geometry and the forward pass as the hint.
struct BackwardDescs {
  memory::desc x, w, y;
  Dims strides, pad;
  dnnl::convolution_forward::primitive_desc hint;
};

BackwardDescs backward_descs(const Tensor& x, const Tensor& w, const Tensor& y, ops::Conv1dArgs args) {
  BackwardDescs d{desc_of(x), desc_of(w), desc_of(y), {1, args.stride}, {0, args.padding}, {}};
  d.hint = forward_pd(d.x, d.w, nullptr, d.y, args, dnnl::prop_kind::forward_training);
  return d;
}

template <typename PrimitiveDesc, typename Primitive>
Entry entry_of(const PrimitiveDesc& pd) {
  return Entry{Primitive(pd), pd.scratchpad_desc().get_size(), optimised(pd.impl_info_str())};
}

// The entry of `key`, made by `make` the first time. A descriptor oneDNN cannot build is cached as unusable.
template <typename Make>
const Entry& entry(const Key& key, Make&& make) {
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = cache().find(key);
  if (it != cache().end()) return it->second;
  Entry e;  // unusable unless make() succeeds
  try {
    e = make();
  } catch (const dnnl::error&) {
  }
  return cache().emplace(key, std::move(e)).first->second;
}

// oneDNN lays its scratchpad out from a base it takes as aligned more strictly than the allocator's 64 bytes (with a
// 64-byte base, a multi-threaded backward pass wrote past the end of the buffer into the heap's bookkeeping: seen as
// "corrupted size vs. prev_size" aborts in 2 of 16 runs). So the buffer is a page larger and its base page-aligned.
constexpr size_t kScratchpadAlign = 4096;

Tensor scratchpad(size_t bytes) {
  if (bytes == 0) return {};
  MemScope scope(MemTag::workspace);
  return empty({static_cast<int64_t>(bytes + kScratchpadAlign)}, DType::u8, Device::cpu());
}

// The oneDNN path's memory bound: what the im2col path would use for its columns, and at least 8 MiB.
bool fits(const Entry& e, int64_t im2col_bytes) {
  constexpr int64_t kFloor = int64_t{8} << 20;
  return e.usable && static_cast<int64_t>(e.scratchpad) <= std::max(im2col_bytes, kFloor);
}

dnnl::memory wrap(const memory::desc& d, const Tensor& t) {
  return dnnl::memory(d, cpu_engine(), const_cast<void*>(t.raw_data()));
}

// Draws the scratchpad from the ledger and runs the primitive; while planning, only the scratchpad is drawn.
void launch(const Entry& e, std::unordered_map<int, dnnl::memory> args) {
  const Tensor pad = scratchpad(e.scratchpad);
  if (planning()) return;
  if (pad.defined()) {
    const auto base = reinterpret_cast<uintptr_t>(pad.raw_data());
    const uintptr_t aligned = (base + kScratchpadAlign - 1) / kScratchpadAlign * kScratchpadAlign;
    const memory::desc d({static_cast<memory::dim>(e.scratchpad)}, memory::data_type::u8, memory::format_tag::x);
    args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(d, cpu_engine(), reinterpret_cast<void*>(aligned)));
  }
  dnnl::stream s(cpu_engine());
  const SignalsHeld held;
  e.prim.execute(s, args);
  s.wait();
}

bool accepts(const Tensor& a) { return a.dtype() == DType::f32 && onednn_on(); }

}  // namespace

bool onednn_conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
                   int64_t im2col_bytes) {
  if (!accepts(x) || x.size(0) == 0) return false;
  const bool has_bias = bias.defined();
  if (has_bias && bias.stride(0) != 1) return false;
  const Entry& e = entry({Pass::forward, key_of(x, w, out, args, has_bias)}, [&] {
    const memory::desc bd = bias_desc(w.size(0));
    const auto pd = forward_pd(desc_of(x), desc_of(w), has_bias ? &bd : nullptr, desc_of(out), args,
                               dnnl::prop_kind::forward_inference);
    return entry_of<decltype(pd), dnnl::convolution_forward>(pd);
  });
  if (!fits(e, im2col_bytes)) return false;
  std::unordered_map<int, dnnl::memory> a{{DNNL_ARG_SRC, wrap(desc_of(x), x)},
                                          {DNNL_ARG_WEIGHTS, wrap(desc_of(w), w)},
                                          {DNNL_ARG_DST, wrap(desc_of(out), out)}};
  if (has_bias) a.emplace(DNNL_ARG_BIAS, wrap(bias_desc(w.size(0)), bias));
  launch(e, std::move(a));
  return true;
}

bool onednn_conv1d_backward_input(const Tensor& grad_x, const Tensor& grad_y, const Tensor& w, ops::Conv1dArgs args,
                                  int64_t im2col_bytes) {
  if (!accepts(grad_x) || grad_x.size(0) == 0) return false;
  const Entry& e = entry({Pass::backward_input, key_of(grad_x, grad_y, w, args, false)}, [&] {
    using Conv = dnnl::convolution_backward_data;
    const BackwardDescs d = backward_descs(grad_x, w, grad_y, args);
    const Conv::desc desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y, d.strides, d.pad, d.pad);
    const Conv::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), d.hint);
    return entry_of<Conv::primitive_desc, Conv>(pd);
  });
  if (!fits(e, im2col_bytes)) return false;
  launch(e, {{DNNL_ARG_DIFF_DST, wrap(desc_of(grad_y), grad_y)},
             {DNNL_ARG_WEIGHTS, wrap(desc_of(w), w)},
             {DNNL_ARG_DIFF_SRC, wrap(desc_of(grad_x), grad_x)}});
  return true;
}

bool onednn_conv1d_backward_weight(const Tensor& grad_w, const Tensor& grad_y, const Tensor& x, ops::Conv1dArgs args,
                                   int64_t im2col_bytes) {
  if (!accepts(x) || x.size(0) == 0) return false;
  const Entry& e = entry({Pass::backward_weight, key_of(grad_w, grad_y, x, args, false)}, [&] {
    using Conv = dnnl::convolution_backward_weights;
    const BackwardDescs d = backward_descs(x, grad_w, grad_y, args);
    const Conv::desc desc(dnnl::algorithm::convolution_direct, d.x, d.w, d.y, d.strides, d.pad, d.pad);
    const Conv::primitive_desc pd(desc, user_scratchpad(), cpu_engine(), d.hint);
    return entry_of<Conv::primitive_desc, Conv>(pd);
  });
  if (!fits(e, im2col_bytes)) return false;
  launch(e, {{DNNL_ARG_DIFF_DST, wrap(desc_of(grad_y), grad_y)},
             {DNNL_ARG_SRC, wrap(desc_of(x), x)},
             {DNNL_ARG_DIFF_WEIGHTS, wrap(desc_of(grad_w), grad_w)}});
  return true;
}

std::string onednn_summary() {
  const dnnl_version_t* v = dnnl::version();
  const char* isa = "?";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: isa = "sse41"; break;
    case dnnl::cpu_isa::avx: isa = "avx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    default: break;
  }
  if (!onednn_on())
    return fmt::format("conv1d: im2col + BLAS (oneDNN {}.{}.{} off: AGF_CONV=im2col)", v->major, v->minor, v->patch);
  return fmt::format("conv1d: oneDNN {}.{}.{} ({}) in float32, im2col + BLAS in float64", v->major, v->minor, v->patch,
                     isa);
}

#endif

}  // namespace agf::cpu
