#pragma once
// Helpers shared by the doctest suites.
#include <doctest/doctest.h>

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

}  // namespace agf::test

#define AGF_GPU_TEST(name) TEST_CASE(name * doctest::skip(::agf::test::no_gpu()))
