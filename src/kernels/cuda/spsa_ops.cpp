// Tensor-level entry points of the AdaGrad-Fusion CUDA kernels (compiled by g++): the tables of tensors and queries,
// the workspaces and the host side of the reductions (the fixed-order sums of the squared norms, the radix selection
// of the k-th largest |g|), around the launchers of cuda/spsa.cu. kernels/cpu/spsa.cpp is the reference.
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/spsa_launch.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/cuda/stream.h"
#include "tensor/cuda/strided_desc.h"
#include "tensor/ledger.h"

namespace agf::cuda {

namespace {

// Enqueues the copy of `host` to `dst` on the current stream. A pageable source may still be read after
// cudaMemcpyAsync returns, so the bytes copied from are a heap copy freed by the stream itself once past the copy.
void upload_async(void* dst, const std::vector<unsigned char>& host) {
  auto keep = std::make_unique<std::vector<unsigned char>>(host);
  const cudaStream_t stream = current_stream();
  AGF_CUDA_CHECK(cudaMemcpyAsync(dst, keep->data(), keep->size(), cudaMemcpyHostToDevice, stream));
  const cudaError_t err = cudaLaunchHostFunc(
      stream, [](void* p) { delete static_cast<std::vector<unsigned char>*>(p); }, keep.get());
  if (err == cudaSuccess) {
    keep.release();
    return;
  }
  (void)cudaStreamSynchronize(stream);  // the copy has to be done before `keep` goes
  AGF_CUDA_CHECK(err);
}

// The tables of one launch (spsa_launch.h): packed on the host, passed as a kernel parameter when they fit, else
// uploaded to a workspace buffer that lives as long as this object (the launch is enqueued before it dies, and the
// caching allocator orders the buffer's reuse on the one stream).
class Tables {
 public:
  Tables(const std::vector<SpsaTensorEntry>& entries, const ops::SpsaDirection& d, Device dev) {
    AGF_CHECK(entries.size() < (size_t(1) << 30) && d.queries.size() < (size_t(1) << 30),
              "SPSA tables of {} tensors and {} queries are too large", entries.size(), d.queries.size());
    nt_ = static_cast<int32_t>(entries.size());
    nq_ = static_cast<int32_t>(d.queries.size());
    sparsity_ = static_cast<float>(d.sparsity);
    blob_.resize(spsa_blob_bytes(nt_, nq_));
    if (nt_ > 0) std::memcpy(blob_.data(), entries.data(), sizeof(SpsaTensorEntry) * entries.size());
    if (nq_ > 0)
      std::memcpy(blob_.data() + spsa_queries_at(nt_), d.queries.data(), sizeof(math::SpsaQuery) * d.queries.size());
    if (blob_.size() > kSpsaMaxInlineBytes) {
      MemScope scope(MemTag::workspace);
      device_ = empty({static_cast<int64_t>(blob_.size())}, DType::u8, dev);
      upload_async(device_.raw_data(), blob_);
    }
  }

  SpsaTables tables() const {
    SpsaTables t;
    t.host_blob = blob_.data();
    t.device_blob = device_.defined() ? static_cast<const unsigned char*>(device_.raw_data()) : nullptr;
    t.bytes = blob_.size();
    t.ntensors = nt_;
    t.nqueries = nq_;
    t.sparsity = sparsity_;
    return t;
  }

 private:
  std::vector<unsigned char> blob_;
  Tensor device_;
  int32_t nt_ = 0, nq_ = 0;
  float sparsity_ = 0.0f;
};

// The first-order gradient read in the parameter's logical order: its descriptor, and whether it is plain (element
// i at i), which spares the kernels the index arithmetic.
struct GradientLayout {
  StridedDesc<1> desc;
  bool contiguous = true;
};

GradientLayout gradient_layout(const Tensor& g_fo) {
  GradientLayout l;
  if (!g_fo.defined()) return l;
  l.desc = strided_desc<1>(g_fo.shape(), {g_fo.strides().data()});
  l.contiguous = l.desc.ndim == 0 || (l.desc.ndim == 1 && l.desc.strides[0][0] == 1);
  return l;
}

// As the CPU: the ZO term exists only with a non-zero scale and at least one query.
bool has_zo(const ops::FusedGradient& g) { return g.zo_scale != 0.0 && !g.direction.queries.empty(); }

}  // namespace

void spsa_perturb(const std::vector<Tensor>& params, const std::vector<uint64_t>& offsets,
                  const ops::SpsaDirection& d, double scale, int repeats) {
  if (params.empty()) return;
  const Device dev = params.front().device();
  AGF_CUDA_CHECK(cudaSetDevice(dev.index));
  // One entry per non-empty tensor; work item w is a Philox block, counted across the set in table order.
  std::vector<SpsaTensorEntry> entries;
  int64_t total = 0;
  for (size_t t = 0; t < params.size(); ++t) {
    const Tensor& p = params[t];
    const int64_t n = p.numel();
    if (n == 0) continue;
    dispatch_float(p.dtype(), "spsa_perturb_", [&]<typename T>() {
      entries.push_back({p.raw_data(), n, offsets[t], total, std::is_same_v<T, double> ? 1 : 0, 0});
    });
    total += spsa_block_count(n, offsets[t]);
  }
  if (total == 0) return;
  const Tables tables(entries, d, dev);
  AGF_CUDA_CHECK(launch_spsa_perturb(tables.tables(), total, scale, repeats));
}

std::vector<double> spsa_sqnorms(int device, const std::vector<int64_t>& numels, const std::vector<uint64_t>& offsets,
                                 const ops::SpsaDirection& d) {
  std::vector<double> out(numels.size(), 0.0);
  // One entry per non-empty tensor; work item c is a chunk of kSpsaChunkBlocks Philox blocks, the CPU's chunks.
  std::vector<SpsaTensorEntry> entries;
  std::vector<size_t> which;
  std::vector<int64_t> nchunks;
  int64_t total = 0;
  for (size_t t = 0; t < numels.size(); ++t) {
    if (numels[t] <= 0) continue;
    const int64_t c = (spsa_block_count(numels[t], offsets[t]) + kSpsaChunkBlocks - 1) / kSpsaChunkBlocks;
    entries.push_back({nullptr, numels[t], offsets[t], total, 0, 0});
    which.push_back(t);
    nchunks.push_back(c);
    total += c;
  }
  if (total == 0) return out;
  AGF_CUDA_CHECK(cudaSetDevice(device));
  const Device dev = Device::cuda(device);
  Tensor partials;
  {
    MemScope scope(MemTag::workspace);
    partials = empty({total}, DType::f64, dev);
  }
  const Tables tables(entries, d, dev);
  AGF_CUDA_CHECK(launch_spsa_sqnorm_chunks(tables.tables(), total, static_cast<double*>(partials.raw_data())));
  std::vector<double> host(static_cast<size_t>(total));
  AGF_CUDA_CHECK(cudaMemcpyAsync(host.data(), partials.raw_data(), host.size() * sizeof(double),
                                 cudaMemcpyDeviceToHost, current_stream()));
  AGF_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  // The chunk sums merged in chunk order from 0.0, as deterministic_block_sum does.
  for (size_t e = 0; e < entries.size(); ++e) {
    double sum = 0.0;
    for (int64_t c = 0; c < nchunks[e]; ++c) sum += host[static_cast<size_t>(entries[e].begin + c)];
    out[which[e]] = sum;
  }
  return out;
}

void fused_adamw(const Tensor& param, const Tensor& m, const Tensor& v, const ops::FusedGradient& g,
                 const ops::AdamWArgs& a) {
  const int64_t n = param.numel();
  if (n == 0) return;
  const Device dev = param.device();
  AGF_CUDA_CHECK(cudaSetDevice(dev.index));
  const math::AdamWScalars sc = math::adamw_scalars(a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.step);
  const GradientLayout gl = gradient_layout(g.g_fo);
  const bool zo = has_zo(g);
  std::optional<Tables> tables;
  if (zo) tables.emplace(std::vector<SpsaTensorEntry>{}, g.direction, dev);
  dispatch_float(param.dtype(), "fused_adamw_", [&]<typename T>() {
    const FusedScalars<T> f{static_cast<T>(g.fo_scale), static_cast<T>(g.zo_scale), static_cast<T>(g.keep_threshold)};
    const T* gfo = g.g_fo.defined() ? static_cast<const T*>(g.g_fo.raw_data()) : nullptr;
    AGF_CUDA_CHECK(launch_fused_adamw<T>(static_cast<T*>(param.raw_data()), static_cast<T*>(m.raw_data()),
                                         static_cast<T*>(v.raw_data()), gfo, gl.desc, gl.contiguous, n, g.offset, f,
                                         zo, zo ? tables->tables() : SpsaTables{}, sc));
  });
}

double fused_gradient_kth_abs(int device, int64_t numel, const ops::FusedGradient& g, int64_t k) {
  const DType dtype = g.g_fo.defined() ? g.g_fo.dtype() : DType::f32;
  AGF_CUDA_CHECK(cudaSetDevice(device));
  const Device dev = Device::cuda(device);
  const GradientLayout gl = gradient_layout(g.g_fo);
  const bool zo = has_zo(g);
  std::optional<Tables> tables;
  if (zo) tables.emplace(std::vector<SpsaTensorEntry>{}, g.direction, dev);
  Tensor hist;
  {
    MemScope scope(MemTag::workspace);
    hist = empty({256}, DType::i64, dev);
  }
  auto* hist_d = static_cast<unsigned long long*>(hist.raw_data());
  const cudaStream_t stream = current_stream();
  // The CPU's selection: |g| as a non-negative float32 orders as its bit pattern, so the k-th largest is found one
  // byte at a time from the top, each pass a histogram of the next byte among the candidates so far (no threshold:
  // the selection sees g before the keep mask).
  uint32_t prefix = 0, prefix_mask = 0;
  std::array<unsigned long long, 256> h{};
  for (int shift = 24; shift >= 0; shift -= 8) {
    AGF_CUDA_CHECK(cudaMemsetAsync(hist_d, 0, sizeof(h), stream));
    dispatch_float(dtype, "grad_topk", [&]<typename T>() {
      const FusedScalars<T> f{static_cast<T>(g.fo_scale), static_cast<T>(g.zo_scale), T(0)};
      const T* gfo = g.g_fo.defined() ? static_cast<const T*>(g.g_fo.raw_data()) : nullptr;
      AGF_CUDA_CHECK(launch_fused_abs_histogram<T>(gfo, gl.desc, gl.contiguous, numel, g.offset, f, zo,
                                                   zo ? tables->tables() : SpsaTables{}, prefix, prefix_mask, shift,
                                                   hist_d));
    });
    AGF_CUDA_CHECK(cudaMemcpyAsync(h.data(), hist_d, sizeof(h), cudaMemcpyDeviceToHost, stream));
    AGF_CUDA_CHECK(cudaStreamSynchronize(stream));
    int bucket = 255;
    for (; bucket > 0 && static_cast<int64_t>(h[static_cast<size_t>(bucket)]) < k; --bucket)
      k -= static_cast<int64_t>(h[static_cast<size_t>(bucket)]);
    prefix |= static_cast<uint32_t>(bucket) << shift;
    prefix_mask |= 0xFFu << shift;
  }
  float value;
  std::memcpy(&value, &prefix, sizeof value);
  return static_cast<double>(value);
}

}  // namespace agf::cuda
