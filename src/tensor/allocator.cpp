#include "tensor/allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <sys/mman.h>

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
// Mapped blocks come in whole pages up to 1 MiB, in multiples of 64 KiB above.
size_t map_size(size_t bytes) {
  const size_t granule = bytes < (size_t(1) << 20) ? size_t(4) << 10 : size_t(64) << 10;
  return (bytes + granule - 1) / granule * granule;
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
  // A cached block of the same size or at most 1/16 larger: a training loop asks for the same sizes every step.
  if (auto it = cache_.lower_bound(size); it != cache_.end() && it->first <= size + size / 16) {
    void* p = it->second;
    mapped_live_[p] = it->first;
    cached_ -= static_cast<int64_t>(it->first);
    cache_.erase(it);
    peak_live_mapped_ = std::max(peak_live_mapped_, live_mapped());
    return p;
  }
  // A new mapping. First the cache gives back, largest blocks first, what would take the mapped total more than 5%
  // above the most that was ever live in mapped blocks: what the OS sees stays within 5% of the ledger's peak, while
  // most blocks of the phases of a step (a ZO pass at B, backprop at b) stay cached between steps.
  peak_live_mapped_ = std::max(peak_live_mapped_, live_mapped() + static_cast<int64_t>(size));
  while (!cache_.empty() && 20 * (reserved_large_ + static_cast<int64_t>(size)) > 21 * peak_live_mapped_) {
    auto last = std::prev(cache_.end());
    munmap(last->second, last->first);
    cached_ -= static_cast<int64_t>(last->first);
    reserved_large_ -= static_cast<int64_t>(last->first);
    reserved_ -= static_cast<int64_t>(last->first);
    cache_.erase(last);
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ++map_calls_;
  if (p == MAP_FAILED && !cache_.empty()) {
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

void CpuAllocator::deallocate(void* p, size_t bytes) {
  if (p == nullptr) return;
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  std::lock_guard lk(mu_);
  if (planned_.erase(p) != 0) {
    munmap(p, rounded);
    reserved_ -= static_cast<int64_t>(rounded);
  } else if (auto it = mapped_live_.find(p); it != mapped_live_.end()) {
    cache_.emplace(it->second, p);  // kept mapped (and resident) for the next request of its size
    cached_ += static_cast<int64_t>(it->second);
    mapped_live_.erase(it);
    return;
  } else {
    std::free(p);
    reserved_ -= static_cast<int64_t>(rounded);
  }
  ledger(Device::cpu()).set_reserved(reserved_);
}

void CpuAllocator::release_cache_locked() {
  for (auto& [size, p] : cache_) munmap(p, size);
  reserved_large_ -= cached_;
  reserved_ -= cached_;
  cached_ = 0;
  cache_.clear();
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
