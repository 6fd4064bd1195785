#pragma once
// Launchers of the AdaGrad-Fusion kernels (cuda/spsa.cu): the fused multi-tensor SPSA perturbation, the per-tensor
// squared norms of a direction, the fused AdamW step and the radix histogram of |g|. Plain types only (no Tensor, no
// fmt): the entry points of cuda/spsa_ops.cpp build the tables and workspaces and call these. Every launcher returns
// the launch status.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/element_math.h"
#include "tensor/cuda/launch_util.h"

namespace agf::cuda {

// One tensor of a set as the kernels see it. Tensors without elements are left out of the table, so `begin` grows
// strictly from entry to entry and a binary search over it finds the tensor of a work item.
struct SpsaTensorEntry {
  void* data;       // contiguous f32 or f64 elements (null for the squared norms)
  int64_t numel;    // > 0
  uint64_t offset;  // the tensor's counter offset in the direction
  int64_t begin;    // its first global work item: Philox block (perturb) or chunk of blocks (squared norms)
  int32_t is_f64;
  int32_t unused;
};

// The tables of one launch, packed in one blob: `ntensors` entries, then `nqueries` queries (both 8-byte aligned).
// Up to kSpsaMaxInlineBytes the blob travels as a kernel parameter (host_blob is read at the launch); above, the
// caller uploads it to a device buffer and passes device_blob.
struct SpsaTables {
  const unsigned char* host_blob = nullptr;
  const unsigned char* device_blob = nullptr;
  size_t bytes = 0;
  int32_t ntensors = 0;
  int32_t nqueries = 0;
  float sparsity = 0.0f;  // as the CPU compares it: in float
};
inline constexpr size_t kSpsaMaxInlineBytes = 30720;  // under the 32764-byte kernel-parameter limit (sm_70+)

inline size_t spsa_queries_at(int32_t ntensors) { return sizeof(SpsaTensorEntry) * static_cast<size_t>(ntensors); }
inline size_t spsa_blob_bytes(int32_t ntensors, int32_t nqueries) {
  return spsa_queries_at(ntensors) + sizeof(math::SpsaQuery) * static_cast<size_t>(nqueries);
}

// The chunk of Philox blocks the CPU's spsa_sqnorms sums sequentially (kChunkBlocks of cpu/spsa.cpp): the GPU sums
// the same chunks in the same order, so both give the same double.
inline constexpr int64_t kSpsaChunkBlocks = int64_t(1) << 14;

// The Philox blocks covering the counter range [offset, offset + n), n > 0 (BlockRange of cpu/spsa.cpp).
inline int64_t spsa_block_count(int64_t n, uint64_t offset) {
  return static_cast<int64_t>(((offset + static_cast<uint64_t>(n) - 1) >> 2) - (offset >> 2) + 1);
}

// The scalars of g_i = fo * g_fo[i] + zo * d_i, zeroed where |g_i| < threshold, in the parameter's type.
template <typename T>
struct FusedScalars {
  T fo, zo, threshold;
};

// Every entry's elements += scale * d (cast to its type), `repeats` roundings; total_blocks = sum of block counts.
cudaError_t launch_spsa_perturb(const SpsaTables& tables, int64_t total_blocks, double scale, int repeats);
// partials[c] = the sequential double sum over chunk c of the per-block sums of d_i^2 (entries' begin in chunks).
cudaError_t launch_spsa_sqnorm_chunks(const SpsaTables& tables, int64_t total_chunks, double* partials);

// One AdamW step of contiguous theta, m, v of n > 0 elements with the fused gradient; g_fo null (absent) or read
// through gd in theta's logical order (gfo_contiguous: at i). with_zo: d is drawn from tables' queries (no tensors)
// at the counter range [offset, offset + n).
template <typename T>
cudaError_t launch_fused_adamw(T* theta, T* m, T* v, const T* gfo, const StridedDesc<1>& gd, bool gfo_contiguous,
                               int64_t n, uint64_t offset, const FusedScalars<T>& f, bool with_zo,
                               const SpsaTables& tables, const math::AdamWScalars& s);
// hist[b] += the number of i with (bits(|float(g_i)|) & mask) == prefix and byte (bits >> shift) & 255 equal to b;
// hist: 256 counters on the device, zeroed by the caller.
template <typename T>
cudaError_t launch_fused_abs_histogram(const T* gfo, const StridedDesc<1>& gd, bool gfo_contiguous, int64_t n,
                                       uint64_t offset, const FusedScalars<T>& f, bool with_zo,
                                       const SpsaTables& tables, uint32_t prefix, uint32_t mask, int shift,
                                       unsigned long long* hist);

}  // namespace agf::cuda
