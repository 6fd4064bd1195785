#include "tensor/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "tensor/ledger.h"
#include "tensor/planning.h"

namespace agf {

namespace detail {
std::atomic<bool> g_planning{false};
}

PlanScope::PlanScope() {
  AGF_CHECK(!detail::g_planning.exchange(true), "a plan is already running (one PlanScope at a time)");
}
PlanScope::~PlanScope() { detail::g_planning.store(false); }

void keep_freed_host_memory_mapped() {
#if defined(__GLIBC__)
  // mallopt fails only for out-of-range values; these are in range, and a failure would only cost speed.
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

namespace {
// Mapped blocks come in whole pages up to 1 MiB, in multiples of 64 KiB above (and never less than the system's page:
// 64 KiB on some ARM kernels). Every block, split point and unmapped tail then lies on a page boundary.
size_t map_size(size_t bytes) {
  static const size_t page = static_cast<size_t>(std::max(4096L, sysconf(_SC_PAGESIZE)));
  const size_t granule = std::max(page, bytes < (size_t(1) << 20) ? size_t(4) << 10 : size_t(64) << 10);
  return (bytes + granule - 1) / granule * granule;
}

void unmap(void* p, size_t bytes) {
  AGF_CHECK(munmap(p, bytes) == 0, "host allocator: munmap of {} bytes at {} failed", bytes, p);
}
}  // namespace

void* CpuAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (planning()) {
    // Address space only: pages never written stay unbacked (and read as zeros).
    void* p = mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    AGF_CHECK(p != MAP_FAILED, "planning: no address space left for {} bytes", bytes);
    std::lock_guard lk(mu_);
    planned_.insert(p);
    reserved_ += static_cast<int64_t>(rounded);
    ledger(Device::cpu()).set_reserved(reserved_);
    return p;
  }
  if (bytes < kLargeBlock) {
    void* p = std::aligned_alloc(kAlignment, rounded);
    AGF_CHECK(p != nullptr, "host out of memory allocating {} bytes (ledger: {} bytes live)", bytes,
              ledger(Device::cpu()).live_total());
    std::lock_guard lk(mu_);
    reserved_ += static_cast<int64_t>(rounded);
    ledger(Device::cpu()).set_reserved(reserved_);
    return p;
  }
  const size_t size = map_size(bytes);
  std::lock_guard lk(mu_);
  const auto live_mapped = [&] { return reserved_large_ - cached_; };
  if (char* p = take_free_locked(size)) {
    peak_live_mapped_ = std::max(peak_live_mapped_, live_mapped());
    return p;
  }
  // A new mapping. First the cache gives back, largest blocks first (the tail of one when that is enough), what
  // would take the mapped total more than 5% above the most that was ever live in mapped blocks: what the OS sees
  // stays within 5% of the ledger's peak.
  peak_live_mapped_ = std::max(peak_live_mapped_, live_mapped() + static_cast<int64_t>(size));
  const int64_t bound = peak_live_mapped_ + peak_live_mapped_ / 20;
  while (!free_by_size_.empty() && reserved_large_ + static_cast<int64_t>(size) > bound) {
    const auto [bsize, bp] = *std::prev(free_by_size_.end());
    const size_t excess = static_cast<size_t>(reserved_large_ + static_cast<int64_t>(size) - bound);
    const size_t cut = std::min(bsize, map_size(excess));
      erase_free_locked(bp, bsize);
    if (cut < bsize) insert_free_locked(bp, bsize - cut);  // the head stays cached, the tail goes back
    unmap(bp + (bsize - cut), cut);
    reserved_large_ -= static_cast<int64_t>(cut);
    reserved_ -= static_cast<int64_t>(cut);
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ++map_calls_;
  if (p == MAP_FAILED && !free_by_size_.empty()) {
    release_cache_locked();
    p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  AGF_CHECK(p != MAP_FAILED, "host out of memory allocating {} bytes (ledger: {} bytes live)", bytes,
            ledger(Device::cpu()).live_total());
  mapped_live_[p] = size;
  reserved_large_ += static_cast<int64_t>(size);
  reserved_ += static_cast<int64_t>(size);
  ledger(Device::cpu()).set_reserved(reserved_);
  return p;
}

char* CpuAllocator::take_free_locked(size_t size) {
  // Best fit: the smallest free block that holds the request. One at most 1/16 larger is handed out whole; a larger
  // one is split, the request from its head, its tail staying free. So the blocks a phase frees serve the next
  // phase's other sizes, and a training loop's steady state maps nothing new.
  auto it = free_by_size_.lower_bound({size, nullptr});
  if (it == free_by_size_.end()) return nullptr;
  const auto [bsize, bp] = *it;
  erase_free_locked(bp, bsize);
  size_t given = bsize;
  if (bsize > size + size / 16) {
    insert_free_locked(bp + size, bsize - size);
    given = size;
  }
  mapped_live_[bp] = given;
  return bp;
}

void CpuAllocator::insert_free_locked(char* p, size_t size) {
  // Coalesced with free neighbours: address ranges that meet are one block, whichever mappings they came from
  // (munmap and page faults work on page ranges, not on the mappings that made them).
  auto next = free_by_addr_.find(p + size);
  if (next != free_by_addr_.end()) {
    const size_t nsize = next->second;
    erase_free_locked(next->first, nsize);
    size += nsize;
  }
  auto prev = free_by_addr_.lower_bound(p);
  if (prev != free_by_addr_.begin()) {
    --prev;
    if (prev->first + prev->second == p) {
      char* pp = prev->first;
      const size_t psize = prev->second;
      erase_free_locked(pp, psize);
      p = pp;
      size += psize;
    }
  }
  free_by_addr_.emplace(p, size);
  free_by_size_.emplace(size, p);
  cached_ += static_cast<int64_t>(size);
}

void CpuAllocator::erase_free_locked(char* p, size_t size) {
  free_by_addr_.erase(p);
  free_by_size_.erase({size, p});
  cached_ -= static_cast<int64_t>(size);
}

void CpuAllocator::deallocate(void* p, size_t bytes) {
  if (p == nullptr) return;
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  std::lock_guard lk(mu_);
  if (planned_.erase(p) != 0) {
    munmap(p, rounded);
    reserved_ -= static_cast<int64_t>(rounded);
  } else if (auto it = mapped_live_.find(p); it != mapped_live_.end()) {
    insert_free_locked(static_cast<char*>(p), it->second);  // kept mapped (and resident) for the next request
    mapped_live_.erase(it);
    return;
  } else {
    std::free(p);
    reserved_ -= static_cast<int64_t>(rounded);
  }
  ledger(Device::cpu()).set_reserved(reserved_);
}

void CpuAllocator::release_cache_locked() {
  for (auto& [p, size] : free_by_addr_) unmap(p, size);
  reserved_large_ -= cached_;
  reserved_ -= cached_;
  cached_ = 0;
  free_by_addr_.clear();
  free_by_size_.clear();
  ledger(Device::cpu()).set_reserved(reserved_);
}

void CpuAllocator::empty_cache() {
  std::lock_guard lk(mu_);
  release_cache_locked();
  peak_live_mapped_ = reserved_large_;  // the 105% bound counts afresh from what is live now
}

int64_t CpuAllocator::reserved_bytes() const {
  std::lock_guard lk(mu_);
  return reserved_;
}

int64_t CpuAllocator::map_calls() const {
  std::lock_guard lk(mu_);
  return map_calls_;
}

int64_t CpuAllocator::cached_bytes() const {
  std::lock_guard lk(mu_);
  return cached_;
}

CachingAllocator::CachingAllocator(Device dev, RawAlloc raw_alloc, RawFree raw_free)
    : dev_(dev), raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard lk(mu_);
  release_cached_locked();
}

size_t CachingAllocator::round_size(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSmallLimit = size_t(1) << 20;
  if (bytes <= kSmallLimit) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

void* CachingAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t size = round_size(bytes);
  std::lock_guard lk(mu_);
  auto it = free_blocks_.lower_bound(size);
  if (it != free_blocks_.end() && it->first <= 2 * size) {
    void* p = it->second;
    const size_t bsize = it->first;
    free_blocks_.erase(it);
    live_blocks_[p] = bsize;
    allocated_ += static_cast<int64_t>(bsize);
    return p;
  }
  void* p = raw_alloc_(size);
  raw_calls_++;
  if (p == nullptr && !free_blocks_.empty()) {
    release_cached_locked();
    p = raw_alloc_(size);
    raw_calls_++;
  }
  AGF_CHECK(p != nullptr, "{} out of memory allocating {} bytes ({} reserved, {} in use by tensors)", dev_, bytes,
            reserved_, ledger(dev_).live_total());
  reserved_ += static_cast<int64_t>(size);
  allocated_ += static_cast<int64_t>(size);
  live_blocks_[p] = size;
  ledger(dev_).set_reserved(reserved_);
  return p;
}

void CachingAllocator::deallocate(void* p, size_t /*bytes*/) {
  if (p == nullptr) return;
  std::lock_guard lk(mu_);
  auto it = live_blocks_.find(p);
  AGF_CHECK(it != live_blocks_.end(), "{} allocator: free of a pointer it did not allocate", dev_);
  allocated_ -= static_cast<int64_t>(it->second);
  free_blocks_.emplace(it->second, p);
  live_blocks_.erase(it);
}

void CachingAllocator::release_cached_locked() {
  for (auto& [size, p] : free_blocks_) {
    raw_free_(p);
    reserved_ -= static_cast<int64_t>(size);
  }
  free_blocks_.clear();
  ledger(dev_).set_reserved(reserved_);
}

void CachingAllocator::empty_cache() {
  std::lock_guard lk(mu_);
  release_cached_locked();
}

int64_t CachingAllocator::reserved_bytes() const {
  std::lock_guard lk(mu_);
  return reserved_;
}

int64_t CachingAllocator::allocated_bytes() const {
  std::lock_guard lk(mu_);
  return allocated_;
}

int64_t CachingAllocator::raw_alloc_calls() const {
  std::lock_guard lk(mu_);
  return raw_calls_;
}

Allocator& allocator_for(Device d) {
  static CpuAllocator* cpu = new CpuAllocator();  // never destroyed: tensors may outlive static destructors
  if (d.is_cpu()) return *cpu;
  require_device(d);
  return detail::cuda_allocator(d.index);
}

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t n) {
  if (n == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, n);
    return;
  }
  detail::cuda_copy_bytes(dst, dst_dev, src, src_dev, n);
}

}  // namespace agf
