#pragma once
// The class space of the PhysioNet/CinC Challenge 2021 score, as its official evaluation script (evaluate_model.py
// of physionetchallenges/evaluation-2021) sets it up from weights.csv, and the mapping of a record's labelled codes
// and output columns onto it. Loading weights.csv stays in src/ecg (ScoringWeights): this takes the keys and the
// matrix.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace agf::metrics {

inline constexpr std::string_view kChallengeNormalClass = "426783006";  // sinus rhythm, the "inactive" output

class ChallengeClasses {
 public:
  // keys: K class keys, "164889003" or "733534002|164909002" (codes joined by '|' are one class); weights: K x K
  // row-major, row = labelled class, column = output class (a NaN weight counts as nothing, as the script's
  // nansum); normal_key: the class the inactive classifier outputs, matched as a set of codes, as the script does.
  ChallengeClasses(std::vector<std::string> keys, std::vector<double> weights,
                   std::string_view normal_key = kChallengeNormalClass);

  int64_t size() const { return static_cast<int64_t>(keys_.size()); }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<double>& weights() const { return weights_; }
  double weight(int64_t label_class, int64_t output_class) const {
    return weights_[static_cast<size_t>(label_class * size() + output_class)];
  }
  int64_t normal_index() const { return normal_; }

  // The class that holds `code`; nullopt for a code the score does not know (an unscored code, ignored).
  std::optional<int64_t> class_of_code(std::string_view code) const;
  // Multi-hot over the classes: a class is labelled when any of its codes is among `codes`.
  std::vector<uint8_t> encode_labels(std::span<const std::string> codes) const;

 private:
  std::vector<std::string> keys_;
  std::vector<double> weights_;
  std::unordered_map<std::string, int64_t> class_by_code_;
  int64_t normal_ = -1;
};

// One column of a classifier's output for a record: a code (or codes joined by '|'), its binary call, its scalar.
struct ChallengeOutput {
  std::string code;
  bool binary = false;
  double scalar = 0.0;
};

// A record as the score sees it, in class order.
struct ChallengeRecord {
  std::vector<uint8_t> labels;  // K, 0/1
  std::vector<uint8_t> binary;  // K, 0/1
  std::vector<double> scalar;   // K, finite
};

// From the record's labelled codes (unscored ones ignored) and its output columns, mapped as the official loader
// maps an output file: a non-finite scalar counts as 0; a class is output positive when any column naming one of
// its codes is, and its scalar is the mean of those columns' scalars; columns of unscored codes are ignored; a
// class with no column is negative with scalar 0.
ChallengeRecord challenge_record(const ChallengeClasses& classes, std::span<const std::string> label_codes,
                                 std::span<const ChallengeOutput> outputs);

// From the labelled codes and outputs already in class order (binary 0/1); non-finite scalars become 0, as the
// official loader does.
ChallengeRecord challenge_record(const ChallengeClasses& classes, std::span<const std::string> label_codes,
                                 std::vector<uint8_t> binary, std::vector<double> scalar);

}  // namespace agf::metrics
