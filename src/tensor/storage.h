#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/allocator.h"
#include "tensor/ledger.h"

namespace agf {

// A refcounted block of device memory charged to one ledger tag. Held by shared_ptr from every tensor that views
// it; when the last view goes, the bytes go back to the allocator at once and the ledger is credited.
class Storage {
 public:
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device, MemTag tag = current_mem_tag());
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  MemTag tag() const { return tag_; }
  // Moves the bytes to another tag (e.g. a tensor made by ops that becomes a parameter).
  void retag(MemTag tag);
  // Bumped by every write through an existing tensor (copy_, fill_, the ops' out= and in-place forms), so that
  // autograd can tell that a tensor it saved for a backward pass was overwritten before that pass ran.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  Storage(void* data, size_t nbytes, Device device, MemTag tag, Allocator* alloc)
      : data_(data), nbytes_(nbytes), device_(device), tag_(tag), alloc_(alloc) {}
  void* data_;
  size_t nbytes_;
  Device device_;
  MemTag tag_;
  Allocator* alloc_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace agf
