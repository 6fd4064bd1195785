// Conv1d forward and both backward passes in float32 through oneDNN (Debian's libdnnl), the library PyTorch's own CPU
// convolutions run on. Two routes, both drawing every byte they use from the ledger (tag `workspace`):
// - Plain: oneDNN's GEMM-based kernels read and write the engine's (B, C, T) layout in place; the workspace is
//   oneDNN's scratchpad. Measured on this project's 2-core AVX-512 machine (BENCHMARKS.md, "Kernels"), 1.2-2.6x
//   faster than im2col + OpenBLAS.
// - Channels-last: oneDNN's direct kernels (brgconv, jit) on time-major (B, T, C) data, 1.5-4x faster again at the
//   widths of the small presets (64-256 channels) and about even at 512 (BENCHMARKS.md, "Convolution routes"). They
//   take x and y time-major and the weight in a blocked layout, so the batch goes in chunks of records: each chunk's
//   x (or grad_y) is reordered into a dense time-major buffer, convolved, and its result reordered back into the
//   caller's tensor; the weight is reordered once per call. The chunk's buffers are sized to the same budget as the
//   plain route's scratchpad, so this route costs no more memory than the im2col path either.
// oneDNN takes a convolution only when it would cost no more memory than the im2col path (scratchpad, and chunk
// buffers, <= that path's columns, at least 8 MiB; the blocked weight copy on top) and only with one of its optimised
// kernels (a strided view that only its reference kernel reads goes to im2col). float64 always goes to im2col, the
// reference. AGF_CONV=im2col turns oneDNN off, AGF_CONV=plain keeps it on the plain route only, and
// AGF_CONV=channels_last sends every convolution it can to the channels-last route (the default, `auto`, sends
// those of the widths where it measured faster).
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

// -1: not read from AGF_CONV yet; otherwise an OnednnRoutes value.
std::atomic<int> g_onednn_state{-1};
std::atomic<int64_t> g_chunk_cap{0};  // at most this many records per channels-last chunk (0: the budget decides)
std::atomic<int64_t> g_channels_last_runs{0};

OnednnRoutes routes() {
#ifdef AGF_WITH_ONEDNN
  int s = g_onednn_state.load(std::memory_order_relaxed);
  if (s < 0) {
    const char* env = std::getenv("AGF_CONV");
    const std::string v = env != nullptr ? env : "";
    s = static_cast<int>(v == "im2col"          ? OnednnRoutes::off
                         : v == "plain"         ? OnednnRoutes::plain
                         : v == "channels_last" ? OnednnRoutes::channels_last
                                                : OnednnRoutes::automatic);
    g_onednn_state.store(s, std::memory_order_relaxed);
  }
  return static_cast<OnednnRoutes>(s);
#else
  return OnednnRoutes::off;
#endif
}

bool onednn_on() { return routes() != OnednnRoutes::off; }

}  // namespace

OnednnRoutes set_onednn_routes(OnednnRoutes r, int64_t chunk_cap) {
  const OnednnRoutes was = routes();
#ifdef AGF_WITH_ONEDNN
  g_onednn_state.store(static_cast<int>(r), std::memory_order_relaxed);
  g_chunk_cap.store(chunk_cap, std::memory_order_relaxed);
#else
  (void)r;
  (void)chunk_cap;
#endif
  return was;
}

int64_t onednn_channels_last_runs() { return g_channels_last_runs.load(std::memory_order_relaxed); }


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
// records_of: the first n records of t only.
memory::desc records_of(const Tensor& t, int64_t n) {
  const Dims dims{n, t.size(1), 1, t.size(2)};
  const Dims strides{t.stride(0), t.stride(1), t.size(2) * t.stride(2), t.stride(2)};
  return memory::desc(dims, memory::data_type::f32, strides);
}
memory::desc desc_of(const Tensor& t) { return records_of(t, t.size(0)); }

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

Tensor workspace_bytes(size_t bytes) {
  MemScope scope(MemTag::workspace);
  return empty({static_cast<int64_t>(bytes)}, DType::u8, Device::cpu());
}

Tensor scratchpad(size_t bytes) { return bytes == 0 ? Tensor() : workspace_bytes(bytes + kScratchpadAlign); }

// The scratchpad argument of a primitive: `bytes` of `pad` (from scratchpad()) from its first page-aligned byte.
dnnl::memory scratchpad_arg(const Tensor& pad, size_t bytes) {
  const auto base = reinterpret_cast<uintptr_t>(pad.raw_data());
  const uintptr_t aligned = (base + kScratchpadAlign - 1) / kScratchpadAlign * kScratchpadAlign;
  const memory::desc d({static_cast<memory::dim>(bytes)}, memory::data_type::u8, memory::format_tag::x);
  return dnnl::memory(d, cpu_engine(), reinterpret_cast<void*>(aligned));
}

// The oneDNN path's memory bound: what the im2col path would use for its columns, and at least 8 MiB.
int64_t budget_of(int64_t im2col_bytes) { return std::max(im2col_bytes, int64_t{8} << 20); }

bool fits(const Entry& e, int64_t im2col_bytes) {
  return e.usable && static_cast<int64_t>(e.scratchpad) <= budget_of(im2col_bytes);
}

// t's data (from element `offset` on) as a oneDNN memory of descriptor d.
dnnl::memory wrap(const memory::desc& d, const Tensor& t, int64_t offset = 0) {
  return dnnl::memory(d, cpu_engine(), static_cast<float*>(const_cast<void*>(t.raw_data())) + offset);
}

// Draws the scratchpad from the ledger and runs the primitive; while planning, only the scratchpad is drawn.
void launch(const Entry& e, std::unordered_map<int, dnnl::memory> args) {
  const Tensor pad = scratchpad(e.scratchpad);
  if (planning()) return;
  if (pad.defined()) args.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_arg(pad, e.scratchpad));
  dnnl::stream s(cpu_engine());
  const SignalsHeld held;
  e.prim.execute(s, args);
  s.wait();
}

bool accepts(const Tensor& a) { return a.dtype() == DType::f32 && onednn_on(); }

// ---- The channels-last route.

// Whether the channels-last route takes this pass by default: where it measured faster, reorders counted, and cost
// no resident memory beyond the ledger's bound (BENCHMARKS.md, "Convolution routes", Zen 4). Up to 256 channels,
// every pass: 1.6-3.6x faster kernels (tinylight's convolutions at B=32: 145 -> 98 ms a backprop step). At 512
// channels the direct backward-input kernel runs at half the speed of the GEMM-based one, and the unit-stride
// forwards, 10-20% faster, cost a medium fusion step 26 MiB of resident memory outside the ledger (oneDNN's code and
// primitive state, and the host cache's slack around the chunk buffers: RSS 12% over ledger + baseline, against 6%
// on the plain route), past the 10% the engine holds itself to; so the wide convolutions stay plain.
bool channels_last_by_default(int64_t cin, int64_t cout) { return std::max(cin, cout) <= 256; }

bool wants_channels_last(int64_t cin, int64_t cout) {
  switch (routes()) {
    case OnednnRoutes::channels_last: return true;
    case OnednnRoutes::automatic: return channels_last_by_default(cin, cout);
    default: return false;
  }
}

memory::desc time_major(int64_t n, int64_t c, int64_t t) {
  return memory::desc({n, c, 1, t}, memory::data_type::f32, memory::format_tag::nhwc);
}

// One pass on a chunk of n records: the convolution on the dense time-major buffers X (the x side: x or grad_x) and
// Y (the y side: y or grad_y), with the weight side W in the kernel's blocked layout, and the reorders between those
// buffers and the caller's tensors. The reorders the pass does not need stay empty.
struct ClEntry {
  bool usable = false;
  dnnl::primitive conv;
  size_t scratchpad = 0;
  memory::desc x_buf, y_buf, w_buf;
  dnnl::reorder x_in, x_out, y_in, y_out, w_in, w_out, w_out_sum;
};

std::map<Key, ClEntry>& cl_cache() {
  static std::map<Key, ClEntry> c;
  return c;
}

// A reorder oneDNN runs with one of its optimised kernels and no scratchpad, or an error.
dnnl::reorder reorder(const memory::desc& from, const memory::desc& to, bool sum = false) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (sum) {
    dnnl::post_ops po;
    po.append_sum(1.0f);
    attr.set_post_ops(po);
  }
  const dnnl::reorder::primitive_desc pd(cpu_engine(), from, cpu_engine(), to, attr);
  if (pd.scratchpad_desc().get_size() != 0 || !optimised(pd.impl_info_str()))
    throw dnnl::error(dnnl_unimplemented, "reorder");
  return dnnl::reorder(pd);
}

// A direct kernel, not a GEMM-based or reference one: otherwise the plain route does as well without the reorders.
bool direct_kernel(const char* impl) {
  return optimised(impl) && std::strstr(impl, "gemm") == nullptr;
}

// The three tensors of a pass, as the caller has them: x (or grad_x), y (or grad_y), w (or grad_w).
struct ClTensors {
  const Tensor& x;
  const Tensor& y;
  const Tensor& w;
};

ClEntry make_cl_entry(Pass p, const ClTensors& t, int64_t n, bool has_bias, ops::Conv1dArgs args) {
  ClEntry e;
  const int64_t cin = t.x.size(1), cout = t.y.size(1);
  e.x_buf = time_major(n, cin, t.x.size(2));
  e.y_buf = time_major(n, cout, t.y.size(2));
  const memory::desc w_any({t.w.size(0), t.w.size(1), 1, t.w.size(2)}, memory::data_type::f32,
                           memory::format_tag::any);
  const Dims strides{1, args.stride}, pad{0, args.padding};
  const auto hint_kind = p == Pass::forward ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
  const memory::desc bd = bias_desc(cout);
  const auto fwd_desc = has_bias && p == Pass::forward
                            ? dnnl::convolution_forward::desc(hint_kind, dnnl::algorithm::convolution_direct, e.x_buf,
                                                              w_any, bd, e.y_buf, strides, pad, pad)
                            : dnnl::convolution_forward::desc(hint_kind, dnnl::algorithm::convolution_direct, e.x_buf,
                                                              w_any, e.y_buf, strides, pad, pad);
  const dnnl::convolution_forward::primitive_desc fwd(fwd_desc, user_scratchpad(), cpu_engine());
  const char* impl = nullptr;
  if (p == Pass::forward) {
    e.conv = dnnl::convolution_forward(fwd);
    e.scratchpad = fwd.scratchpad_desc().get_size();
    e.w_buf = fwd.weights_desc();
    impl = fwd.impl_info_str();
    e.x_in = reorder(records_of(t.x, n), e.x_buf);
    e.y_out = reorder(e.y_buf, records_of(t.y, n));
    e.w_in = reorder(desc_of(t.w), e.w_buf);
  } else if (p == Pass::backward_input) {
    using Conv = dnnl::convolution_backward_data;
    const Conv::desc d(dnnl::algorithm::convolution_direct, e.x_buf, w_any, e.y_buf, strides, pad, pad);
    const Conv::primitive_desc pd(d, user_scratchpad(), cpu_engine(), fwd);
    e.conv = Conv(pd);
    e.scratchpad = pd.scratchpad_desc().get_size();
    e.w_buf = pd.weights_desc();
    impl = pd.impl_info_str();
    e.y_in = reorder(records_of(t.y, n), e.y_buf);
    e.x_out = reorder(e.x_buf, records_of(t.x, n));
    e.w_in = reorder(desc_of(t.w), e.w_buf);
  } else {
    using Conv = dnnl::convolution_backward_weights;
    const Conv::desc d(dnnl::algorithm::convolution_direct, e.x_buf, w_any, e.y_buf, strides, pad, pad);
    const Conv::primitive_desc pd(d, user_scratchpad(), cpu_engine(), fwd);
    e.conv = Conv(pd);
    e.scratchpad = pd.scratchpad_desc().get_size();
    e.w_buf = pd.diff_weights_desc();
    impl = pd.impl_info_str();
    e.x_in = reorder(records_of(t.x, n), e.x_buf);
    e.y_in = reorder(records_of(t.y, n), e.y_buf);
    e.w_out = reorder(e.w_buf, desc_of(t.w));
    e.w_out_sum = reorder(e.w_buf, desc_of(t.w), true);
  }
  e.usable = direct_kernel(impl);
  return e;
}

const ClEntry& cl_entry(Pass p, const ClTensors& t, int64_t n, bool has_bias, ops::Conv1dArgs args) {
  Key key{p, key_of(t.x, t.y, t.w, args, has_bias)};
  // The chunk's records, not the batch's: every batch size chunked alike shares the entry.
  std::vector<int64_t>& k = std::get<1>(key);
  constexpr size_t kXBatch = 3, kYBatch = 9;  // key_of: 3 flags, then (size, stride) per dim of x, y, w
  k[kXBatch] = 0;
  k[kYBatch] = 0;
  k.push_back(n);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  auto it = cl_cache().find(key);
  if (it != cl_cache().end()) return it->second;
  ClEntry e;  // unusable unless it can be made
  try {
    e = make_cl_entry(p, t, n, has_bias, args);
  } catch (const dnnl::error&) {
  }
  return cl_cache().emplace(std::move(key), std::move(e)).first->second;
}

// Runs pass p on the channels-last route, chunk by chunk, or returns false having done nothing: the widths are not
// the route's, a chunk of even one record would not fit the budget, or oneDNN has no direct kernel for it.
bool run_channels_last(Pass p, const ClTensors& t, const Tensor& bias, ops::Conv1dArgs args, int64_t im2col_bytes) {
  const int64_t batch = t.x.size(0), cin = t.x.size(1), cout = t.y.size(1);
  if (!wants_channels_last(cin, cout)) return false;
  const int64_t budget = budget_of(im2col_bytes);
  const int64_t per_record = (cin * t.x.size(2) + cout * t.y.size(2)) * int64_t{4};
  int64_t most = std::min(batch, budget / per_record);
  if (const int64_t cap = g_chunk_cap.load(std::memory_order_relaxed); cap > 0) most = std::min(most, cap);
  if (most == 0) return false;
  const bool has_bias = bias.defined();
  // Chunks as even as the batch allows (fewer shapes, so fewer kernels for oneDNN to generate and keep: its code is
  // resident memory outside the ledger); the kernel's scratchpad counts against the budget too, so one chunk more
  // until both fit (a few tries: each builds and caches kernels).
  int64_t n = 0;
  const ClEntry* e = nullptr;
  for (int64_t chunks = (batch + most - 1) / most, tries = 0;; ++chunks, ++tries) {
    n = (batch + chunks - 1) / chunks;
    e = &cl_entry(p, t, n, has_bias, args);
    if (!e->usable) return false;
    if (static_cast<int64_t>(e->scratchpad) + n * per_record <= budget) break;
    if (n == 1 || tries == 3) return false;
  }
  const int64_t rest = batch % n;  // a shorter last chunk, when the batch does not divide evenly
  const ClEntry* last = rest > 0 ? &cl_entry(p, t, rest, has_bias, args) : e;
  if (!last->usable || last->w_buf != e->w_buf) return false;  // the weight side is shared by the chunks
  if (static_cast<int64_t>(std::max(e->scratchpad, last->scratchpad)) + n * per_record > budget) return false;

  const Tensor x_buf = workspace_bytes(e->x_buf.get_size());
  const Tensor y_buf = workspace_bytes(e->y_buf.get_size());
  const Tensor w_buf = workspace_bytes(e->w_buf.get_size());
  const Tensor pad = scratchpad(std::max(e->scratchpad, last->scratchpad));
  if (planning()) return true;

  dnnl::stream s(cpu_engine());
  const SignalsHeld held;
  dnnl::memory wb = wrap(e->w_buf, w_buf), wu = wrap(desc_of(t.w), t.w);
  if (p != Pass::backward_weight) e->w_in.execute(s, wu, wb);
  for (int64_t b0 = 0; b0 < batch; b0 += n) {
    const ClEntry& c = b0 + n <= batch ? *e : *last;
    const int64_t nb = b0 + n <= batch ? n : rest;
    dnnl::memory xb = wrap(c.x_buf, x_buf), yb = wrap(c.y_buf, y_buf);
    dnnl::memory xu = wrap(records_of(t.x, nb), t.x, b0 * t.x.stride(0));
    dnnl::memory yu = wrap(records_of(t.y, nb), t.y, b0 * t.y.stride(0));
    std::unordered_map<int, dnnl::memory> a;
    if (pad.defined()) a.emplace(DNNL_ARG_SCRATCHPAD, scratchpad_arg(pad, c.scratchpad));
    if (p == Pass::forward) {
      c.x_in.execute(s, xu, xb);
      a.insert({{DNNL_ARG_SRC, xb}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DST, yb}});
      if (has_bias) a.emplace(DNNL_ARG_BIAS, wrap(bias_desc(cout), bias));
      c.conv.execute(s, a);
      c.y_out.execute(s, yb, yu);
    } else if (p == Pass::backward_input) {
      c.y_in.execute(s, yu, yb);
      a.insert({{DNNL_ARG_DIFF_DST, yb}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, xb}});
      c.conv.execute(s, a);
      c.x_out.execute(s, xb, xu);
    } else {
      c.x_in.execute(s, xu, xb);
      c.y_in.execute(s, yu, yb);
      a.insert({{DNNL_ARG_SRC, xb}, {DNNL_ARG_DIFF_DST, yb}, {DNNL_ARG_DIFF_WEIGHTS, wb}});
      c.conv.execute(s, a);
      // The first chunk writes grad_w, the others add onto it.
      (b0 == 0 ? c.w_out : c.w_out_sum).execute(s, wb, wu);
    }
  }
  s.wait();
  g_channels_last_runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

bool onednn_conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
                   int64_t im2col_bytes) {
  if (!accepts(x) || x.size(0) == 0) return false;
  const bool has_bias = bias.defined();
  if (has_bias && bias.stride(0) != 1) return false;
  if (run_channels_last(Pass::forward, {x, out, w}, bias, args, im2col_bytes)) return true;
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
  if (run_channels_last(Pass::backward_input, {grad_x, grad_y, w}, Tensor(), args, im2col_bytes)) return true;
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
  if (run_channels_last(Pass::backward_weight, {x, grad_y, grad_w}, Tensor(), args, im2col_bytes)) return true;
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
  const char* route = routes() == OnednnRoutes::plain           ? "GEMM kernels on (B, C, T): AGF_CONV=plain"
                      : routes() == OnednnRoutes::channels_last ? "direct kernels, time-major: AGF_CONV=channels_last"
                      : "direct kernels, time-major, up to 256 channels; GEMM kernels wider";
  return fmt::format("conv1d: oneDNN {}.{}.{} ({}; {}) in float32, im2col + BLAS in float64", v->major, v->minor,
                     v->patch, isa, route);
}

#endif

}  // namespace agf::cpu
