#pragma once
// AGF_HD marks math that is compiled for both the host and the device: the CPU loops and the CUDA
// kernels call the same inline function, so the two backends cannot drift apart.
#if defined(__CUDACC__)
#define AGF_HD __host__ __device__ __forceinline__
#else
#define AGF_HD inline
#endif
