#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <set>
#include <unordered_set>

#include "tensor/device.h"

namespace agf {

// Raw device memory. Allocators know nothing of tags: Storage charges the ledger, so every allocator is
// accounted for the same way.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p, size_t bytes) = 0;
  virtual Device device() const = 0;
  virtual int64_t reserved_bytes() const = 0;  // bytes held from the system, cached ones included
  virtual void empty_cache() {}
};

// For a process that allocates and frees the same large host buffers over and over (a record's signal, its
// compressed chunk, a batch): glibc hands blocks above its mmap threshold back to the kernel when freed and trims the
// heap top, so the next allocation page-faults every page anew. agf-collect took 240 minor faults per record that
// way, a quarter of its CPU time. This keeps such blocks in the heap (mmap threshold 32 MiB, trim threshold
// 256 MiB): freed memory stays with the process for reuse, up to 256 MiB of free heap top per malloc arena (a few
// MiB in agf-collect, whose peak RSS went from 41 to 44 MiB). Call it once, first thing in main; a no-op outside
// glibc. The ledger is unaffected: it counts what tensors hold, not what malloc keeps.
void keep_freed_host_memory_mapped();

// Host memory, 64-byte aligned (one cache line, and enough for AVX-512 loads). Blocks below kLargeBlock (64 KiB) come
// from malloc. Larger ones (activations, weights, workspaces) are anonymous mappings (whole pages; 64 KiB multiples
// above 1 MiB), kept when freed, coalesced with free neighbours, and handed out best fit: whole when at most 1/16
// larger than the request, else split (the request from the head, the tail still free). So the blocks one phase
// frees serve the next phase's other sizes, a training loop's steady state makes no system calls and takes no page
// faults, and the heap cannot fragment under them (OpenBLAS's 512 KiB job arrays, malloc'd and freed by every
// threaded GEMM, had grown glibc's heap to 141 MiB in a medium fusion step when tensors up to 1 MiB still came from
// it). Before mapping anew the cache unmaps, largest first, what would take the mapped total above 105% of the most
// ever live in mapped blocks, so the process's resident set follows the ledger: peak RSS <= ledger peak + 5% (+ the
// 1/16 reuse slack at worst) + the runtime's own baseline (libraries, BLAS buffers, small blocks). Under a PlanScope
// (tensor/planning.h) every block is an untouched NORESERVE mapping instead.
class CpuAllocator final : public Allocator {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kLargeBlock = size_t(64) << 10;
  void* allocate(size_t bytes) override;
  void deallocate(void* p, size_t bytes) override;
  Device device() const override { return Device::cpu(); }
  int64_t reserved_bytes() const override;  // malloc'd + mapped (live and cached)
  int64_t cached_bytes() const;             // mapped blocks kept for reuse
  int64_t map_calls() const;                // mmap calls for tensor blocks so far (0 more in a steady state)
  void empty_cache() override;              // unmaps the cached blocks; the 105% bound restarts from what is live

 private:
  void release_cache_locked();
  char* take_free_locked(size_t size);  // a cached block (or the head of one) of at least size bytes, or null
  void insert_free_locked(char* p, size_t size);
  void erase_free_locked(char* p, size_t size);
  mutable std::mutex mu_;
  int64_t reserved_ = 0, reserved_large_ = 0, cached_ = 0, peak_live_mapped_ = 0, map_calls_ = 0;
  std::map<char*, size_t> free_by_addr_;           // free mapped range -> its size (neighbours coalesced)
  std::set<std::pair<size_t, char*>> free_by_size_;  // the same ranges by size, for best fit
  std::unordered_map<void*, size_t> mapped_live_;  // block in use -> mapped size
  std::unordered_set<void*> planned_;              // blocks handed out while planning: mappings, no memory
};

// A caching block allocator over a raw allocator (cudaMalloc on a GPU; malloc in the host tests of its logic).
// Requests are rounded to 512 bytes (2 MiB above 1 MiB) and freed blocks are kept for reuse, as PyTorch does, so
// the steady state of a training loop makes no driver calls. A cached block is reused for a request of at least
// half its size. When the raw allocator fails, the cache is released and the request retried once.
class CachingAllocator final : public Allocator {
 public:
  using RawAlloc = std::function<void*(size_t)>;  // returns nullptr on failure
  using RawFree = std::function<void(void*)>;
  CachingAllocator(Device dev, RawAlloc raw_alloc, RawFree raw_free);
  ~CachingAllocator() override;

  static size_t round_size(size_t bytes);
  void* allocate(size_t bytes) override;
  void deallocate(void* p, size_t bytes) override;
  Device device() const override { return dev_; }
  int64_t reserved_bytes() const override;
  int64_t allocated_bytes() const;  // rounded bytes of blocks in use
  int64_t raw_alloc_calls() const;
  void empty_cache() override;

 private:
  void release_cached_locked();
  Device dev_;
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_blocks_;        // rounded size -> block
  std::unordered_map<void*, size_t> live_blocks_;   // block -> rounded size
  int64_t reserved_ = 0, allocated_ = 0, raw_calls_ = 0;
};

// The allocator of a device (process lifetime). CUDA devices need the CUDA backend and a device that answers.
Allocator& allocator_for(Device d);

// Byte copies between any two devices (host<->device, device<->device); synchronous.
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n);

namespace detail {
Allocator& cuda_allocator(int index);  // defined by the CUDA backend (or a stub that throws)
void cuda_copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n);
}  // namespace detail

}  // namespace agf
