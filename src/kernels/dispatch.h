#pragma once
// Routing of a validated op to its backend.
#include "tensor/planning.h"
#include "tensor/tensor.h"
#ifdef AGF_WITH_CUDA
#include <string>

#include "kernels/cuda/cuda_ops.h"
#include "tensor/nvtx.h"
#endif
#include "kernels/cpu/cpu_ops.h"

// Calls cpu::CALL or cuda::CALL by `device`; in a build without CUDA a CUDA tensor cannot exist, so the CUDA arm
// only needs to compile where the backend does. While planning (tensor/planning.h) no kernel runs: the op's output
// is allocated already, and these kernels allocate nothing of their own.
#ifdef AGF_WITH_CUDA
namespace agf::detail {
// "cuda/conv1d" from the call text "conv1d(out, x, w, bias, args)": the NVTX range of a CUDA launcher.
inline std::string nvtx_op_name(const char* call) {
  const std::string s(call);
  return "cuda/" + s.substr(0, s.find('('));
}
}  // namespace agf::detail
// An NVTX range around every CUDA launcher (the name made once per call site); nothing when NVTX is compiled out.
#if defined(AGF_WITH_NVTX)
#define AGF_NVTX_CUDA_OP(CALL)                                                            \
  static const std::string agf_nvtx_name_ = ::agf::detail::nvtx_op_name(#CALL);          \
  ::agf::NvtxRange agf_nvtx_range_(agf_nvtx_name_.c_str())
#else
#define AGF_NVTX_CUDA_OP(CALL) (void)0
#endif
#define AGF_DISPATCH_BACKEND(device, CALL) \
  do {                                     \
    if (::agf::planning()) break;          \
    if ((device).is_cpu()) {               \
      ::agf::cpu::CALL;                    \
    } else {                               \
      AGF_NVTX_CUDA_OP(CALL);              \
      ::agf::cuda::CALL;                   \
    }                                      \
  } while (0)
#else
#define AGF_DISPATCH_BACKEND(device, CALL) \
  do {                                     \
    if (!::agf::planning()) ::agf::cpu::CALL; \
  } while (0)
#endif

// For an op whose CUDA kernel is still missing: a clear refusal instead of a wrong answer (the kernel harness shows
// such an op as "unsupported" in its op x backend table, keyed on the words "no CUDA kernel"). Every op of the
// engine has both backends today; this stays for the next op added CPU-first.
#define AGF_CPU_ONLY(device, opname, CALL)                                                             \
  do {                                                                                                 \
    AGF_CHECK((device).is_cpu(), "{}: no CUDA kernel yet for tensors on {} (run it on the CPU)", opname, \
              (device));                                                                               \
    if (!::agf::planning()) ::agf::cpu::CALL;                                                          \
  } while (0)

// For a kernel that allocates workspace tensors (conv1d, matmul, layer norm backward): it runs while planning too,
// makes its workspaces (so the ledger sees them) and returns before computing (`if (planning())`).
#ifdef AGF_WITH_CUDA
#define AGF_DISPATCH_WITH_WORKSPACE(device, CALL) \
  do {                                           \
    if ((device).is_cpu()) {                     \
      ::agf::cpu::CALL;                          \
    } else {                                     \
      AGF_NVTX_CUDA_OP(CALL);                    \
      ::agf::cuda::CALL;                         \
    }                                            \
  } while (0)
#else
#define AGF_DISPATCH_WITH_WORKSPACE(device, CALL) ::agf::cpu::CALL
#endif
