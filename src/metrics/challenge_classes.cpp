#include "metrics/challenge_classes.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "tensor/error.h"

namespace agf::metrics {

namespace {

std::vector<std::string> split_codes(std::string_view key) {
  std::vector<std::string> codes;
  size_t start = 0;
  while (true) {
    const size_t bar = key.find('|', start);
    codes.emplace_back(key.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return codes;
}

}  // namespace

ChallengeClasses::ChallengeClasses(std::vector<std::string> keys, std::vector<double> weights,
                                   std::string_view normal_key)
    : keys_(std::move(keys)), weights_(std::move(weights)) {
  const size_t k = keys_.size();
  AGF_CHECK(k > 0, "challenge classes: no class keys");
  AGF_CHECK(weights_.size() == k * k, "challenge classes: {} keys need a {} x {} weight matrix ({} values), got {}",
            k, k, k, k * k, weights_.size());
  for (size_t c = 0; c < k; ++c)
    for (const std::string& code : split_codes(keys_[c])) {
      AGF_CHECK(!code.empty(), "challenge classes: class key '{}' has an empty code", keys_[c]);
      const auto [it, fresh] = class_by_code_.emplace(code, static_cast<int64_t>(c));
      AGF_CHECK(fresh, "challenge classes: code {} is in class '{}' and in class '{}'", code,
                keys_[static_cast<size_t>(it->second)], keys_[c]);
    }
  // The script finds the normal class by set equality ({"426783006"} in the list of class code sets).
  const std::vector<std::string> normal_codes = split_codes(normal_key);
  const std::set<std::string> wanted(normal_codes.begin(), normal_codes.end());
  for (size_t c = 0; c < k && normal_ < 0; ++c) {
    const std::vector<std::string> codes = split_codes(keys_[c]);
    if (std::set<std::string>(codes.begin(), codes.end()) == wanted) normal_ = static_cast<int64_t>(c);
  }
  AGF_CHECK(normal_ >= 0, "challenge classes: the normal class '{}' is not one of the {} class keys", normal_key, k);
}

std::optional<int64_t> ChallengeClasses::class_of_code(std::string_view code) const {
  const auto it = class_by_code_.find(std::string(code));
  if (it == class_by_code_.end()) return std::nullopt;
  return it->second;
}

std::vector<uint8_t> ChallengeClasses::encode_labels(std::span<const std::string> codes) const {
  std::vector<uint8_t> y(static_cast<size_t>(size()), 0);
  for (const std::string& code : codes)
    if (const auto c = class_of_code(code)) y[static_cast<size_t>(*c)] = 1;
  return y;
}

ChallengeRecord challenge_record(const ChallengeClasses& classes, std::span<const std::string> label_codes,
                                 std::span<const ChallengeOutput> outputs) {
  const size_t k = static_cast<size_t>(classes.size());
  std::vector<uint8_t> binary(k, 0);
  std::vector<double> scalar_sum(k, 0.0);
  std::vector<int64_t> columns(k, 0);
  for (const ChallengeOutput& out : outputs) {
    // A column named "a|b" counts for every class holding a or b, once per class.
    std::vector<int64_t> hit;
    for (const std::string& code : split_codes(out.code))
      if (const auto c = classes.class_of_code(code); c && std::find(hit.begin(), hit.end(), *c) == hit.end())
        hit.push_back(*c);
    for (int64_t c : hit) {
      const auto i = static_cast<size_t>(c);
      binary[i] = binary[i] || out.binary;
      scalar_sum[i] += std::isfinite(out.scalar) ? out.scalar : 0.0;
      ++columns[i];
    }
  }
  std::vector<double> scalar(k, 0.0);
  for (size_t i = 0; i < k; ++i)
    if (columns[i] > 0) scalar[i] = scalar_sum[i] / static_cast<double>(columns[i]);
  return ChallengeRecord{classes.encode_labels(label_codes), std::move(binary), std::move(scalar)};
}

ChallengeRecord challenge_record(const ChallengeClasses& classes, std::span<const std::string> label_codes,
                                 std::vector<uint8_t> binary, std::vector<double> scalar) {
  const size_t k = static_cast<size_t>(classes.size());
  AGF_CHECK(binary.size() == k && scalar.size() == k,
            "challenge record: {} binary and {} scalar outputs for {} classes", binary.size(), scalar.size(), k);
  for (size_t i = 0; i < k; ++i) {
    AGF_CHECK(binary[i] <= 1, "challenge record: binary output of class '{}' is {}; it must be 0 or 1",
              classes.keys()[i], binary[i]);
    if (!std::isfinite(scalar[i])) scalar[i] = 0.0;
  }
  return ChallengeRecord{classes.encode_labels(label_codes), std::move(binary), std::move(scalar)};
}

}  // namespace agf::metrics
