#pragma once
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "tensor/device.h"

namespace agf {

// What an allocation is for. Every byte of tensor memory is charged to exactly one tag.
enum class MemTag : uint8_t { params, grads, optimizer, activations, workspace, data, other };
inline constexpr int kNumMemTags = 7;
std::string_view mem_tag_name(MemTag t);

// The tag new allocations on this thread are charged to; `other` unless a MemScope says otherwise.
MemTag current_mem_tag();

// RAII: allocations made on this thread while the scope lives are charged to `tag`. Scopes nest.
class MemScope {
 public:
  explicit MemScope(MemTag tag);
  ~MemScope();
  MemScope(const MemScope&) = delete;
  MemScope& operator=(const MemScope&) = delete;

 private:
  MemTag saved_;
};

struct LedgerCounts {
  int64_t live = 0;    // bytes held now
  int64_t peak = 0;    // high-water mark of live since construction or the last reset_peak()
  int64_t allocs = 0;  // number of allocations since construction
};

// Exact byte accounting of one device's tensor memory: what tensors asked for, per tag and in total.
// Allocators report to it; the allocator's own overheads (alignment, caching) are reported separately as
// `reserved` so that the ledger's figures are a pure function of the program, independent of the allocator.
class MemoryLedger {
 public:
  explicit MemoryLedger(Device d) : device_(d) {}

  void on_alloc(MemTag tag, size_t bytes);
  void on_free(MemTag tag, size_t bytes);
  void set_reserved(int64_t bytes);  // allocator-owned bytes (cached blocks included)

  LedgerCounts tag(MemTag t) const;
  LedgerCounts total() const;
  int64_t live(MemTag t) const { return tag(t).live; }
  int64_t peak(MemTag t) const { return tag(t).peak; }
  int64_t live_total() const { return total().live; }
  int64_t peak_total() const { return total().peak; }
  int64_t reserved() const;
  int64_t peak_reserved() const;

  // Peaks restart from the current live bytes, so a phase's peak can be read after it.
  void reset_peak();
  nlohmann::json snapshot() const;
  Device device() const { return device_; }

 private:
  Device device_;
  mutable std::mutex mu_;
  std::array<LedgerCounts, kNumMemTags> tags_{};
  LedgerCounts total_{};
  int64_t reserved_ = 0, peak_reserved_ = 0;
};

// The ledger of a device: one per device for the process lifetime.
MemoryLedger& ledger(Device d);

}  // namespace agf
