#pragma once
// The Challenge 2021 scoring weights: a K x K matrix over classes named by SNOMED codes, equivalent codes joined by
// '|' ("733534002|164909002"). Reads the project's data/labels/challenge2021_weights.csv and the Challenge's own
// weights.csv alike (first header cell ignored, row names must repeat the column names).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ecg/labels.h"

namespace agf::ecg {

class ScoringWeights {
 public:
  static ScoringWeights load(const std::filesystem::path& csv);
  static ScoringWeights load_default();  // default_label_dir() / "challenge2021_weights.csv"

  int64_t size() const { return static_cast<int64_t>(keys_.size()); }
  const std::vector<std::string>& class_keys() const { return keys_; }
  double at(int64_t row, int64_t col) const { return w_[static_cast<size_t>(row * size() + col)]; }
  const std::vector<double>& values() const { return w_; }  // row-major K x K

  // Index of the class whose key is `key`, or that contains the code `key`.
  std::optional<int64_t> index_of(std::string_view key_or_code) const;

  // The weights restricted and reordered to `classes` (each class found by its key or its first code); row-major
  // classes.size()^2. An error names a class the weights do not know.
  std::vector<double> for_classes(const ClassSet& classes) const;

 private:
  std::vector<std::string> keys_;
  std::vector<double> w_;
};

}  // namespace agf::ecg
