#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/tensor.h"

using namespace agf;

TEST_CASE("ledger: exact bytes per tag, and back to the start after a scope of temporaries") {
  MemoryLedger& L = ledger(Device::cpu());
  const int64_t live0 = L.live_total();
  const int64_t act0 = L.live(MemTag::activations);
  const int64_t ws0 = L.live(MemTag::workspace);
  {
    MemScope scope(MemTag::activations);
    Tensor a = empty({3, 5});                     // 60 bytes
    Tensor b = empty({7}, DType::f64);            // 56 bytes
    CHECK(L.live(MemTag::activations) - act0 == 116);
    Tensor v = a.transpose(0, 1).narrow(0, 1, 2);  // a view: no bytes
    CHECK(L.live(MemTag::activations) - act0 == 116);
    {
      MemScope inner(MemTag::workspace);
      Tensor w = empty({1000}, DType::u8);
      CHECK(L.live(MemTag::workspace) - ws0 == 1000);  // the bytes asked for, not the 64-byte-rounded block
      CHECK(reinterpret_cast<uintptr_t>(w.raw_data()) % 64 == 0);
      CHECK(reinterpret_cast<uintptr_t>(b.raw_data()) % 64 == 0);
      CHECK(current_mem_tag() == MemTag::workspace);
    }
    CHECK(current_mem_tag() == MemTag::activations);
    a = Tensor();  // the view still holds a's storage
    CHECK(L.live(MemTag::activations) - act0 == 116);
    v = Tensor();  // last handle: the bytes go back at once
    CHECK(L.live(MemTag::activations) - act0 == 56);
  }
  CHECK(L.live_total() == live0);
  CHECK(L.live(MemTag::activations) == act0);
}

TEST_CASE("ledger: peaks, reset_peak, retag and the JSON snapshot") {
  MemoryLedger& L = ledger(Device::cpu());
  MemScope scope(MemTag::grads);
  L.reset_peak();
  const int64_t base = L.live(MemTag::grads);
  {
    Tensor a = empty({1024});  // 4096 bytes
    Tensor b = empty({256});   // 1024 bytes
  }
  CHECK(L.peak(MemTag::grads) - base == 5120);
  Tensor c = empty({10});
  CHECK(L.peak(MemTag::grads) - base == 5120);
  L.reset_peak();
  CHECK(L.peak(MemTag::grads) - base == 40);
  c.storage()->retag(MemTag::params);
  CHECK(L.live(MemTag::grads) == base);
  const auto j = L.snapshot();
  CHECK(j["device"] == "cpu");
  CHECK(j["tags"]["params"]["live_bytes"].get<int64_t>() >= 40);
  CHECK(j["total"]["live_bytes"].get<int64_t>() == L.live_total());
  for (const char* tag : {"params", "grads", "optimizer", "activations", "workspace", "data", "other"})
    CHECK(j["tags"].contains(tag));
}

TEST_CASE("caching allocator: reuse, rounding, reserved vs allocated, release on failure") {
  int64_t raw_live = 0;
  int fail_next = 0;
  CachingAllocator a(
      Device::cuda(7),
      [&](size_t n) -> void* {
        if (fail_next > 0) {
          --fail_next;
          return nullptr;
        }
        raw_live += static_cast<int64_t>(n);
        return std::malloc(n);
      },
      [&](void* p) { std::free(p); });
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(CachingAllocator::round_size((1 << 20) + 1) == (2 << 20));
  void* p = a.allocate(1000);
  CHECK(a.allocated_bytes() == 1024);
  CHECK(a.reserved_bytes() == 1024);
  a.deallocate(p, 1000);
  CHECK(a.allocated_bytes() == 0);
  CHECK(a.reserved_bytes() == 1024);  // cached, not returned
  void* q = a.allocate(700);         // rounds to 1024: the cached block comes back
  CHECK(q == p);
  CHECK(a.raw_alloc_calls() == 1);
  void* r = a.allocate(100);  // 512: too small for nothing cached -> a new raw block
  CHECK(a.raw_alloc_calls() == 2);
  a.deallocate(q, 700);
  a.deallocate(r, 100);
  fail_next = 1;  // the raw allocator fails once: the cache is released and the request retried
  void* big = a.allocate(4 << 20);
  CHECK(big != nullptr);
  CHECK(a.reserved_bytes() == (4 << 20));
  a.deallocate(big, 4 << 20);
  a.empty_cache();
  CHECK(a.reserved_bytes() == 0);
  fail_next = 2;
  CHECK_THROWS_WITH_AS(a.allocate(64), doctest::Contains("out of memory"), Error);
}

namespace {
constexpr size_t kMiB = size_t(1) << 20;
}

TEST_CASE("host allocator: freed mappings are split for smaller requests and coalesced again") {
  // A private instance (the process's own holds other tests' blocks), so addresses and counts are exact.
  CpuAllocator a;
  char* big = static_cast<char*>(a.allocate(8 * kMiB));
  const int64_t maps = a.map_calls();
  CHECK(a.reserved_bytes() == static_cast<int64_t>(8 * kMiB));
  a.deallocate(big, 8 * kMiB);
  CHECK(a.cached_bytes() == static_cast<int64_t>(8 * kMiB));
  // Two 3 MiB requests come from the cached 8 MiB, head first; 2 MiB stay free.
  char* x = static_cast<char*>(a.allocate(3 * kMiB));
  char* y = static_cast<char*>(a.allocate(3 * kMiB));
  CHECK(x == big);
  CHECK(y == big + 3 * kMiB);
  CHECK(a.map_calls() == maps);
  CHECK(a.cached_bytes() == static_cast<int64_t>(2 * kMiB));
  // A block at most 1/16 larger than the request is handed out whole: the 2 MiB tail for 1.9 MiB.
  char* z = static_cast<char*>(a.allocate(2 * kMiB - 100 * 1024));
  CHECK(z == big + 6 * kMiB);
  CHECK(a.cached_bytes() == 0);
  CHECK(a.map_calls() == maps);
  // Freed in any order, the three merge back into the one 8 MiB range, which serves an 8 MiB request.
  a.deallocate(y, 3 * kMiB);
  a.deallocate(z, 2 * kMiB - 100 * 1024);
  a.deallocate(x, 3 * kMiB);
  CHECK(a.cached_bytes() == static_cast<int64_t>(8 * kMiB));
  CHECK(a.allocate(8 * kMiB) == big);
  CHECK(a.map_calls() == maps);
  a.deallocate(big, 8 * kMiB);
  a.empty_cache();
  CHECK(a.reserved_bytes() == 0);
}

TEST_CASE("host allocator: a new mapping first gives back cache above 105% of the peak live, a tail if enough") {
  CpuAllocator a;
  void* ten = a.allocate(10 * kMiB);
  a.deallocate(ten, 10 * kMiB);
  // 20 MiB fits nothing cached: a new mapping. The peak live becomes 20 MiB, the bound 21 MiB: 9 MiB of the cached
  // 10 go back to the system (its tail), 1 MiB stays cached.
  void* twenty = a.allocate(20 * kMiB);
  CHECK(a.reserved_bytes() == static_cast<int64_t>(21 * kMiB));
  CHECK(a.cached_bytes() == static_cast<int64_t>(1 * kMiB));
  CHECK(a.allocate(1 * kMiB) == ten);  // the head that stayed
  a.deallocate(ten, 1 * kMiB);
  a.deallocate(twenty, 20 * kMiB);
  a.empty_cache();
  CHECK(a.reserved_bytes() == 0);
}

TEST_CASE("host allocator: a loop of phases with different block sizes reaches a steady state with no mapping") {
  // A training step's shape: a ZO pass at batch B (a few large maps live at once), then backprop on a micro-batch
  // (many smaller ones, more of them live at once), then an update (a few mid-sized temporaries).
  const std::vector<std::vector<size_t>> phases = {
      {24 * kMiB, 24 * kMiB, 12 * kMiB, 3 * kMiB},
      {6 * kMiB, 6 * kMiB, 6 * kMiB, 6 * kMiB, 6 * kMiB, 5 * kMiB, 1 * kMiB, 300 * 1024, 300 * 1024},
      {2 * kMiB, 700 * 1024, 64 * 1024}};
  CpuAllocator a;
  int64_t peak_live = 0;
  std::vector<int64_t> maps_after;
  for (int step = 0; step < 4; ++step) {
    for (const auto& sizes : phases) {
      std::vector<void*> blocks;
      int64_t live = 0;
      for (size_t n : sizes) {
        blocks.push_back(a.allocate(n));
        std::memset(blocks.back(), 1, n);  // touched, as a tensor's memory is
        live += static_cast<int64_t>(n);
      }
      peak_live = std::max(peak_live, live);
      for (size_t i = 0; i < sizes.size(); ++i) a.deallocate(blocks[i], sizes[i]);
    }
    maps_after.push_back(a.map_calls());
  }
  MESSAGE("mappings after each step: ", maps_after[0], ", ", maps_after[1], ", ", maps_after[2], ", ", maps_after[3]);
  CHECK(maps_after[2] == maps_after[1]);
  CHECK(maps_after[3] == maps_after[1]);
  // What stays mapped is within 5% of the most ever live (plus page rounding).
  CHECK(a.reserved_bytes() <= peak_live + peak_live / 20 + static_cast<int64_t>(kMiB));
  a.empty_cache();
  CHECK(a.reserved_bytes() == 0);
}
