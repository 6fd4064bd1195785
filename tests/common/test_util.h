#pragma once
// Helpers shared by the doctest suites.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tensor/device.h"

namespace agf::test {

// Decorator for a GPU test: skipped (and counted as skipped) when no CUDA device answers; test_main prints why.
inline bool no_gpu() { return !cuda_available(); }

// ../shared/fixtures by default; AGF_FIXTURES overrides. Empty when absent (tests then skip with a message).
inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("AGF_FIXTURES")) return env;
#ifdef AGF_FIXTURES_DIR
  return AGF_FIXTURES_DIR;
#else
  return "../shared/fixtures";
#endif
}

// Whether a shared fixture is missing. Tests that need one are declared
//   TEST_CASE("..." * doctest::skip(::agf::test::missing_fixture(path)))
// so that without the fixtures they count as skipped, not as passed. The decorator is evaluated while the tests
// register (static initialisation); the first missing fixture is reported there, once per binary, with the reason.
inline bool missing_fixture(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return false;
  static bool told = false;
  if (!told) {
    told = true;
    std::printf("fixture tests skipped: no %s (set AGF_FIXTURES to the shared fixtures folder)\n", path.c_str());
  }
  return true;
}

// The real pretrained backbone among the shared fixtures (tinylight, 6 CODE-15 classes), and whether it is missing.
inline std::filesystem::path pretrained_fixture() {
  return fixtures_dir() / "pretrained" / "CODE_testtinylightbias_full_checkpoint.pkl";
}
inline bool no_pretrained_fixture() { return missing_fixture(pretrained_fixture()); }

}  // namespace agf::test

#define AGF_GPU_TEST(name) TEST_CASE(name * doctest::skip(::agf::test::no_gpu()))
