#include "dataset/splits.h"

#include <algorithm>
#include <numeric>

#include "tensor/error.h"
#include "tensor/random.h"

namespace agf::dataset {

std::string_view split_part_name(SplitPart p) {
  switch (p) {
    case SplitPart::train: return "train";
    case SplitPart::val: return "val";
    case SplitPart::test: return "test";
  }
  return "unknown";
}

SplitPart parse_split_part(std::string_view name) {
  for (SplitPart p : {SplitPart::train, SplitPart::val, SplitPart::test})
    if (name == split_part_name(p)) return p;
  AGF_FAIL("unknown split '{}' (known: train, val, test)", name);
}

const std::vector<int64_t>& DatasetSplits::part(SplitPart p) const {
  return p == SplitPart::train ? train : p == SplitPart::val ? val : test;
}

std::vector<int64_t>& DatasetSplits::part(SplitPart p) {
  return p == SplitPart::train ? train : p == SplitPart::val ? val : test;
}

namespace {

// Index of the largest value among `candidates` scored by `score`, ties broken uniformly by `rng`. Drawing only on a
// tie keeps the stream's consumption a function of the data alone.
template <typename Score>
int32_t argmax_random_tie(const std::vector<int32_t>& candidates, Score score, PhiloxStream& rng,
                          std::vector<int32_t>& scratch) {
  scratch.clear();
  double best = 0;
  for (int32_t c : candidates) {
    const double s = score(c);
    if (scratch.empty() || s > best) {
      best = s;
      scratch.assign(1, c);
    } else if (s == best) {
      scratch.push_back(c);
    }
  }
  return scratch.size() == 1 ? scratch[0] : scratch[rng.next_below(scratch.size())];
}

}  // namespace

std::vector<int32_t> iterative_stratification(const uint8_t* labels, int64_t n, int64_t k,
                                              const std::vector<double>& ratios, uint64_t seed) {
  const auto m = static_cast<int32_t>(ratios.size());
  AGF_CHECK(m >= 1, "iterative stratification: no parts to split into");
  AGF_CHECK(n >= 0 && k >= 0, "iterative stratification: negative size ({} rows, {} labels)", n, k);
  double total_ratio = 0;
  for (double r : ratios) {
    AGF_CHECK(r >= 0 && r <= 1, "iterative stratification: ratio {} outside [0, 1]", r);
    total_ratio += r;
  }
  AGF_CHECK(total_ratio > 0, "iterative stratification: the ratios sum to 0");

  PhiloxStream rng(seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[static_cast<size_t>(i)], order[rng.next_below(static_cast<uint64_t>(i + 1))]);

  // Per label, its rows in the shuffled order; per part, how many rows and positives of each label it still wants.
  std::vector<std::vector<int64_t>> rows_of(static_cast<size_t>(k));
  for (int64_t row : order)
    for (int64_t l = 0; l < k; ++l)
      if (labels[row * k + l] != 0) rows_of[static_cast<size_t>(l)].push_back(row);
  std::vector<double> want_rows(static_cast<size_t>(m));
  std::vector<double> want_label(static_cast<size_t>(k * m));
  for (int32_t j = 0; j < m; ++j) {
    const double r = ratios[static_cast<size_t>(j)] / total_ratio;
    want_rows[static_cast<size_t>(j)] = static_cast<double>(n) * r;
    for (int64_t l = 0; l < k; ++l)
      want_label[static_cast<size_t>(l * m + j)] = static_cast<double>(rows_of[static_cast<size_t>(l)].size()) * r;
  }
  std::vector<int64_t> remaining(static_cast<size_t>(k));
  for (int64_t l = 0; l < k; ++l) remaining[static_cast<size_t>(l)] = static_cast<int64_t>(rows_of[l].size());

  std::vector<int32_t> part_of(static_cast<size_t>(n), -1);
  std::vector<int32_t> all_parts(static_cast<size_t>(m)), scratch;
  std::iota(all_parts.begin(), all_parts.end(), 0);
  auto assign = [&](int64_t row, int32_t j) {
    part_of[static_cast<size_t>(row)] = j;
    want_rows[static_cast<size_t>(j)] -= 1;
    for (int64_t l = 0; l < k; ++l)
      if (labels[row * k + l] != 0) {
        want_label[static_cast<size_t>(l * m + j)] -= 1;
        --remaining[static_cast<size_t>(l)];
      }
  };

  std::vector<int32_t> label_candidates;
  for (;;) {
    // The label with the fewest unassigned positives: the rarest labels are placed while every part can still
    // take them.
    label_candidates.clear();
    int64_t fewest = 0;
    for (int64_t l = 0; l < k; ++l) {
      const int64_t r = remaining[static_cast<size_t>(l)];
      if (r == 0) continue;
      if (label_candidates.empty() || r < fewest) {
        fewest = r;
        label_candidates.assign(1, static_cast<int32_t>(l));
      } else if (r == fewest) {
        label_candidates.push_back(static_cast<int32_t>(l));
      }
    }
    if (label_candidates.empty()) break;
    const int64_t l = label_candidates.size() == 1 ? label_candidates[0]
                                                   : label_candidates[rng.next_below(label_candidates.size())];
    for (int64_t row : rows_of[static_cast<size_t>(l)]) {
      if (part_of[static_cast<size_t>(row)] >= 0) continue;
      // Parts that most want label l; among them the one that wants the most rows; then random.
      double best = 0;
      std::vector<int32_t> top;
      for (int32_t j = 0; j < m; ++j) {
        const double w = want_label[static_cast<size_t>(l * m + j)];
        if (top.empty() || w > best) {
          best = w;
          top.assign(1, j);
        } else if (w == best) {
          top.push_back(j);
        }
      }
      const int32_t j = top.size() == 1
                            ? top[0]
                            : argmax_random_tie(top, [&](int32_t p) { return want_rows[static_cast<size_t>(p)]; },
                                                rng, scratch);
      assign(row, j);
    }
  }
  for (int64_t row : order)
    if (part_of[static_cast<size_t>(row)] < 0)
      assign(row, argmax_random_tie(all_parts, [&](int32_t p) { return want_rows[static_cast<size_t>(p)]; }, rng,
                                    scratch));
  return part_of;
}

void check_split_config(const SplitConfig& config) {
  AGF_CHECK(config.label_ratio > 0 && config.label_ratio <= 1, "split: label ratio {} outside (0, 1]",
            config.label_ratio);
  AGF_CHECK(config.val_fraction >= 0 && config.val_fraction < 1, "split: validation fraction {} outside [0, 1)",
            config.val_fraction);
}

DatasetSplits make_splits(const uint8_t* labels, int64_t n, int64_t k, const SplitConfig& config) {
  check_split_config(config);
  DatasetSplits s;
  s.config = config;
  const std::vector<int32_t> stage1 =
      iterative_stratification(labels, n, k, {config.label_ratio, 1.0 - config.label_ratio}, config.seed);
  std::vector<int64_t> labelled;
  for (int64_t i = 0; i < n; ++i) (stage1[static_cast<size_t>(i)] == 0 ? labelled : s.test).push_back(i);

  std::vector<uint8_t> sub(labelled.size() * static_cast<size_t>(k));
  for (size_t r = 0; r < labelled.size(); ++r)
    std::copy_n(labels + labelled[r] * k, k, sub.begin() + static_cast<std::ptrdiff_t>(r * static_cast<size_t>(k)));
  // A stream of its own for the second stage, so that changing the labelled set's size does not shift the first.
  const uint64_t seed2 = PhiloxStream(config.seed ^ 0x9E3779B97F4A7C15ull).next_u64();
  const std::vector<int32_t> stage2 = iterative_stratification(
      sub.data(), static_cast<int64_t>(labelled.size()), k, {1.0 - config.val_fraction, config.val_fraction}, seed2);
  for (size_t r = 0; r < labelled.size(); ++r) (stage2[r] == 0 ? s.train : s.val).push_back(labelled[r]);
  return s;
}

}  // namespace agf::dataset
