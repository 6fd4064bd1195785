// GEMM through cuBLAS and conv1d through cuDNN, the CUDA side of kernels/ops_linalg.cpp (compiled by g++).
//
// matmul: cuBLAS is column-major, so a row-major C = op(A) op(B) is issued as the column-major C^T = op(B)^T op(A)^T
// on the same storage. A weight shared by every batch folds the batch into the rows (one tall GEMM, as on the CPU);
// batch dims that collapse into one stride go to one strided-batched GEMM (attention's (B, H) matrices); anything
// else loops over the batch matrices.
//
// conv1d: cuDNN's convolutions as 2-D with height 1 (x (B, Cin, 1, T), w (Cout, Cin, 1, K)). cuDNN 9 still ships this
// legacy API (marked deprecated in favour of the graph API, whose C++ front end is not part of the CUDA Toolkit);
// the warnings are silenced here only. The algorithm is chosen once per geometry from cuDNN's heuristics, among the
// deterministic ones (same inputs, same bits: the GPU determinism test depends on it) whose workspace fits the
// budget, and cached; the workspace is drawn from the ledger under `workspace`, while planning too.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/handles.h"
#include "kernels/matrix_layout.h"
#include "tensor/cuda/cuda_check.h"
#include "tensor/ledger.h"
#include "tensor/planning.h"

namespace agf::cuda {

namespace {

void set_device(const Tensor& t) { AGF_CUDA_CHECK(cudaSetDevice(t.device().index)); }

int cublas_int(int64_t v, const char* what) {
  AGF_CHECK(v >= 0 && v <= INT32_MAX, "cuBLAS GEMM: {} = {} does not fit its 32-bit integers", what, v);
  return static_cast<int>(v);
}

// A ledger-drawn workspace of `bytes` (tag workspace) on t's device; undefined for 0 bytes.
Tensor workspace(const Tensor& like, size_t bytes) {
  if (bytes == 0) return Tensor();
  MemScope scope(MemTag::workspace);
  return empty({static_cast<int64_t>(bytes)}, DType::u8, like.device());
}

// Row-major C (m, n) with ldc = alpha op(A) op(B) + beta C over `batches` matrices spaced by the given strides.
template <typename T>
void gemm(cublasHandle_t h, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          int64_t stride_a, const T* b, int64_t ldb, int64_t stride_b, T beta, T* c, int64_t ldc, int64_t stride_c,
          int64_t batches) {
  // Column-major: C^T (n, m) = op(B)^T (n, k) op(A)^T (k, m), with B's and A's row-major storage read as their
  // column-major transposes, so the trans flags carry over unchanged.
  const cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int in = cublas_int(n, "N"), im = cublas_int(m, "M"), ik = cublas_int(k, "K");
  const int ilda = cublas_int(lda, "lda"), ildb = cublas_int(ldb, "ldb"), ildc = cublas_int(ldc, "ldc");
  const int ib = cublas_int(batches, "batch count");
  if constexpr (sizeof(T) == sizeof(float)) {
    if (batches == 1)
      AGF_CUBLAS_CHECK(cublas().sgemm(h, opb, opa, in, im, ik, &alpha, b, ildb, a, ilda, &beta, c, ildc));
    else
      AGF_CUBLAS_CHECK(cublas().sgemm_strided_batched(h, opb, opa, in, im, ik, &alpha, b, ildb, stride_b, a, ilda,
                                                      stride_a, &beta, c, ildc, stride_c, ib));
  } else {
    if (batches == 1)
      AGF_CUBLAS_CHECK(cublas().dgemm(h, opb, opa, in, im, ik, &alpha, b, ildb, a, ilda, &beta, c, ildc));
    else
      AGF_CUBLAS_CHECK(cublas().dgemm_strided_batched(h, opb, opa, in, im, ik, &alpha, b, ildb, stride_b, a, ilda,
                                                      stride_a, &beta, c, ildc, stride_c, ib));
  }
}

}  // namespace

void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in, bool trans_a, bool trans_b, double alpha,
            double beta) {
  const int64_t nd = out.dim();
  const auto [m, n, k, batches] = blas::gemm_dims(out, a_in, trans_a);
  if (out.numel() == 0) return;
  set_device(out);
  const Tensor a = blas::make_blas_ready(a_in);
  const Tensor b = blas::make_blas_ready(b_in);
  const blas::MatrixLayout la = blas::matrix_layout(a), lb = blas::matrix_layout(b);
  const Tensor ws = workspace(out, cublas_workspace_bytes());
  if (planning()) return;
  cublasHandle_t h = cublas_handle();
  AGF_CUBLAS_CHECK(cublas().set_workspace(h, ws.raw_data(), static_cast<size_t>(ws.numel())));

  if (k == 0) {  // nothing to multiply: C = beta C (cuBLAS rejects lda < 1 here)
    if (beta == 0.0) Tensor(out).fill_(0.0);
    else ops::unary_out(out, UnaryOp::mul_scalar, out, beta);
    return;
  }
  dispatch_float(out.dtype(), "matmul", [&]<typename T>() {
    const auto* ap = static_cast<const T*>(a.raw_data());
    const auto* bp = static_cast<const T*>(b.raw_data());
    auto* cp = static_cast<T*>(out.raw_data());
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    const bool ta = trans_a != la.transposed, tb = trans_b != lb.transposed;

    if (batches > 1 && !trans_a && blas::batch_is_broadcast(b)) {  // x @ W: one tall GEMM, as on the CPU
      const int64_t rs = blas::folded_row_stride(a);
      const blas::MatrixLayout lf = rs > 0 ? blas::matrix_layout(batches * m, k, rs, a.stride(nd - 1))
                                           : blas::MatrixLayout{};
      if (lf.ok && !lf.transposed) {
        gemm<T>(h, false, tb, batches * m, n, k, al, ap, lf.ld, 0, bp, lb.ld, 0, be, cp, n, 0, 1);
        return;
      }
    }
    const int64_t sa = blas::uniform_batch_stride(a), sb = blas::uniform_batch_stride(b);
    if (batches == 1 || (sa >= 0 && sb >= 0)) {
      gemm<T>(h, ta, tb, m, n, k, al, ap, la.ld, sa, bp, lb.ld, sb, be, cp, n, m * n, batches);
      return;
    }
    for (int64_t i = 0; i < batches; ++i)
      gemm<T>(h, ta, tb, m, n, k, al, ap + blas::batch_offset(a, i), la.ld, 0, bp + blas::batch_offset(b, i), lb.ld,
              0, be, cp + i * m * n, n, 0, 1);
  });
}

// ------------------------------------------------------------------------------------------------ conv1d

namespace {

enum class ConvPass : uint8_t { forward, backward_input, backward_weight };

// The geometry a cached algorithm is valid for.
struct ConvKey {
  int device;
  DType dtype;
  ConvPass pass;
  int64_t batch, cin, t_in, cout, k, stride, padding;
  auto tie() const { return std::tie(device, dtype, pass, batch, cin, t_in, cout, k, stride, padding); }
  bool operator<(const ConvKey& o) const { return tie() < o.tie(); }
};

struct ConvChoice {
  int algo = 0;  // the pass's cudnn*Algo_t
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;  // the math the ranking assumed for this algorithm: set on the descriptor
};

// A workspace budget per convolution: what an algorithm may ask for beyond its inputs and outputs.
constexpr size_t kWorkspaceBudget = size_t{256} << 20;

cudnnDataType_t cudnn_type(DType t) { return t == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

// RAII descriptors of one convolution, rebuilt per call (cheap host calls); only the algorithm choice is cached.
struct ConvDescs {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  ConvDescs(const ConvKey& g) {
    const cudnnDataType_t dt = cudnn_type(g.dtype);
    const int64_t t_out = ops::conv1d_out_len(g.t_in, g.k, {g.stride, g.padding});
    AGF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    AGF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    AGF_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    AGF_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    AGF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, dt, dim(g.batch), dim(g.cin), 1, dim(g.t_in)));
    AGF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, dt, dim(g.batch), dim(g.cout), 1, dim(t_out)));
    AGF_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, dt, CUDNN_TENSOR_NCHW, dim(g.cout), dim(g.cin), 1, dim(g.k)));
    AGF_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, 0, dim(g.padding), 1, dim(g.stride), 1, 1,
                                                    CUDNN_CROSS_CORRELATION, dt));
    // FMA math unless TF32 is allowed: CUDNN_DEFAULT_MATH would let float32 convolutions use TF32 on sm_80+.
    AGF_CUDNN_CHECK(cudnnSetConvolutionMathType(
        conv, g.dtype == DType::f32 && tf32_allowed() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  ~ConvDescs() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  ConvDescs(const ConvDescs&) = delete;
  ConvDescs& operator=(const ConvDescs&) = delete;

  static int dim(int64_t v) {
    AGF_CHECK(v >= 0 && v <= INT32_MAX, "conv1d on cuDNN: size {} does not fit its 32-bit integers", v);
    return static_cast<int>(v);
  }
};

// The first of cuDNN's ranked heuristic candidates that is deterministic, supported and within the budget.
template <typename Perf>
ConvChoice pick(const Perf* perf, int returned, const char* pass) {
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC) continue;
    if (perf[i].memory > kWorkspaceBudget) continue;
    return {static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
  }
  AGF_FAIL("conv1d {} on cuDNN: no deterministic algorithm within a {} MiB workspace among {} candidates", pass,
           kWorkspaceBudget >> 20, returned);
}

ConvChoice choose(const ConvKey& key, const ConvDescs& d) {
  static std::mutex mu;
  static std::map<ConvKey, ConvChoice> cache;
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  cudnnHandle_t h = cudnn_handle();
  ConvChoice c;
  int returned = 0;
  switch (key.pass) {
    case ConvPass::forward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      AGF_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y,
                                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
      c = pick(perf, returned, "forward");
      break;
    }
    case ConvPass::backward_input: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      AGF_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
          h, d.w, d.y, d.conv, d.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf));
      c = pick(perf, returned, "backward input");
      break;
    }
    case ConvPass::backward_weight: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      AGF_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          h, d.x, d.y, d.conv, d.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf));
      c = pick(perf, returned, "backward weight");
      break;
    }
  }
  std::lock_guard lk(mu);
  cache.emplace(key, c);
  return c;
}

ConvKey conv_key(ConvPass pass, const Tensor& x_like, int64_t batch, int64_t cin, int64_t t_in, int64_t cout,
                 int64_t k, ops::Conv1dArgs args) {
  return {x_like.device().index, x_like.dtype(), pass, batch, cin, t_in, cout, k, args.stride, args.padding};
}

// cuDNN reads packed NCHW here: a strided view is copied first (workspace, as the CPU's make_blas_ready).
Tensor packed(const Tensor& t) {
  if (t.is_contiguous()) return t;
  MemScope scope(MemTag::workspace);
  return t.contiguous();
}

// One pass of one geometry: its descriptors, the cached algorithm and the ledger's workspace for it.
struct ConvRun {
  ConvDescs d;
  ConvChoice c;
  Tensor ws;
  ConvRun(const ConvKey& key, const Tensor& like) : d(key), c(choose(key, d)), ws(workspace(like, c.workspace)) {
    AGF_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, c.math));  // as ranked (TF32 only under AGF_TF32)
  }
  void* workspace_ptr() const { return ws.defined() ? ws.raw_data() : nullptr; }
};

// The scaling factors cuDNN takes: double for double data, float otherwise.
struct Scal {
  float f;
  double d;
  const void* ptr(DType t) const { return t == DType::f64 ? static_cast<const void*>(&d) : &f; }
};

void conv_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args) {
  const Tensor xp = packed(x), wp = packed(w);
  const ConvRun r(conv_key(ConvPass::forward, x, x.size(0), x.size(1), x.size(2), w.size(0), w.size(2), args), out);
  if (planning()) return;
  const ConvDescs& d = r.d;
  const Scal one{1.0f, 1.0}, zero{0.0f, 0.0};
  AGF_CUDNN_CHECK(cudnnConvolutionForward(cudnn_handle(), one.ptr(x.dtype()), d.x, xp.raw_data(), d.w,
                                          wp.raw_data(), d.conv, static_cast<cudnnConvolutionFwdAlgo_t>(r.c.algo),
                                          r.workspace_ptr(), r.c.workspace, zero.ptr(x.dtype()), d.y,
                                          out.raw_data()));
  if (bias.defined()) {
    // out += bias over (B, ., 1, T): cuDNN broadcasts a (1, Cout, 1, 1) tensor.
    cudnnTensorDescriptor_t bd = nullptr;
    AGF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bd));
    const cudnnStatus_t st1 = cudnnSetTensor4dDescriptor(bd, CUDNN_TENSOR_NCHW, cudnn_type(x.dtype()), 1,
                                                         ConvDescs::dim(w.size(0)), 1, 1);
    const Tensor bp = st1 == CUDNN_STATUS_SUCCESS ? packed(bias) : Tensor();
    const cudnnStatus_t st2 = st1 == CUDNN_STATUS_SUCCESS
                                  ? cudnnAddTensor(cudnn_handle(), one.ptr(x.dtype()), bd, bp.raw_data(),
                                                   one.ptr(x.dtype()), d.y, out.raw_data())
                                  : st1;
    cudnnDestroyTensorDescriptor(bd);
    AGF_CUDNN_CHECK(st2);
  }
}

}  // namespace

void conv1d(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, ops::Conv1dArgs args,
            const Tensor& out2, const Tensor& w2) {
  if (out.numel() == 0) return;
  set_device(out);
  conv_forward(out, x, w, bias, args);
  // The CPU shares one im2col between the pair; cuDNN reads x directly, so the second convolution is simply run.
  if (out2.defined()) conv_forward(out2, x, w2, Tensor(), args);
}

void conv1d_backward_input(const Tensor& grad_x, const Tensor& grad_y, const Tensor& w, ops::Conv1dArgs args) {
  if (grad_x.numel() == 0) return;
  set_device(grad_x);
  const Tensor gy = packed(grad_y), wp = packed(w);
  const ConvRun r(conv_key(ConvPass::backward_input, grad_x, grad_x.size(0), grad_x.size(1), grad_x.size(2),
                           w.size(0), w.size(2), args),
                  grad_x);
  if (planning()) return;
  const ConvDescs& d = r.d;
  const Scal one{1.0f, 1.0}, zero{0.0f, 0.0};
  AGF_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_handle(), one.ptr(w.dtype()), d.w, wp.raw_data(), d.y,
                                               gy.raw_data(), d.conv,
                                               static_cast<cudnnConvolutionBwdDataAlgo_t>(r.c.algo),
                                               r.workspace_ptr(), r.c.workspace, zero.ptr(w.dtype()), d.x,
                                               grad_x.raw_data()));
}

void conv1d_backward_weight(const Tensor& grad_w, const Tensor& grad_y, const Tensor& x, ops::Conv1dArgs args) {
  if (grad_w.numel() == 0) return;
  set_device(grad_w);
  if (x.size(0) == 0) {  // no samples: the gradient is zero
    Tensor(grad_w).fill_(0.0);
    return;
  }
  const Tensor gy = packed(grad_y), xp = packed(x);
  const ConvRun r(conv_key(ConvPass::backward_weight, x, x.size(0), x.size(1), x.size(2), grad_w.size(0),
                           grad_w.size(2), args),
                  grad_w);
  if (planning()) return;
  const ConvDescs& d = r.d;
  const Scal one{1.0f, 1.0}, zero{0.0f, 0.0};
  AGF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(), one.ptr(x.dtype()), d.x, xp.raw_data(), d.y,
                                                 gy.raw_data(), d.conv,
                                                 static_cast<cudnnConvolutionBwdFilterAlgo_t>(r.c.algo),
                                                 r.workspace_ptr(), r.c.workspace, zero.ptr(x.dtype()), d.w,
                                                 grad_w.raw_data()));
}

std::string backend_summary(int device) {
  AGF_CUDA_CHECK(cudaSetDevice(device));
  int rt = 0, drv = 0, cublas_ver = 0;
  AGF_CUDA_CHECK(cudaRuntimeGetVersion(&rt));
  AGF_CUDA_CHECK(cudaDriverGetVersion(&drv));
  AGF_CUBLAS_CHECK(cublas().get_version(cublas_handle(), &cublas_ver));
  const size_t cudnn_ver = cudnnGetVersion();
  return fmt::format("{}: CUDA runtime {}.{}, driver {}.{}, cuBLAS {}, cuDNN {}.{}.{}, float32 {}", cuda_device_name(device),
                     rt / 1000, (rt % 1000) / 10, drv / 1000, (drv % 1000) / 10, cublas_ver, cudnn_ver / 10000,
                     (cudnn_ver % 10000) / 100, cudnn_ver % 100, tf32_allowed() ? "TF32 allowed (AGF_TF32)" : "FP32");
}

}  // namespace agf::cuda
