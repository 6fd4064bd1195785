#pragma once
// Helpers of the checkpoint I/O suites: the committed golden files and their expectations.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "common/test_util.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace agf::test {

inline std::filesystem::path io_golden_dir() { return AGF_IO_GOLDEN_DIR; }
inline std::filesystem::path io_golden(const std::string& name) { return io_golden_dir() / name; }

inline const nlohmann::json& io_golden_json() {
  static const nlohmann::json j = [] {
    std::ifstream in(io_golden("golden.json"));
    REQUIRE_MESSAGE(in.good(), "missing tests/golden/io/golden.json (run tools/golden/make_io_fixtures.py)");
    return nlohmann::json::parse(in);
  }();
  return j;
}

// Runs f, which must throw agf::Error whose message contains every one of `parts`.
template <typename F>
void check_error(F&& f, std::initializer_list<std::string> parts) {
  std::string msg;
  try {
    f();
  } catch (const agf::Error& e) {
    msg = e.what();
  }
  REQUIRE_MESSAGE(!msg.empty(), "expected an agf::Error mentioning '" << *parts.begin() << "'");
  for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << p << "' not in: " << msg);
}

// A tensor's elements as doubles (bool and integers included), f16/bf16 widened: for comparing with golden values.
std::vector<double> values_as_double(const Tensor& t);

// A scratch directory of this process, removed at exit.
std::filesystem::path io_scratch_dir();

}  // namespace agf::test
