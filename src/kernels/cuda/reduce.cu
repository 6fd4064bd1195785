// Reduction kernels: sum, mean, max, min and sum of squares over any dims of a strided tensor, and max over one dim
// with its argmax (pooling is pool.cu). The semantics are the CPU backend's (kernels/cpu/reduce.cpp): sums accumulate
// in double, max and min let the first NaN win, argmax is math::argmax_nan_first. Every combination of partial
// results runs in an order fixed by the shapes alone (no atomics), so results are bit-identical run to run and for
// any grid size.
#include <algorithm>

#include "kernels/cuda/index_map.cuh"
#include "kernels/cuda/reduce_launch.h"
#include "kernels/element_math.h"
#include "tensor/cuda/stream.h"

namespace agf::cuda {

namespace {

using namespace ix;

// ------------------------------------------------------------------------------------------------ accumulators
// An accumulator Op has a State, init(), add(state, x, j) for the elements of one thread in increasing reduced index
// j, merge(a, b) for two partial states, and shfl_down for the warp tree.

enum class Kind { sum, sumsq, max, min };  // mean is a sum divided at the end

template <Kind K>
struct DoubleOp {
  using State = double;
  __device__ static double init() { return K == Kind::max ? -HUGE_VAL : K == Kind::min ? HUGE_VAL : 0.0; }
  // The CPU's Acc::add for max and min: a NaN replaces the running value and then sticks.
  __device__ static double pick(double a, double v) {
    if constexpr (K == Kind::max)
      return (v > a || v != v) && a == a ? v : a;
    else
      return (v < a || v != v) && a == a ? v : a;
  }
  template <typename T>
  __device__ static double add(double a, T x, int64_t) {
    const double v = static_cast<double>(x);
    if constexpr (K == Kind::sum)
      return a + v;
    else if constexpr (K == Kind::sumsq)
      return a + v * v;
    else
      return pick(a, v);
  }
  __device__ static double merge(double a, double b) {
    if constexpr (K == Kind::sum || K == Kind::sumsq)
      return a + b;
    else
      return pick(a, b);
  }
  __device__ static double shfl_down(double s, int delta) { return __shfl_down_sync(kFullMask, s, delta); }
};

template <typename T>
struct ArgMaxState {
  T v;
  int64_t i;  // < 0: no element yet
};

// math::argmax_nan_first split over threads: each thread scans its elements in increasing index with the same step,
// and merge gives what one scan of the union would (the first NaN, else the first index of the greatest value).
template <typename T>
struct ArgMaxOp {
  using State = ArgMaxState<T>;
  __device__ static State init() { return {T(0), -1}; }
  __device__ static State add(State s, T x, int64_t j) {
    return s.i < 0 || ((x > s.v || x != x) && s.v == s.v) ? State{x, j} : s;
  }
  __device__ static State merge(State a, State b) {
    if (b.i < 0) return a;
    if (a.i < 0) return b;
    const bool a_nan = a.v != a.v, b_nan = b.v != b.v;
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.v != b.v) return a.v > b.v ? a : b;
    return a.i < b.i ? a : b;  // equal values or two NaNs: the earlier
  }
  __device__ static State shfl_down(State s, int delta) {
    return {__shfl_down_sync(kFullMask, s.v, delta), __shfl_down_sync(kFullMask, s.i, delta)};
  }
};

// Lane 0 gets the merge of the warp's 32 states, in a fixed tree.
template <class Op>
__device__ __forceinline__ typename Op::State warp_reduce(typename Op::State s) {
#pragma unroll
  for (int delta = kWarp / 2; delta > 0; delta /= 2) s = Op::merge(s, Op::shfl_down(s, delta));
  return s;
}

// Thread 0 gets the merge of the block's states (blockDim.x a multiple of 32); every thread of the block must call.
template <class Op>
__device__ __forceinline__ typename Op::State block_reduce(typename Op::State s, typename Op::State* smem) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nwarps = blockDim.x / kWarp;
  s = warp_reduce<Op>(s);
  __syncthreads();  // the previous call's readers of smem are done
  if (lane == 0) smem[warp] = s;
  __syncthreads();
  if (warp == 0) s = warp_reduce<Op>(lane < nwarps ? smem[lane] : Op::init());
  return s;
}

// One thread's share of a reduction: reduced indices first, first + step, ... below end, in that order. Four loads
// are issued before their four adds so that several are in flight.
template <class Op, typename T>
__device__ __forceinline__ typename Op::State accumulate(const T* __restrict__ base, const IndexMap<1>& red,
                                                         int64_t i, int64_t end, int64_t step) {
  auto s = Op::init();
  if (red.ndim <= 1) {  // one strided run (or a single element): no index arithmetic
    const int64_t st = red.ndim == 1 ? red.strides[0][0] : 0;
    for (; i + 3 * step < end; i += 4 * step) {
      const T a = base[i * st], b = base[(i + step) * st], c = base[(i + 2 * step) * st],
              d = base[(i + 3 * step) * st];
      s = Op::add(s, a, i);
      s = Op::add(s, b, i + step);
      s = Op::add(s, c, i + 2 * step);
      s = Op::add(s, d, i + 3 * step);
    }
    for (; i < end; i += step) s = Op::add(s, base[i * st], i);
    return s;
  }
  int64_t o[4][1];
  for (; i + 3 * step < end; i += 4 * step) {
#pragma unroll
    for (int u = 0; u < 4; ++u) map_offsets(red, i + u * step, o[u]);
    const T a = base[o[0][0]], b = base[o[1][0]], c = base[o[2][0]], d = base[o[3][0]];
    s = Op::add(s, a, i);
    s = Op::add(s, b, i + step);
    s = Op::add(s, c, i + 2 * step);
    s = Op::add(s, d, i + 3 * step);
  }
  for (; i < end; i += step) {
    map_offsets(red, i, o[0]);
    s = Op::add(s, base[o[0][0]], i);
  }
  return s;
}

// ------------------------------------------------------------------------------------------------ writers

// A reduction's result: out = the state (mean: divided by the count, as the CPU does), or, for a split reduction,
// partials[output * parts + part] = the state.
template <typename T>
struct ReduceWriter {
  T* out;
  double* partials;
  int64_t parts;
  bool mean;
  double count;
  template <int N>
  __device__ void operator()(int64_t k, int64_t p, const int64_t (&off)[N], double s) const {
    if (partials != nullptr)
      partials[k * parts + p] = s;
    else
      out[off[0]] = static_cast<T>(mean ? s / count : s);
  }
};

template <typename T>
struct ArgMaxWriter {
  T* values;
  int64_t* indices;
  __device__ void operator()(int64_t, int64_t, const int64_t (&off)[3], ArgMaxState<T> s) const {
    values[off[0]] = s.v;
    indices[off[1]] = s.i;
  }
};

// ------------------------------------------------------------------------------------------------ reduction kernels
// Work item ("task") = one output, or one (output, part) of a split reduction; part p covers the reduced indices
// [p * chunk, (p + 1) * chunk). The kept map's last operand is x; `write` gets the other offsets.

// Row strategy, for a reduced dim that x steps through faster than the kept ones: one warp (kBlock false) or one
// block (kBlock true) per task, its threads striding through the task's reduced indices (coalesced along a
// contiguous reduced dim), then a warp tree (and a tree over the block's warps).
template <typename T, class Op, int N, bool kBlock, class W>
__global__ void __launch_bounds__(kThreads)
    reduce_rows_kernel(const T* __restrict__ x, const __grid_constant__ IndexMap<N> kept,
                       const __grid_constant__ IndexMap<1> red, int64_t outputs, int64_t red_n, int64_t parts,
                       W write) {
  using State = typename Op::State;
  __shared__ State smem[kWarp];
  const int64_t chunk = (red_n + parts - 1) / parts, tasks = outputs * parts;
  const int64_t groups = kBlock ? 1 : blockDim.x / kWarp;  // tasks in flight per block
  const int64_t rank = kBlock ? threadIdx.x : threadIdx.x % kWarp, size = kBlock ? blockDim.x : kWarp;
  const int64_t first = blockIdx.x * groups + (kBlock ? 0 : threadIdx.x / kWarp);
  for (int64_t task = first; task < tasks; task += int64_t(gridDim.x) * groups) {
    const int64_t k = task / parts, p = task - k * parts;
    const int64_t begin = p * chunk, end = min(red_n, begin + chunk);
    int64_t off[N];
    map_offsets(kept, k, off);
    State s = accumulate<Op>(x + off[N - 1], red, begin + rank, end, size);
    if constexpr (kBlock)
      s = block_reduce<Op>(s, smem);
    else
      s = warp_reduce<Op>(s);
    if (rank == 0) write(k, p, off, s);
  }
}

// Column strategy, for kept outputs that x steps through faster than the reduced dims (reducing leading dims, or
// short reductions): a block of blockDim.x consecutive outputs, one thread per output (coalesced across the warp
// along a contiguous kept dim), and blockDim.y threads per output splitting its reduced indices round robin, merged
// in order of threadIdx.y.
template <typename T, class Op, int N, class W>
__global__ void __launch_bounds__(kThreads)
    reduce_cols_kernel(const T* __restrict__ x, const __grid_constant__ IndexMap<N> kept,
                       const __grid_constant__ IndexMap<1> red, int64_t outputs, int64_t red_n, int64_t parts,
                       W write) {
  using State = typename Op::State;
  __shared__ State smem[kThreads];
  const int64_t width = blockDim.x, slices = blockDim.y;
  const int64_t chunk = (red_n + parts - 1) / parts, tiles = (outputs + width - 1) / width;
  AGF_BLOCK_STRIDE_LOOP(task, tiles * parts) {
    const int64_t tile = task / parts, p = task - tile * parts;
    const int64_t k = tile * width + threadIdx.x;
    const int64_t begin = p * chunk, end = min(red_n, begin + chunk);
    int64_t off[N] = {};
    State s = Op::init();
    if (k < outputs) {
      map_offsets(kept, k, off);
      s = accumulate<Op>(x + off[N - 1], red, begin + threadIdx.y, end, slices);
    }
    if (slices > 1) {
      __syncthreads();  // the previous task's readers of smem are done
      smem[threadIdx.y * width + threadIdx.x] = s;
      __syncthreads();
      if (threadIdx.y == 0)
        for (int64_t r = 1; r < slices; ++r) s = Op::merge(s, smem[r * width + threadIdx.x]);
    }
    if (threadIdx.y == 0 && k < outputs) write(k, p, off, s);
  }
}

// Second stage of a split reduction: one warp per output merges its parts (lane l takes parts l, l + 32, ...) and a
// warp tree finishes.
template <typename T, class Op>
__global__ void __launch_bounds__(kThreads)
    finish_partials_kernel(const double* __restrict__ partials, const __grid_constant__ IndexMap<2> kept,
                           int64_t outputs, int64_t parts, ReduceWriter<T> write) {
  const int64_t groups = blockDim.x / kWarp, lane = threadIdx.x % kWarp;
  for (int64_t k = blockIdx.x * groups + threadIdx.x / kWarp; k < outputs; k += int64_t(gridDim.x) * groups) {
    double s = Op::init();
    for (int64_t p = lane; p < parts; p += kWarp) s = Op::merge(s, partials[k * parts + p]);
    s = warp_reduce<Op>(s);
    if (lane == 0) {
      int64_t off[2];
      map_offsets(kept, k, off);
      write(k, 0, off, s);
    }
  }
}

// ------------------------------------------------------------------------------------------------ strategy

enum class Mode { cols, warp_rows, block_rows };

struct Plan {
  Mode mode = Mode::cols;
  int slices = 1;     // cols: threads per output
  int64_t parts = 1;  // partial results per output
};

constexpr int64_t kSmallRow = 16;       // rows up to this long: one thread per output reads the whole row
constexpr int64_t kLongRow = 1024;      // rows from this long: a block per output when outputs are few
constexpr int64_t kFewOutputs = 2048;   // fewer outputs than this leave warps idle with a warp per output
constexpr int64_t kTargetTasks = 1024;  // enough blocks to fill an H100 (132 SMs x 8 blocks of 256)
constexpr int64_t kRowChunk = 4096;     // smallest share of a split row per block (16 elements per thread)
constexpr int64_t kColRun = 16;         // smallest share of a split column per thread
constexpr int64_t kMaxParts = 1024;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t clamp_parts(int64_t want, int64_t most) { return std::max<int64_t>(1, std::min({want, most, kMaxParts})); }

// red_step, kept_step: |stride| of x along the innermost reduced and innermost kept dim (0 where there is none).
Plan make_plan(int64_t outputs, int64_t red_n, int64_t red_step, int64_t kept_step, bool allow_split) {
  Plan plan;
  const bool row_layout = red_n > 1 && (outputs == 1 || red_step < kept_step);
  if (row_layout && red_n > kSmallRow) {
    if (red_n >= kLongRow && outputs < kFewOutputs) {
      plan.mode = Mode::block_rows;
      if (allow_split && outputs < kTargetTasks)
        plan.parts = clamp_parts(ceil_div(kTargetTasks, outputs), red_n / kRowChunk);
    } else {
      plan.mode = Mode::warp_rows;
    }
    return plan;
  }
  plan.mode = Mode::cols;
  plan.slices = row_layout ? 1 : red_n >= 64 ? 8 : red_n >= 16 ? 4 : red_n >= 4 ? 2 : 1;
  const int64_t tiles = ceil_div(outputs, kThreads / plan.slices);
  if (allow_split && tiles < kTargetTasks)
    plan.parts = clamp_parts(ceil_div(kTargetTasks, tiles), red_n / (plan.slices * kColRun));
  return plan;
}

int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

template <int N>
int64_t inner_step(const StridedDesc<N>& d, int operand) {
  return d.ndim == 0 ? 0 : abs64(d.strides[operand][d.ndim - 1]);
}

Plan reduce_plan(const StridedDesc<2>& kept, const StridedDesc<1>& red) {
  return make_plan(desc_numel(kept), desc_numel(red), inner_step(red, 0), inner_step(kept, 1), true);
}

template <typename T, class Op, int N, class W>
void launch_strategy(const T* x, const IndexMap<N>& kept, const IndexMap<1>& red, int64_t outputs, int64_t red_n,
                     const Plan& plan, const W& write) {
  cudaStream_t stream = current_stream();
  switch (plan.mode) {
    case Mode::warp_rows:
      reduce_rows_kernel<T, Op, N, false, W><<<grid_for(outputs * plan.parts * kWarp, kThreads), kThreads, 0, stream>>>(
          x, kept, red, outputs, red_n, plan.parts, write);
      break;
    case Mode::block_rows:
      reduce_rows_kernel<T, Op, N, true, W><<<grid_for_rows(outputs * plan.parts), kThreads, 0, stream>>>(
          x, kept, red, outputs, red_n, plan.parts, write);
      break;
    case Mode::cols: {
      const dim3 block(kThreads / plan.slices, plan.slices);
      const int64_t tiles = ceil_div(outputs, block.x);
      reduce_cols_kernel<T, Op, N, W><<<grid_for_rows(tiles * plan.parts), block, 0, stream>>>(
          x, kept, red, outputs, red_n, plan.parts, write);
      break;
    }
  }
}

template <typename T, class Op>
cudaError_t reduce_with(T* out, const T* x, const StridedDesc<2>& kept_desc, const StridedDesc<1>& red_desc,
                        bool mean, double* partials) {
  const Plan plan = reduce_plan(kept_desc, red_desc);
  const int64_t outputs = desc_numel(kept_desc), red_n = desc_numel(red_desc);
  if (plan.parts > 1 && partials == nullptr) return cudaErrorInvalidValue;
  const IndexMap<2> kept = index_map(kept_desc);
  const ReduceWriter<T> final_write{out, nullptr, 1, mean, static_cast<double>(red_n)};
  if (plan.parts == 1) {
    launch_strategy<T, Op>(x, kept, index_map(red_desc), outputs, red_n, plan, final_write);
    return cudaGetLastError();
  }
  const ReduceWriter<T> partial_write{out, partials, plan.parts, mean, static_cast<double>(red_n)};
  launch_strategy<T, Op>(x, kept, index_map(red_desc), outputs, red_n, plan, partial_write);
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess) return err;
  finish_partials_kernel<T, Op><<<grid_for(outputs * kWarp, kThreads), kThreads, 0, current_stream()>>>(
      partials, kept, outputs, plan.parts, final_write);
  return cudaGetLastError();
}

// ------------------------------------------------------------------------------------------------ max over a dim

// One thread per kept element. Different kept elements own disjoint slices of gx, so the += never collide.
template <typename T>
__global__ void max_dim_backward_kernel(T* __restrict__ gx, const T* __restrict__ gv,
                                        const int64_t* __restrict__ indices, const __grid_constant__ IndexMap<3> kept,
                                        int64_t outputs, int64_t n_red, int64_t red_stride, int64_t* bad) {
  AGF_GRID_STRIDE_LOOP(k, outputs) {
    int64_t off[3];
    map_offsets(kept, k, off);
    const int64_t arg = indices[off[2]];
    if (arg < 0 || arg >= n_red) {
      bad[0] = 1;
      bad[1] = arg;
      continue;
    }
    gx[off[0] + arg * red_stride] += gv[off[1]];
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------ launchers

int64_t reduce_parts(const StridedDesc<2>& kept, const StridedDesc<1>& red) {
  return desc_numel(kept) == 0 ? 1 : reduce_plan(kept, red).parts;
}

template <typename T>
cudaError_t launch_reduce(T* out, const T* x, const StridedDesc<2>& kept, const StridedDesc<1>& red, ReduceKind op,
                          double* partials) {
  if (desc_numel(kept) == 0) return cudaSuccess;
  switch (op) {
    case ReduceKind::sum: return reduce_with<T, DoubleOp<Kind::sum>>(out, x, kept, red, false, partials);
    case ReduceKind::mean: return reduce_with<T, DoubleOp<Kind::sum>>(out, x, kept, red, true, partials);
    case ReduceKind::max: return reduce_with<T, DoubleOp<Kind::max>>(out, x, kept, red, false, partials);
    case ReduceKind::min: return reduce_with<T, DoubleOp<Kind::min>>(out, x, kept, red, false, partials);
    case ReduceKind::sumsq: return reduce_with<T, DoubleOp<Kind::sumsq>>(out, x, kept, red, false, partials);
  }
  return cudaErrorInvalidValue;
}

template <typename T>
cudaError_t launch_max_dim(T* values, int64_t* indices, const T* x, const StridedDesc<3>& kept_desc, int64_t n_red,
                           int64_t red_stride) {
  const int64_t outputs = desc_numel(kept_desc);
  if (outputs == 0 || n_red < 1) return cudaSuccess;
  // The reduced dim as a one-dim map even when n_red is 1, so that the scan's index is the index along the dim.
  IndexMap<1> red;
  red.ndim = 1;
  red.narrow = n_red < kNarrow;
  red.sizes[0] = n_red;
  red.div[0] = FastDiv(n_red);
  red.strides[0][0] = red_stride;
  const Plan plan = make_plan(outputs, n_red, abs64(red_stride), inner_step(kept_desc, 2), false);
  launch_strategy<T, ArgMaxOp<T>>(x, index_map(kept_desc), red, outputs, n_red, plan, ArgMaxWriter<T>{values, indices});
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_max_dim_backward(T* gx, const T* gv, const int64_t* indices, const StridedDesc<3>& kept,
                                    int64_t n_red, int64_t red_stride, int64_t* bad) {
  const int64_t outputs = desc_numel(kept);
  if (outputs == 0) return cudaSuccess;
  max_dim_backward_kernel<T><<<grid_for(outputs), kThreads, 0, current_stream()>>>(gx, gv, indices, index_map(kept),
                                                                                  outputs, n_red, red_stride, bad);
  return cudaGetLastError();
}

#define AGF_INSTANTIATE(T)                                                                                          \
  template cudaError_t launch_reduce<T>(T*, const T*, const StridedDesc<2>&, const StridedDesc<1>&, ReduceKind,     \
                                        double*);                                                                   \
  template cudaError_t launch_max_dim<T>(T*, int64_t*, const T*, const StridedDesc<3>&, int64_t, int64_t);          \
  template cudaError_t launch_max_dim_backward<T>(T*, const T*, const int64_t*, const StridedDesc<3>&, int64_t,     \
                                                  int64_t, int64_t*);

AGF_INSTANTIATE(float)
AGF_INSTANTIATE(double)

}  // namespace agf::cuda
