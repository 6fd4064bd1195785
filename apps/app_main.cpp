#include "app_main.h"

#include <cblas.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>

#include "io/atomic_file.h"
#include "io/interrupt.h"
#include "io/printable.h"
#include "kernels/ops.h"

namespace agf::app {

namespace {

void print_line(const std::string& app, const std::string& message) {
  std::fflush(stdout);  // what the run printed before goes out before the line that ends it
  // On a terminal a progress line may be waiting for its next rewrite: the message replaces it instead of trailing it.
  const char* clear_line = isatty(fileno(stderr)) != 0 ? "\r\x1b[K" : "";
  fmt::print(stderr, "{}{}: {}\n", clear_line, app, io::printable(message));
  std::fflush(stderr);
}

// A decimal integer, the whole token: CLI11 itself would read "010" as octal and "-1" as a huge unsigned value.
template <typename T>
std::optional<T> parse_decimal(const std::string& s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 10);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

namespace {

// The core OpenBLAS should run, or "" to keep its own pick.
std::string blas_core_wanted(const char* current) {
  const char* setting = std::getenv("AGF_BLAS_CORE");
  if (setting != nullptr && *setting != '\0' && std::string(setting) != "auto") {
    if (std::string(setting) == "openblas" || ops::same_blas_core(setting, current)) return "";
    return setting;  // a core named by the user (a comparison, a test of this path)
  }
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";  // the user's choice; the start-up line names it
  std::string wanted = ops::widest_blas_core();
  if (wanted.empty() || ops::blas_core_width(current) >= ops::blas_core_width(wanted)) return "";
  return wanted;
}

}  // namespace

void set_up_cpu_runtime(char** argv) {
  if (std::getenv(kRuntimeSetEnv) != nullptr) return;  // this process is the one started again
  bool again = false;
  const char* current = openblas_get_corename();
  if (const std::string core = current != nullptr ? blas_core_wanted(current) : ""; !core.empty()) {
    again = setenv("OPENBLAS_CORETYPE", core.c_str(), 1) == 0 && setenv(kBlasCoreChosenEnv, current, 1) == 0;
  }
  constexpr int kOpenblasOpenmp = 2;  // openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && openblas_get_parallel() != kOpenblasOpenmp)
    again = setenv("OMP_WAIT_POLICY", "passive", 1) == 0 || again;
  if (!again) return;
  // OpenBLAS and libgomp read these once, when they are loaded: the process starts again with them set.
  if (setenv(kRuntimeSetEnv, "1", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): go on as loaded; the start-up line names the core that runs.
  unsetenv(kBlasCoreChosenEnv);
}

void as_usage_error(const std::function<void()>& check) {
  try {
    check();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

void configure(CLI::App& cli) { cli.option_defaults()->always_capture_default(); }

int run_app(CLI::App& cli, int argc, char** argv, const std::function<void()>& body) {
  set_up_cpu_runtime(argv);
  io::install_interrupt_handlers();
  const std::string name = cli.get_name().empty() ? std::string(argv[0]) : cli.get_name();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    print_line(name, fmt::format("{} (see --help)", e.what()));
    return kExitUsage;
  }
  try {
    body();
  } catch (const io::Interrupted& e) {
    print_line(name, e.what());
    io::end_by_signal(e.signal());
  } catch (const UsageError& e) {
    print_line(name, fmt::format("{} (see --help)", e.what()));
    return kExitUsage;
  } catch (const std::exception& e) {
    print_line(name, fmt::format("error: {}", e.what()));
    return kExitFailure;
  } catch (...) {
    print_line(name, "error: an exception of unknown type (a bug)");
    return kExitFailure;
  }
  if (const int sig = io::interrupt_signal(); sig != 0) {
    // The signal came after the last safe point: the work is done, but the user asked to stop.
    print_line(name, fmt::format("interrupted by {} after the work was done; its output is complete",
                                 io::signal_name(sig)));
    io::end_by_signal(sig);
  }
  return 0;
}

CLI::Validator integer_in(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& input) -> std::string {
        const auto v = parse_decimal<int64_t>(input);
        if (!v || *v < lo || *v > hi) return fmt::format("must be an integer in {}..{}, got '{}'", lo, hi, input);
        input = std::to_string(*v);  // no leading zeros left for CLI11 to read as octal
        return "";
      },
      fmt::format("{}..{}", lo, hi));
}

CLI::Validator unsigned_integer() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        const auto v = parse_decimal<uint64_t>(input);
        if (!v)
          return fmt::format("must be an integer in 0..{}, got '{}'", std::numeric_limits<uint64_t>::max(), input);
        input = std::to_string(*v);
        return "";
      },
      "");
}

CLI::Validator real_in(double lo, double hi, bool lo_open, bool hi_open) {
  const std::string interval = fmt::format("{}{}, {}{}", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
  return CLI::Validator(
      [=](std::string& input) -> std::string {
        double v = 0;
        const auto [end, ec] = std::from_chars(input.data(), input.data() + input.size(), v);
        const bool number = ec == std::errc() && end == input.data() + input.size() && std::isfinite(v);
        const bool inside = number && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
        if (!inside) return fmt::format("must be a number in {}, got '{}'", interval, input);
        return "";
      },
      interval);
}

CLI::Validator plain_file_name() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        const std::string problem = io::plain_file_name_problem(input);
        return problem.empty() ? "" : fmt::format("'{}' is not a plain file name: {}", input, problem);
      },
      "NAME");
}

}  // namespace agf::app
