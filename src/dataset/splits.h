#pragma once
// Train / validation / test splits of a multi-label dataset by iterative stratification (Sechidis, Tsoumakas,
// Vlahavas: "On the stratification of multi-label data", ECML PKDD 2011): the first `label_ratio` of the records
// form the labelled set and the rest the test set; the labelled set splits (1 - val_fraction) / val_fraction into
// train / val, again stratified. Every tie is broken by the seeded Philox stream, so a (labels, config) pair always
// gives the same split on any machine.
#include <cstdint>
#include <string_view>
#include <vector>

namespace agf::dataset {

struct SplitConfig {
  double label_ratio = 0.10;   // finetune_label_ratio: the share of records that are labelled (train + val)
  double val_fraction = 0.20;  // the share of the labelled set that is validation
  uint64_t seed = 0;
};

enum class SplitPart { train, val, test };
inline constexpr int kSplitPartCount = 3;
std::string_view split_part_name(SplitPart p);     // "train", "val", "test"
SplitPart parse_split_part(std::string_view name);  // the names above; an error lists them

struct DatasetSplits {
  SplitConfig config;
  std::vector<int64_t> train, val, test;  // row indices, ascending, disjoint, together every row

  const std::vector<int64_t>& part(SplitPart p) const;
  std::vector<int64_t>& part(SplitPart p);
};

// Assigns each of `n` rows to one of `ratios.size()` parts so that every part gets about ratios[j] of the rows and of
// every label's positives. `labels` is row-major (n, k), nonzero = positive. Returns the part of each row.
// Algorithm 1 of Sechidis et al.: repeatedly take the label with the fewest positives still unassigned (ties:
// random) and hand each of its rows to the part that most wants that label (ties: the part that wants the most rows,
// then random); rows with no label go to the part that wants the most rows. The row order is shuffled by the seed
// first, so equal rows are not assigned in file order.
std::vector<int32_t> iterative_stratification(const uint8_t* labels, int64_t n, int64_t k,
                                              const std::vector<double>& ratios, uint64_t seed);

// The two-stage split described at the top.
DatasetSplits make_splits(const uint8_t* labels, int64_t n, int64_t k, const SplitConfig& config);
// What make_splits refuses (label ratio outside (0, 1], validation fraction outside [0, 1)), for callers that
// should refuse it before hours of work rather than after.
void check_split_config(const SplitConfig& config);

}  // namespace agf::dataset
