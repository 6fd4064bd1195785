#pragma once
// Routing of a validated op to its backend.
#include "tensor/planning.h"
#include "tensor/tensor.h"
#ifdef AGF_WITH_CUDA
#include "kernels/cuda/cuda_ops.h"
#endif
#include "kernels/cpu/cpu_ops.h"

// Calls cpu::CALL or cuda::CALL by `device`; in a build without CUDA a CUDA tensor cannot exist, so the CUDA arm
// only needs to compile where the backend does. While planning (tensor/planning.h) no kernel runs: the op's output
// is allocated already, and these kernels allocate nothing of their own.
#ifdef AGF_WITH_CUDA
#define AGF_DISPATCH_BACKEND(device, CALL) \
  do {                                     \
    if (::agf::planning()) break;          \
    if ((device).is_cpu()) {               \
      ::agf::cpu::CALL;                    \
    } else {                               \
      ::agf::cuda::CALL;                   \
    }                                      \
  } while (0)
#else
#define AGF_DISPATCH_BACKEND(device, CALL) \
  do {                                     \
    if (!::agf::planning()) ::agf::cpu::CALL; \
  } while (0)
#endif

// For ops whose CUDA kernels come with the full CUDA backend: a clear refusal instead of a wrong answer. Skipped
// while planning, like AGF_DISPATCH_BACKEND.
#define AGF_CPU_ONLY(device, opname, CALL)                                                             \
  do {                                                                                                 \
    AGF_CHECK((device).is_cpu(), "{}: no CUDA kernel yet for tensors on {} (run it on the CPU)", opname, \
              (device));                                                                               \
    if (!::agf::planning()) ::agf::cpu::CALL;                                                          \
  } while (0)

// The same for a kernel that allocates workspace tensors (conv1d, matmul, layer norm backward): it runs while
// planning too, makes its workspaces (so the ledger sees them) and returns before computing (`if (planning())`).
#define AGF_CPU_ONLY_WITH_WORKSPACE(device, opname, CALL)                                              \
  do {                                                                                                 \
    AGF_CHECK((device).is_cpu(), "{}: no CUDA kernel yet for tensors on {} (run it on the CPU)", opname, \
              (device));                                                                               \
    ::agf::cpu::CALL;                                                                                  \
  } while (0)
