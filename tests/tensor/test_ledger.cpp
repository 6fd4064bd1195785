#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>

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
