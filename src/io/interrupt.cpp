#include "io/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace agf::io {

namespace {

static_assert(std::atomic<int>::is_always_lock_free, "the handler needs lock-free atomics");

std::atomic<int> g_signal{0};  // the first signal's number

// A fixed table, so that the handler reads it without locks or allocation: a slot's path is written before its
// state becomes `ready` and is only rewritten after the state left `ready`. (A handler racing a slot's reuse could
// read a path half old, half new; both are temporaries ending in ".tmp", so at worst it misses one.)
constexpr int kSlots = 256;
constexpr size_t kPathBytes = 4096;
enum SlotState : int { kFree = 0, kClaimed = 1, kReady = 2 };
std::array<std::atomic<int>, kSlots> g_state{};
char g_paths[kSlots][kPathBytes];

void remove_registered_temporaries() {
  for (int i = 0; i < kSlots; ++i)
    if (g_state[static_cast<size_t>(i)].load() == kReady) ::unlink(g_paths[i]);
}

// Async-signal-safe: also called from the handler.
[[noreturn]] void die_by(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);  // not reached unless the signal could not end the process
}

extern "C" void on_interrupt(int sig) {
  int expected = 0;
  if (g_signal.compare_exchange_strong(expected, sig)) return;  // the first: the work stops at its next safe point
  // The second: the user insists. Only async-signal-safe calls from here on.
  remove_registered_temporaries();
  die_by(sig);
}

}  // namespace

void install_interrupt_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // a blocking read or write resumes; the work polls the flag
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
  });
}

bool interrupt_requested() { return g_signal.load(std::memory_order_relaxed) != 0; }

int interrupt_signal() { return g_signal.load(); }

void clear_interrupt() { g_signal.store(0); }

void end_by_signal(int signal) {
  std::fflush(stdout);
  std::fflush(stderr);
  die_by(signal);
}

std::string signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return fmt::format("signal {}", signal);
  }
}

Interrupted::Interrupted(int signal, std::string_view context)
    : Error(fmt::format("interrupted by {}{}{}", signal_name(signal), context.empty() ? "" : ": ", context)),
      signal_(signal) {}

void throw_if_interrupted(std::string_view context) {
  const int sig = interrupt_signal();
  if (sig != 0) throw Interrupted(sig, context);
}

TemporaryRegistration::TemporaryRegistration(const std::string& path) {
  if (path.size() >= kPathBytes) return;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!g_state[static_cast<size_t>(i)].compare_exchange_strong(expected, kClaimed)) continue;
    std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
    g_state[static_cast<size_t>(i)].store(kReady);
    slot_ = i;
    return;
  }
}

TemporaryRegistration::~TemporaryRegistration() {
  if (slot_ >= 0) g_state[static_cast<size_t>(slot_)].store(kFree);
}

}  // namespace agf::io
