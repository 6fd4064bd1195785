#pragma once
// Planning: run the engine's real code with shapes and ledger allocations but no arithmetic and no real memory, so
// the memory ledger's figures of any configuration come out exactly, in seconds, on any machine.
//
// While a PlanScope is alive, host allocations are address space only (anonymous mappings with MAP_NORESERVE, read
// as zeros, never touched), kernels allocate their workspaces as they would and then return before computing, and
// fills, copies and random fills do nothing. Every allocation still goes through Storage and the ledger, tags
// included, so the ledger's peaks are those of the real run. Values read back (a loss, a norm) are zeros: a plan
// follows the code paths of its configuration, not of its data, which is all EcgNet's memory depends on.
// One scope at a time, on one thread; tensors made inside it are only good for planning and must die inside it.
#include <atomic>

namespace agf {

namespace detail {
extern std::atomic<bool> g_planning;
}

inline bool planning() { return detail::g_planning.load(std::memory_order_relaxed); }

class PlanScope {
 public:
  PlanScope();
  ~PlanScope();
  PlanScope(const PlanScope&) = delete;
  PlanScope& operator=(const PlanScope&) = delete;
};

}  // namespace agf
