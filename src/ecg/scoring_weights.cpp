#include "ecg/scoring_weights.h"

#include "ecg/csv_table.h"
#include "ecg/text_util.h"
#include "tensor/error.h"

namespace agf::ecg {

ScoringWeights ScoringWeights::load(const std::filesystem::path& csv) {
  CsvTable t = CsvTable::read(csv, 1 << 20);
  const int64_t k = static_cast<int64_t>(t.header().size()) - 1;
  AGF_CHECK(k >= 1, "{}: no class columns in the header", csv.string());
  AGF_CHECK(t.rows() == k, "{}: {} class columns but {} rows; the weights must be square", csv.string(), k, t.rows());
  ScoringWeights w;
  w.keys_.assign(t.header().begin() + 1, t.header().end());
  w.w_.resize(static_cast<size_t>(k * k));
  for (int64_t r = 0; r < k; ++r) {
    AGF_CHECK(t.cell(r, 0) == w.keys_[static_cast<size_t>(r)], "{} data row {}: row class '{}' differs from column {} '{}'",
              csv.string(), r + 1, t.cell(r, 0), r + 1, w.keys_[static_cast<size_t>(r)]);
    for (int64_t c = 0; c < k; ++c) {
      double v = t.double_cell(r, c + 1);
      AGF_CHECK(v >= 0.0 && v <= 1.0, "{} data row {}: weight {} outside [0, 1]", csv.string(), r + 1, v);
      w.w_[static_cast<size_t>(r * k + c)] = v;
    }
  }
  return w;
}

ScoringWeights ScoringWeights::load_default() { return load(default_label_dir() / "challenge2021_weights.csv"); }

std::optional<int64_t> ScoringWeights::index_of(std::string_view key_or_code) const {
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] == key_or_code) return static_cast<int64_t>(i);
  for (size_t i = 0; i < keys_.size(); ++i)
    for (std::string_view code : text::split_char(keys_[i], '|'))
      if (code == key_or_code) return static_cast<int64_t>(i);
  return std::nullopt;
}

std::vector<double> ScoringWeights::for_classes(const ClassSet& classes) const {
  const int64_t n = classes.size();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto j = index_of(classes[i].key);
    if (!j && !classes[i].codes.empty()) j = index_of(classes[i].codes.front());
    AGF_CHECK(j.has_value(), "class {} ({}) has no row in the scoring weights", classes[i].key, classes[i].abbreviation);
    idx[static_cast<size_t>(i)] = *j;
  }
  std::vector<double> out(static_cast<size_t>(n * n));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c)
      out[static_cast<size_t>(r * n + c)] = at(idx[static_cast<size_t>(r)], idx[static_cast<size_t>(c)]);
  return out;
}

}  // namespace agf::ecg
