#pragma once
// What a fuzz target accepts as the answer to bad input, and how it reports anything else. An input that breaks
// an invariant, or an exception the entry point does not promise, aborts the run with one line saying which:
// libFuzzer then saves the input as a crash. With AGF_FUZZ_VERBOSE=1 in the environment every refusal is printed
// (to see what a seed or a saved input reaches: ./build-fuzz/tests/fuzz/fuzz_record FILE).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "ecg/record_error.h"
#include "tensor/error.h"

namespace agf::fuzz {

inline bool verbose() {
  static const bool on = std::getenv("AGF_FUZZ_VERBOSE") != nullptr;
  return on;
}

inline void note_refusal(const std::exception& e) {
  if (verbose()) std::fprintf(stderr, "refused: %s\n", e.what());
}

[[noreturn]] inline void finding(const char* target, const char* what, const char* detail = "") {
  std::fprintf(stderr, "%s: %s %s\n", target, what, detail);
  std::abort();
}

inline void require(bool ok, const char* target, const char* what) {
  if (!ok) finding(target, "accepted input breaks an invariant:", what);
}

// Runs f; an agf::Error (any kind) is the expected refusal. Returns whether f completed.
template <typename F>
bool expect_agf_error(F&& f) {
  try {
    f();
    return true;
  } catch (const agf::Error& e) {
    note_refusal(e);
    return false;
  }
}

// Runs f, an entry point that reads one record (or exam) for a batch reader: its refusals must be RecordErrors, which
// agf-collect skips and counts; a plain agf::Error there would end a whole collect run over one bad record.
template <typename F>
bool expect_record_error(const char* target, F&& f) {
  try {
    f();
    return true;
  } catch (const agf::ecg::RecordError& e) {
    note_refusal(e);
    return false;
  } catch (const agf::Error& e) {
    finding(target, "a per-record reader threw a plain agf::Error, not a RecordError:", e.what());
  }
}

}  // namespace agf::fuzz
