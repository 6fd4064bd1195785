#pragma once
// Routing of a validated op to its backend.
#include "tensor/tensor.h"
#ifdef AGF_WITH_CUDA
#include "kernels/cuda/cuda_ops.h"
#endif
#include "kernels/cpu/cpu_ops.h"

// Calls cpu::CALL or cuda::CALL by `device`; in a build without CUDA a CUDA tensor cannot exist, so the CUDA arm
// only needs to compile where the backend does.
#ifdef AGF_WITH_CUDA
#define AGF_DISPATCH_BACKEND(device, CALL) \
  do {                                     \
    if ((device).is_cpu()) {               \
      ::agf::cpu::CALL;                    \
    } else {                               \
      ::agf::cuda::CALL;                   \
    }                                      \
  } while (0)
#else
#define AGF_DISPATCH_BACKEND(device, CALL) ::agf::cpu::CALL
#endif

// For ops whose CUDA kernels come with the full CUDA backend: a clear refusal instead of a wrong answer.
#define AGF_CPU_ONLY(device, opname, CALL)                                                             \
  do {                                                                                                 \
    AGF_CHECK((device).is_cpu(), "{}: no CUDA kernel yet for tensors on {} (run it on the CPU)", opname, \
              (device));                                                                               \
    ::agf::cpu::CALL;                                                                                  \
  } while (0)
