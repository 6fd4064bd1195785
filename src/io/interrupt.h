#pragma once
// SIGINT/SIGTERM for long work. The first signal only sets a flag (async-signal-safe); the work polls it at its
// next safe point (a record written, a training step done), throws Interrupted, cleans up through its normal
// destructors (an uncommitted AtomicFile removes its temporary) and the app ends with one line. A second signal is
// the user insisting: it removes every registered temporary file at once and ends the process by that signal.
//
// The handlers are installed whatever the inherited disposition (a script's `cmd &` starts with SIGINT ignored):
// an app that writes temporaries must always get the chance to remove them, and a test can `kill -INT` it.
#include <string>
#include <string_view>

#include "tensor/error.h"

namespace agf::io {

void install_interrupt_handlers();  // idempotent; apps call it first thing (run_app does)
bool interrupt_requested();
int interrupt_signal();  // SIGINT or SIGTERM, 0 if none

// "SIGINT", "SIGTERM", or "signal N".
std::string signal_name(int signal);

// Thrown at a safe point once a signal arrived. An agf::Error, so a generic handler prints it as one line; apps
// map it to the exit status 128 + signal (130 for Ctrl-C, 143 for SIGTERM). what(): "interrupted by SIGINT" and,
// when given, ": <context>".
class Interrupted : public Error {
 public:
  Interrupted(int signal, std::string_view context);
  int signal() const { return signal_; }

 private:
  int signal_;
};

void throw_if_interrupted(std::string_view context);

// Ends the process by `signal` with its default action, after flushing stdout and stderr: the way to end once an
// interrupt has been handled, so that the parent sees "killed by SIGINT" (a shell: status 130) and a script stops.
[[noreturn]] void end_by_signal(int signal);

// For tests (and a caller that handled the interrupt completely, e.g. by saving and continuing): forget the signal.
void clear_interrupt();

// Temporary files to remove on the second signal. A registration lasts as long as the object; a path longer than
// the registry's slots (4095 bytes), or more than 256 temporaries alive at once, is simply not registered (the
// normal clean-up still removes it; only the second-signal removal misses it).
class TemporaryRegistration {
 public:
  explicit TemporaryRegistration(const std::string& path);
  ~TemporaryRegistration();
  TemporaryRegistration(const TemporaryRegistration&) = delete;
  TemporaryRegistration& operator=(const TemporaryRegistration&) = delete;
  bool registered() const { return slot_ >= 0; }

 private:
  int slot_ = -1;
};

}  // namespace agf::io
