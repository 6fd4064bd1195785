#pragma once
// NVTX ranges for Nsight Systems: RAII, compiled in only when the build has NVTX (-Dnvtx, with CUDA); otherwise
// the class is empty and the calls vanish. Names are string literals or stable strings (NVTX copies them).
#if defined(AGF_WITH_NVTX)
#include <nvtx3/nvToolsExt.h>
#endif

namespace agf {

class NvtxRange {
 public:
#if defined(AGF_WITH_NVTX)
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
#else
  explicit NvtxRange(const char*) {}
#endif
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

// cudaProfilerStart/Stop around a step window, so `nsys --capture-range=cudaProfilerApi` records just those
// steps. No-ops without a CUDA device.
void profiler_start();
void profiler_stop();

}  // namespace agf
