#pragma once
// An ordered parallel map for building datasets: produce(i) runs on a pool of worker threads, consume(i, result)
// runs on the calling thread strictly in index order, and at most `window` results wait between the two, so memory
// stays flat however many items there are. The consumer sees the same sequence whatever the thread count or
// timing, which is what makes the written file deterministic.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "io/interrupt.h"

namespace agf::dataset {

// threads <= 0 runs everything on the calling thread. An exception from produce(i) is rethrown on the calling
// thread when i's turn comes (items after it are abandoned); one from consume stops the workers and propagates.
// Before each consume the interrupt flag is polled: after SIGINT/SIGTERM, io::Interrupted propagates the same way.
template <typename Result>
void ordered_parallel_map(int64_t n, int threads, int64_t window, const std::function<Result(int64_t)>& produce,
                          const std::function<void(int64_t, Result&)>& consume) {
  if (threads <= 0) {
    for (int64_t i = 0; i < n; ++i) {
      Result r = produce(i);
      io::throw_if_interrupted("");
      consume(i, r);
    }
    return;
  }
  window = std::max<int64_t>(window, threads);
  struct Slot {
    std::optional<Result> result;
    std::exception_ptr error;
    bool ready = false;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Slot> slots(static_cast<size_t>(window));
  int64_t next_index = 0, consumed = 0;
  bool abort = false;

  auto work = [&] {
    for (;;) {
      int64_t i;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return abort || next_index >= n || next_index < consumed + window; });
        if (abort || next_index >= n) return;
        i = next_index++;
      }
      Slot done;
      try {
        done.result.emplace(produce(i));
      } catch (...) {
        done.error = std::current_exception();
      }
      {
        std::lock_guard lk(mu);
        Slot& s = slots[static_cast<size_t>(i % window)];
        s.result = std::move(done.result);
        s.error = done.error;
        s.ready = true;
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  // Stops and joins the workers on every way out, an exception included.
  struct Joiner {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& abort;
    std::vector<std::thread>& pool;
    ~Joiner() {
      {
        std::lock_guard lk(mu);
        abort = true;
      }
      cv.notify_all();
      for (auto& t : pool) t.join();
    }
  } joiner{mu, cv, abort, pool};
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);

  for (int64_t i = 0; i < n; ++i) {
    Slot taken;
    {
      std::unique_lock lk(mu);
      Slot& s = slots[static_cast<size_t>(i % window)];
      cv.wait(lk, [&] { return s.ready; });
      taken.result = std::move(s.result);
      taken.error = s.error;
      s = Slot{};
      consumed = i + 1;
    }
    cv.notify_all();
    if (taken.error) std::rethrow_exception(taken.error);
    io::throw_if_interrupted("");
    consume(i, *taken.result);
  }
}

}  // namespace agf::dataset
