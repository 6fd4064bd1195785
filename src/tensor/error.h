#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace agf {

// The one exception type of the project. Its message names the file, field, shape, dtype or option at fault,
// so that an app can print it as the single line a user sees before the non-zero exit.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what);
};

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);

}  // namespace agf

// .cu files never include this header: nvcc compiles kernels and plain-typed launchers only (see
// tensor/cuda/launch_util.h), and fmt's headers do not survive nvcc.
#if defined(__CUDACC__)
#error "tensor/error.h (fmt) must not be included from CUDA translation units"
#endif
#define AGF_FORMAT(...) ::fmt::format(__VA_ARGS__)

// AGF_CHECK(cond, "fmt {}", args...): throws agf::Error with the formatted message when cond is false.
#define AGF_CHECK(cond, ...)                                                  \
  do {                                                                        \
    if (!(cond)) [[unlikely]]                                                 \
      ::agf::throw_error(__FILE__, __LINE__, AGF_FORMAT(__VA_ARGS__));        \
  } while (0)

#define AGF_FAIL(...) ::agf::throw_error(__FILE__, __LINE__, AGF_FORMAT(__VA_ARGS__))
