// The AdaGrad-Fusion kernels: the SPSA direction d (a weighted sum of masked Philox normals) regenerated per Philox
// block, never stored, and the ops built on it: the multi-tensor perturbation, the per-tensor squared norms of d, the
// fused AdamW step and the radix histogram behind the k-th largest |g|. kernels/cpu/spsa.cpp is the reference; the
// math is tensor/philox.h and kernels/element_math.h, the functions the CPU calls.
#include <cstring>

#include "kernels/cuda/spsa_launch.h"
#include "tensor/cuda/stream.h"
#include "tensor/philox.h"

namespace agf::cuda {

namespace {

constexpr int kThreads = 256;
constexpr size_t kSmallBlob = 2048;  // most sets: a few dozen tensors and queries, a cheap parameter block
constexpr int kSqnormTile = 1024;    // blocks per tile of the chunk sums (two tiles of doubles: 16 KiB of shared)

// A table blob passed by value. As a __grid_constant__ parameter its address may be taken without a copy to local
// memory, so the kernels index it like a device array (reads go through the constant cache).
template <size_t kBytes>
struct SpsaBlob {
  alignas(16) unsigned char bytes[kBytes];
};

// Where the blob is when it is not a parameter, and how to read it.
struct TableMeta {
  const unsigned char* device_blob;
  int32_t ntensors, nqueries;
  float sparsity;
};

struct TableView {
  const SpsaTensorEntry* entries;
  const math::SpsaQuery* queries;
  int32_t ntensors, nqueries;
  float sparsity;
};

template <size_t kBytes>
__device__ __forceinline__ TableView view(const SpsaBlob<kBytes>& blob, const TableMeta& meta) {
  const unsigned char* base = meta.device_blob != nullptr ? meta.device_blob : blob.bytes;
  return {reinterpret_cast<const SpsaTensorEntry*>(base),
          reinterpret_cast<const math::SpsaQuery*>(base + sizeof(SpsaTensorEntry) * meta.ntensors), meta.ntensors,
          meta.nqueries, meta.sparsity};
}

// d at the four counter indices of Philox block `blk`, as direction_block of cpu/spsa.cpp: per query one block of
// normals and, with sparsity, one block of the mask, summed in double in query order. w * z is exact in double, and
// the explicit roundings keep the sum a literal add whatever the compiler would fuse.
__device__ __forceinline__ void direction_block(const TableView& t, uint64_t blk, double d[4]) {
  d[0] = d[1] = d[2] = d[3] = 0.0;
  for (int j = 0; j < t.nqueries; ++j) {
    const uint64_t seed = t.queries[j].seed;
    const double w = static_cast<double>(t.queries[j].weight);
    float z[4];
    philox::normals_from_block(philox::block(seed, blk), z);
    if (t.sparsity > 0.0f) {
      const philox::U32x4 u = philox::block(math::spsa_mask_seed(seed), blk);
#pragma unroll
      for (int k = 0; k < 4; ++k)
        if (philox::u32_to_uniform(u.v[k]) < t.sparsity) z[k] = 0.0f;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) d[k] = __dadd_rn(d[k], __dmul_rn(w, static_cast<double>(z[k])));
  }
}

// The entry whose work items [begin, next begin) hold w (entries' begin strictly increasing, entry 0 at 0).
__device__ __forceinline__ int find_entry(const SpsaTensorEntry* e, int32_t n, int64_t w) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (e[mid].begin <= w)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// Counter index 4 * blk + k inside [offset, offset + n): its element index, else -1.
__device__ __forceinline__ int64_t lane_element(uint64_t blk, int k, int64_t n, uint64_t offset) {
  const uint64_t g = 4 * blk + static_cast<uint64_t>(k);
  return (g >= offset && g - offset < static_cast<uint64_t>(n)) ? static_cast<int64_t>(g - offset) : -1;
}

// ---------------------------------------------------------------- perturbation

// The lanes of block `blk` inside the tensor += a * d, `repeats` fmas each, in the tensor's type (as the CPU: d cast
// to T, then math::perturb).
template <typename T>
__device__ __forceinline__ void perturb_lanes(const SpsaTensorEntry& e, uint64_t blk, const double d[4], double scale,
                                              int repeats) {
  T* p = static_cast<T*>(e.data);
  const T a = static_cast<T>(scale);
  const int64_t n = e.numel;
  const uint64_t offset = e.offset;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const int64_t i = lane_element(blk, k, n, offset);
    if (i < 0) continue;
    const T dk = static_cast<T>(d[k]);
    T v = p[i];
    for (int r = 0; r < repeats; ++r) v = math::perturb(v, a, dk);
    p[i] = v;
  }
}

// One thread per Philox block of any tensor of the set: work item w is block w - begin of its tensor's range.
template <size_t kBytes>
__global__ void __launch_bounds__(kThreads)
    spsa_perturb_kernel(const __grid_constant__ SpsaBlob<kBytes> blob, TableMeta meta, int64_t total, double scale,
                        int repeats) {
  const TableView t = view(blob, meta);
  AGF_GRID_STRIDE_LOOP(w, total) {
    const SpsaTensorEntry& e = t.entries[find_entry(t.entries, t.ntensors, w)];
    const uint64_t blk = (e.offset >> 2) + static_cast<uint64_t>(w - e.begin);
    double d[4];
    direction_block(t, blk, d);
    if (e.is_f64)
      perturb_lanes<double>(e, blk, d, scale, repeats);
    else
      perturb_lanes<float>(e, blk, d, scale, repeats);
  }
}

// ---------------------------------------------------------------- squared norms

// One CUDA block per chunk of kSpsaChunkBlocks Philox blocks of one tensor (chunk c of the set: entries' begin
// counts chunks). The CPU sums a chunk sequentially, block after block, each block's lanes in order; so do we: the
// threads compute a tile of per-block sums into shared memory and thread 0 adds them in order while the others go
// on with the next tile (two buffers). The chunk sums go to `partials`, added per tensor in order by the host.
template <size_t kBytes>
__global__ void __launch_bounds__(kThreads)
    sqnorm_chunks_kernel(const __grid_constant__ SpsaBlob<kBytes> blob, TableMeta meta, int64_t total_chunks,
                         double* partials) {
  __shared__ double tile[2][kSqnormTile];
  const TableView t = view(blob, meta);
  AGF_BLOCK_STRIDE_LOOP(c, total_chunks) {
    const SpsaTensorEntry& e = t.entries[find_entry(t.entries, t.ntensors, c)];
    const int64_t n = e.numel;
    const uint64_t offset = e.offset;
    const uint64_t first = offset >> 2;
    const int64_t count = static_cast<int64_t>(((offset + static_cast<uint64_t>(n) - 1) >> 2) - first + 1);
    const int64_t b0 = (c - e.begin) * kSpsaChunkBlocks;
    const int64_t b1 = count < b0 + kSpsaChunkBlocks ? count : b0 + kSpsaChunkBlocks;
    double acc = 0.0;
    int buf = 0;
    for (int64_t base = b0; base < b1; base += kSqnormTile, buf ^= 1) {
      const int m = b1 - base < kSqnormTile ? static_cast<int>(b1 - base) : kSqnormTile;
      for (int j = threadIdx.x; j < m; j += blockDim.x) {
        const uint64_t blk = first + static_cast<uint64_t>(base + j);
        double d[4];
        direction_block(t, blk, d);
        double s = 0.0;
#pragma unroll
        for (int k = 0; k < 4; ++k)
          if (lane_element(blk, k, n, offset) >= 0) s = __dadd_rn(s, __dmul_rn(d[k], d[k]));
        tile[buf][j] = s;
      }
      // Thread 0 read the other buffer before this barrier, so the next tile may overwrite it.
      __syncthreads();
      if (threadIdx.x == 0)
        for (int j = 0; j < m; ++j) acc = __dadd_rn(acc, tile[buf][j]);
    }
    if (threadIdx.x == 0) partials[c] = acc;
    __syncthreads();  // the next chunk restarts at buffer 0, which thread 0 may still be reading
  }
}

// ---------------------------------------------------------------- the fused gradient

// g_i as FusedGradientReader::at of cpu/spsa.cpp, rounding for rounding (a product and a sum, never fused into an
// fma, as the CPU build without FMA computes them): fo * g_fo[i] (+ zo * T(d) with a ZO term), 0 below threshold.
template <typename T, bool kZo>
__device__ __forceinline__ T fused_g(const T* gfo, const StridedDesc<1>& gd, bool contiguous, int64_t i,
                                     const FusedScalars<T>& f, double d) {
  T g = T(0);
  if (gfo != nullptr) {
    int64_t o[1] = {i};
    if (!contiguous) offsets(gd, i, o);
    g = mul_rn(f.fo, gfo[o[0]]);
  }
  if constexpr (kZo) g = add_rn(g, mul_rn(f.zo, static_cast<T>(d)));
  return (g < f.threshold && -g < f.threshold) ? T(0) : g;
}

template <typename T>
struct AdamWT {
  T decay, b1, omb1, b2, omb2, step_size, bc2_sqrt, eps;
};

template <typename T>
__device__ __forceinline__ void adamw_at(T* theta, T* m, T* v, int64_t i, T g, const AdamWT<T>& s) {
  math::adamw(theta[i], m[i], v[i], g, s.decay, s.b1, s.omb1, s.b2, s.omb2, s.step_size, s.bc2_sqrt, s.eps);
}

// Without a ZO term one thread per element (then it is adamw_kernel of elementwise.cu with g = fo * g_fo); with one,
// one thread per Philox block of the tensor's counter range, its up to 4 elements updated from one draw of d.
template <typename T, bool kZo, size_t kBytes>
__global__ void __launch_bounds__(kThreads)
    fused_adamw_kernel(const __grid_constant__ SpsaBlob<kBytes> blob, TableMeta meta, T* theta, T* m, T* v,
                       const T* gfo, StridedDesc<1> gd, bool contiguous, int64_t n, int64_t items, uint64_t offset,
                       FusedScalars<T> f, AdamWT<T> s) {
  if constexpr (kZo) {
    const TableView t = view(blob, meta);
    AGF_GRID_STRIDE_LOOP(w, items) {
      const uint64_t blk = (offset >> 2) + static_cast<uint64_t>(w);
      double d[4];
      direction_block(t, blk, d);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int64_t i = lane_element(blk, k, n, offset);
        if (i >= 0) adamw_at(theta, m, v, i, fused_g<T, true>(gfo, gd, contiguous, i, f, d[k]), s);
      }
    }
  } else {
    AGF_GRID_STRIDE_LOOP(i, items) adamw_at(theta, m, v, i, fused_g<T, false>(gfo, gd, contiguous, i, f, 0.0), s);
  }
}

// ---------------------------------------------------------------- radix histogram of |g|

// The byte of |float(g)| at `shift` if its higher bytes match the prefix so far, else -1 (not a candidate).
template <typename T>
__device__ __forceinline__ int candidate_byte(T g, uint32_t prefix, uint32_t mask, int shift) {
  const uint32_t bits = __float_as_uint(fabsf(static_cast<float>(g)));
  return (bits & mask) == prefix ? static_cast<int>((bits >> shift) & 0xFFu) : -1;
}

// Counts one key per lane into the block's histogram: lanes with equal keys are counted by one atomic of their
// leader (the first pass sees few distinct exponents, so plain per-lane atomics would serialise). All 32 lanes of
// the warp must call it together.
__device__ __forceinline__ void count_key(unsigned long long* hist, int key) {
  const unsigned peers = __match_any_sync(0xFFFFFFFFu, key);
  if (key >= 0 && static_cast<int>(threadIdx.x & 31u) == __ffs(peers) - 1)
    atomicAdd(&hist[key], static_cast<unsigned long long>(__popc(peers)));
}

// One thread per element (no ZO term) or per Philox block (up to 4 keys); a per-block shared histogram in integers,
// added to the global one by integer atomics: exact, so the counts do not depend on the grid or the order.
template <typename T, bool kZo, size_t kBytes>
__global__ void __launch_bounds__(kThreads)
    abs_histogram_kernel(const __grid_constant__ SpsaBlob<kBytes> blob, TableMeta meta, const T* gfo,
                         StridedDesc<1> gd, bool contiguous, int64_t n, int64_t items, uint64_t offset,
                         FusedScalars<T> f, uint32_t prefix, uint32_t mask, int shift, unsigned long long* hist) {
  __shared__ unsigned long long local[256];
  for (int j = threadIdx.x; j < 256; j += blockDim.x) local[j] = 0;
  __syncthreads();
  constexpr int kKeys = kZo ? 4 : 1;
  // The trip count is the same for every thread of the block (base, not the thread's index, is tested), so whole
  // warps reach count_key together.
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x; base < items; base += stride) {
    const int64_t w = base + threadIdx.x;
    int keys[kKeys];
#pragma unroll
    for (int k = 0; k < kKeys; ++k) keys[k] = -1;
    if (w < items) {
      if constexpr (kZo) {
        const TableView t = view(blob, meta);
        const uint64_t blk = (offset >> 2) + static_cast<uint64_t>(w);
        double d[4];
        direction_block(t, blk, d);
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const int64_t i = lane_element(blk, k, n, offset);
          if (i >= 0) keys[k] = candidate_byte(fused_g<T, true>(gfo, gd, contiguous, i, f, d[k]), prefix, mask, shift);
        }
      } else {
        keys[0] = candidate_byte(fused_g<T, false>(gfo, gd, contiguous, w, f, 0.0), prefix, mask, shift);
      }
    }
#pragma unroll
    for (int k = 0; k < kKeys; ++k) count_key(local, keys[k]);
  }
  __syncthreads();
  for (int j = threadIdx.x; j < 256; j += blockDim.x)
    if (local[j] != 0) atomicAdd(&hist[j], local[j]);
}

// Calls launch(blob, meta) with the tables as a parameter blob of the smallest fitting size, or with a 16-byte
// placeholder where they live in device memory (or there are none).
template <typename Launch>
cudaError_t with_tables(const SpsaTables& t, Launch&& launch) {
  const TableMeta meta{t.device_blob, t.ntensors, t.nqueries, t.sparsity};
  if (t.device_blob != nullptr || t.bytes == 0) return launch(SpsaBlob<16>{}, meta);
  if (t.bytes <= kSmallBlob) {
    SpsaBlob<kSmallBlob> b{};
    std::memcpy(b.bytes, t.host_blob, t.bytes);
    return launch(b, meta);
  }
  if (t.bytes <= kSpsaMaxInlineBytes) {
    SpsaBlob<kSpsaMaxInlineBytes> b{};
    std::memcpy(b.bytes, t.host_blob, t.bytes);
    return launch(b, meta);
  }
  return cudaErrorInvalidValue;  // the caller uploads tables this large
}

template <typename T>
AdamWT<T> adamw_t(const math::AdamWScalars& s) {
  return {T(s.decay), T(s.b1), T(s.one_minus_b1), T(s.b2), T(s.one_minus_b2), T(s.step_size), T(s.bc2_sqrt), T(s.eps)};
}

}  // namespace

cudaError_t launch_spsa_perturb(const SpsaTables& tables, int64_t total_blocks, double scale, int repeats) {
  if (total_blocks <= 0) return cudaSuccess;
  return with_tables(tables, [&](const auto& blob, const TableMeta& meta) {
    spsa_perturb_kernel<<<grid_for(total_blocks), kThreads, 0, current_stream()>>>(blob, meta, total_blocks, scale,
                                                                                   repeats);
    return cudaGetLastError();
  });
}

cudaError_t launch_spsa_sqnorm_chunks(const SpsaTables& tables, int64_t total_chunks, double* partials) {
  if (total_chunks <= 0) return cudaSuccess;
  return with_tables(tables, [&](const auto& blob, const TableMeta& meta) {
    sqnorm_chunks_kernel<<<grid_for_rows(total_chunks), kThreads, 0, current_stream()>>>(blob, meta, total_chunks,
                                                                                        partials);
    return cudaGetLastError();
  });
}

template <typename T>
cudaError_t launch_fused_adamw(T* theta, T* m, T* v, const T* gfo, const StridedDesc<1>& gd, bool gfo_contiguous,
                               int64_t n, uint64_t offset, const FusedScalars<T>& f, bool with_zo,
                               const SpsaTables& tables, const math::AdamWScalars& s) {
  if (n <= 0) return cudaSuccess;
  const AdamWT<T> st = adamw_t<T>(s);
  if (!with_zo) {
    fused_adamw_kernel<T, false><<<grid_for(n), kThreads, 0, current_stream()>>>(
        SpsaBlob<16>{}, TableMeta{}, theta, m, v, gfo, gd, gfo_contiguous, n, n, offset, f, st);
    return cudaGetLastError();
  }
  const int64_t items = spsa_block_count(n, offset);
  return with_tables(tables, [&](const auto& blob, const TableMeta& meta) {
    fused_adamw_kernel<T, true><<<grid_for(items), kThreads, 0, current_stream()>>>(
        blob, meta, theta, m, v, gfo, gd, gfo_contiguous, n, items, offset, f, st);
    return cudaGetLastError();
  });
}

template <typename T>
cudaError_t launch_fused_abs_histogram(const T* gfo, const StridedDesc<1>& gd, bool gfo_contiguous, int64_t n,
                                       uint64_t offset, const FusedScalars<T>& f, bool with_zo,
                                       const SpsaTables& tables, uint32_t prefix, uint32_t mask, int shift,
                                       unsigned long long* hist) {
  if (n <= 0) return cudaSuccess;
  // Blocks of 16 items per thread at least: each block ends with up to 256 global atomics.
  constexpr int kItemsPerBlock = kThreads * 16;
  if (!with_zo) {
    abs_histogram_kernel<T, false><<<grid_for(n, kItemsPerBlock), kThreads, 0, current_stream()>>>(
        SpsaBlob<16>{}, TableMeta{}, gfo, gd, gfo_contiguous, n, n, offset, f, prefix, mask, shift, hist);
    return cudaGetLastError();
  }
  const int64_t items = spsa_block_count(n, offset);
  return with_tables(tables, [&](const auto& blob, const TableMeta& meta) {
    abs_histogram_kernel<T, true><<<grid_for(items, kItemsPerBlock / 4), kThreads, 0, current_stream()>>>(
        blob, meta, gfo, gd, gfo_contiguous, n, items, offset, f, prefix, mask, shift, hist);
    return cudaGetLastError();
  });
}

#define AGF_INSTANTIATE(T)                                                                                         \
  template cudaError_t launch_fused_adamw<T>(T*, T*, T*, const T*, const StridedDesc<1>&, bool, int64_t, uint64_t,  \
                                             const FusedScalars<T>&, bool, const SpsaTables&,                        \
                                             const math::AdamWScalars&);                                             \
  template cudaError_t launch_fused_abs_histogram<T>(const T*, const StridedDesc<1>&, bool, int64_t, uint64_t,      \
                                                     const FusedScalars<T>&, bool, const SpsaTables&, uint32_t,      \
                                                     uint32_t, int, unsigned long long*);

AGF_INSTANTIATE(float)
AGF_INSTANTIATE(double)

}  // namespace agf::cuda
