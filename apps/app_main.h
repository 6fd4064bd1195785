#pragma once
// What every app's main() shares: the command-line set-up, the exit status convention and the one line on stderr.
//
//   0            success
//   1            bad input or a failed run (agf::Error, any other exception): "<app>: error: <message>"
//   2            a bad command line (a CLI11 parse error, an option value out of range, options that do not go
//                together: UsageError): "<app>: <message> (see --help)"
//   128+signal   interrupted (130 for Ctrl-C, 143 for SIGTERM): "<app>: interrupted by SIGINT: <where it stopped>".
//                After that line the process ends by the signal itself (default action re-raised), so a calling
//                shell sees 130/143 and a script that ran the app stops too, as it would had the app not caught it.
//
// Every message is passed through io::printable (control characters escaped), so it stays one line and input text
// quoted in it cannot drive the terminal.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <string>

#include "tensor/error.h"

namespace agf::app {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A command-line problem found after parsing (two options that do not go together, a count that does not match):
// exit status 2, like CLI11's own parse errors.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

template <typename... Args>
void usage_check(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

// Runs `check` (an options struct's validate(), say) and turns the agf::Error it throws into a UsageError.
void as_usage_error(const std::function<void()>& check);

// The house settings, applied before any option is added: every option shows its default in --help, subcommands
// included (they inherit the option defaults of the app they are added to).
void configure(CLI::App& cli);

// The CPU runtime every app runs with, set before its libraries can read it:
// - OpenBLAS 0.3.21 (Debian 12) picks its kernels by CPU model number and falls back to older ones on a CPU it does
//   not know (SSE3 "Prescott" on a Sapphire Rapids Xeon). When the CPU's features allow a wider core than OpenBLAS
//   chose, OPENBLAS_CORETYPE is set to it. AGF_BLAS_CORE overrides: `openblas` keeps OpenBLAS's own pick, a core
//   name (Haswell, SkylakeX, ...) runs that core; unset or `auto`, an OPENBLAS_CORETYPE already set is the user's
//   choice and is kept (the start-up line then flags a core narrower than the CPU allows as a slow path).
// - With OpenBLAS's pthread build, OMP_WAIT_POLICY=passive unless set: OpenMP threads that spin after a parallel
//   region take the cores from the OpenBLAS call that follows, whose threads are its own (27% of a medium forward's
//   samples sat in libgomp's spin loop, measured with perf). The OpenMP build (the one meson links where it is
//   installed) runs its GEMMs on the same OpenMP team, so libgomp's default stays: a short spin, then sleep, which
//   saves the futex wake-up of every parallel region (BENCHMARKS.md, "Threading").
// OpenBLAS and libgomp read these variables only when they are loaded, so when one changes the process starts again
// (execv of /proc/self/exe, same arguments, once). AGF_CPU_RUNTIME_SET=1 skips all of it (under valgrind, whose
// /proc/self/exe is its own tool, set it, or set both variables yourself). The start-up line
// (ops::cpu_backend_summary) says what runs and who chose it. run_app calls this first.
inline constexpr const char* kBlasCoreChosenEnv = "AGF_BLAS_CORE_OPENBLAS_PICK";
inline constexpr const char* kRuntimeSetEnv = "AGF_CPU_RUNTIME_SET";
void set_up_cpu_runtime(char** argv);

// Installs the interrupt handlers, parses argv into `cli` and runs `body`, mapping every outcome to the exit status
// above. --help prints the help and returns 0. The app's name is cli.get_name().
int run_app(CLI::App& cli, int argc, char** argv, const std::function<void()>& body);

// Validators whose refusal reads plainly ("--batch: must be an integer in 1..65536, got 0"), unlike CLI::Range
// (bounds printed with %f) and CLI::PositiveNumber (whose bound is the largest double, 309 digits).
CLI::Validator integer_in(int64_t lo, int64_t hi);
CLI::Validator unsigned_integer();  // any value of a uint64_t (seeds)
// A real number in the interval from lo to hi; open ends excluded: real_in(0, 1, true, false) is (0, 1].
CLI::Validator real_in(double lo, double hi, bool lo_open = false, bool hi_open = false);
// A plain file name (no '/', not empty, "." or "..", no control character): an output name inside a folder.
CLI::Validator plain_file_name();

}  // namespace agf::app
