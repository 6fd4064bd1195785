#pragma once
// Helpers of the metrics suite: the golden JSON (tools/golden/make_metrics_golden.py) and matrices built from it.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "metrics/matrix.h"

namespace agf::metrics::test {

inline std::filesystem::path source_root() {
#ifdef AGF_SOURCE_ROOT
  return AGF_SOURCE_ROOT;
#else
  return ".";
#endif
}

inline const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    const auto path = source_root() / "tests" / "golden" / "metrics" / "metrics_golden.json";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
    return nlohmann::json::parse(in);
  }();
  return g;
}

// A golden number; null (an undefined metric) reads as NaN.
inline double number(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}
inline std::vector<double> numbers(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(number(x));
  return v;
}

inline HostMatrix<uint8_t> label_matrix(const nlohmann::json& rows) {
  std::vector<uint8_t> v;
  for (const auto& r : rows)
    for (const auto& x : r) v.push_back(static_cast<uint8_t>(x.get<int>()));
  return HostMatrix<uint8_t>(std::move(v), static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size()));
}
inline HostMatrix<double> score_matrix(const nlohmann::json& rows) {
  std::vector<double> v;
  for (const auto& r : rows)
    for (const auto& x : r) v.push_back(x.get<double>());
  return HostMatrix<double>(std::move(v), static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size()));
}

// Equal within `tol`, or both NaN (an undefined metric must stay undefined).
inline bool same(double got, double want, double tol) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
  return std::fabs(got - want) <= tol;
}

}  // namespace agf::metrics::test

// Checks every element of two vectors with `same`, naming the index of a mismatch.
#define CHECK_ALL_SAME(got_vec, want_vec, tol)                                                          \
  do {                                                                                                \
    const auto& got_ = (got_vec);                                                                     \
    const auto& want_ = (want_vec);                                                                   \
    REQUIRE(got_.size() == want_.size());                                                             \
    for (size_t i_ = 0; i_ < got_.size(); ++i_)                                                       \
      CHECK_MESSAGE(::agf::metrics::test::same(got_[i_], want_[i_], tol),                             \
                    #got_vec "[" << i_ << "] = " << got_[i_] << ", expected " << want_[i_]);          \
  } while (0)
