// Iterative stratification: per-class prevalence in every part within 2 records of proportional on a correlated
// multi-label set, disjoint parts covering everything, and a deterministic result for a seed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "dataset/splits.h"
#include "tensor/error.h"
#include "tensor/random.h"

using namespace agf;

using namespace agf::dataset;

namespace {

constexpr int64_t kRecords = 20000, kClasses = 20;

// 20 classes with prevalences log-spaced from 0.5% to 40%, correlated through a shared factor (a Gaussian copula,
// correlation 0.5): a record positive for one class is more likely positive for the others.
std::vector<uint8_t> correlated_labels() {
  PhiloxStream rng(2024);
  std::vector<double> shared(kRecords), z(static_cast<size_t>(kRecords * kClasses));
  for (auto& s : shared) s = rng.next_normal();
  const double rho = std::sqrt(0.5);
  for (int64_t r = 0; r < kRecords; ++r)
    for (int64_t c = 0; c < kClasses; ++c)
      z[static_cast<size_t>(r * kClasses + c)] = rho * shared[static_cast<size_t>(r)] +
                                                 std::sqrt(1 - rho * rho) * rng.next_normal();
  std::vector<uint8_t> labels(z.size(), 0);
  for (int64_t c = 0; c < kClasses; ++c) {
    const double prevalence = 0.005 * std::pow(0.40 / 0.005, static_cast<double>(c) / (kClasses - 1));
    const auto positives = static_cast<int64_t>(std::lround(prevalence * kRecords));
    std::vector<double> column(kRecords);
    for (int64_t r = 0; r < kRecords; ++r) column[static_cast<size_t>(r)] = z[static_cast<size_t>(r * kClasses + c)];
    std::vector<double> sorted = column;
    std::nth_element(sorted.begin(), sorted.end() - positives, sorted.end());
    const double threshold = sorted[static_cast<size_t>(kRecords - positives)];
    for (int64_t r = 0; r < kRecords; ++r)
      labels[static_cast<size_t>(r * kClasses + c)] = column[static_cast<size_t>(r)] >= threshold ? 1 : 0;
  }
  return labels;
}

std::vector<int64_t> counts_in(const std::vector<uint8_t>& labels, const std::vector<int64_t>& rows) {
  std::vector<int64_t> c(kClasses, 0);
  for (int64_t r : rows)
    for (int64_t j = 0; j < kClasses; ++j) c[static_cast<size_t>(j)] += labels[static_cast<size_t>(r * kClasses + j)];
  return c;
}

}  // namespace

TEST_CASE("splits: stratified within 2 records of proportional for every class, in every part") {
  const std::vector<uint8_t> labels = correlated_labels();
  std::vector<int64_t> all(kRecords);
  std::iota(all.begin(), all.end(), int64_t{0});
  const auto total = counts_in(labels, all);
  CHECK(total.front() == 100);   // 0.5%
  CHECK(total.back() == 8000);   // 40%
  // The labels are correlated: the rarest class co-occurs with the commonest far above chance (40%).
  int64_t both = 0;
  for (int64_t r = 0; r < kRecords; ++r) both += labels[static_cast<size_t>(r * kClasses)] & labels[static_cast<size_t>(r * kClasses + kClasses - 1)];
  CHECK(both > 60);

  SplitConfig cfg;  // 10% labelled, 20% of it validation
  cfg.seed = 11;
  const DatasetSplits s = make_splits(labels.data(), kRecords, kClasses, cfg);

  // Disjoint, covering, sorted.
  std::vector<int64_t> seen;
  for (SplitPart p : {SplitPart::train, SplitPart::val, SplitPart::test}) {
    CHECK(std::is_sorted(s.part(p).begin(), s.part(p).end()));
    seen.insert(seen.end(), s.part(p).begin(), s.part(p).end());
  }
  std::sort(seen.begin(), seen.end());
  CHECK(seen == all);

  // Sizes: 2000 labelled (1600 + 400), 18000 test, within 2.
  const auto labelled = static_cast<int64_t>(s.train.size() + s.val.size());
  CHECK(std::abs(labelled - 2000) <= 2);
  CHECK(std::abs(static_cast<int64_t>(s.val.size()) - 400) <= 2);

  const auto tr = counts_in(labels, s.train), va = counts_in(labels, s.val), te = counts_in(labels, s.test);
  double worst_stage1 = 0, worst_stage2 = 0, worst_overall = 0;
  for (int64_t j = 0; j < kClasses; ++j) {
    CAPTURE(j);
    const auto n = static_cast<double>(total[static_cast<size_t>(j)]);
    const auto lab = static_cast<double>(tr[static_cast<size_t>(j)] + va[static_cast<size_t>(j)]);
    // Stage 1: labelled vs test, of the whole set.
    const double d1 = std::abs(lab - 0.10 * n);
    CHECK(d1 <= 2.0);
    CHECK(std::abs(static_cast<double>(te[static_cast<size_t>(j)]) - 0.90 * n) <= 2.0);
    // Stage 2: train vs val, of the labelled set.
    const double d2 = std::abs(static_cast<double>(va[static_cast<size_t>(j)]) - 0.20 * lab);
    CHECK(d2 <= 2.0);
    CHECK(std::abs(static_cast<double>(tr[static_cast<size_t>(j)]) - 0.80 * lab) <= 2.0);
    // Both stages compose: every part within 2 of its share of the whole set too.
    const double d3 = std::max({std::abs(static_cast<double>(tr[static_cast<size_t>(j)]) - 0.08 * n),
                                std::abs(static_cast<double>(va[static_cast<size_t>(j)]) - 0.02 * n)});
    CHECK(d3 <= 2.0);
    worst_stage1 = std::max(worst_stage1, d1);
    worst_stage2 = std::max(worst_stage2, d2);
    worst_overall = std::max(worst_overall, d3);
  }
  MESSAGE("largest deviation from proportional (records): labelled " << worst_stage1 << ", val " << worst_stage2
                                                                     << ", train/val of the whole " << worst_overall);
}

TEST_CASE("splits: deterministic for a seed, different for another") {
  const std::vector<uint8_t> labels = correlated_labels();
  SplitConfig cfg;
  cfg.seed = 3;
  const DatasetSplits a = make_splits(labels.data(), kRecords, kClasses, cfg);
  const DatasetSplits b = make_splits(labels.data(), kRecords, kClasses, cfg);
  CHECK(a.train == b.train);
  CHECK(a.val == b.val);
  CHECK(a.test == b.test);
  cfg.seed = 4;
  const DatasetSplits c = make_splits(labels.data(), kRecords, kClasses, cfg);
  CHECK(a.train != c.train);
}

TEST_CASE("splits: records without labels are spread by size; edge cases") {
  // 1000 unlabelled rows split 0.3 / 0.7 exactly.
  std::vector<uint8_t> none(1000 * 2, 0);
  const auto parts = iterative_stratification(none.data(), 1000, 2, {0.3, 0.7}, 1);
  CHECK(std::count(parts.begin(), parts.end(), 0) == 300);
  CHECK(std::count(parts.begin(), parts.end(), 1) == 700);

  // A class with a single positive lands in the part that wants it most.
  std::vector<uint8_t> one(10, 0);
  one[4] = 1;
  CHECK(iterative_stratification(one.data(), 10, 1, {0.9, 0.1}, 5)[4] == 0);

  CHECK(make_splits(none.data(), 0, 2, SplitConfig{}).train.empty());
  SplitConfig all_labelled;
  all_labelled.label_ratio = 1.0;
  CHECK(make_splits(none.data(), 1000, 2, all_labelled).test.empty());
  SplitConfig bad;
  bad.label_ratio = 0;
  CHECK_THROWS_WITH_AS(make_splits(none.data(), 10, 2, bad), doctest::Contains("label ratio 0"), Error);
  CHECK(parse_split_part("val") == SplitPart::val);
  CHECK_THROWS_WITH_AS(parse_split_part("dev"), doctest::Contains("unknown split 'dev'"), Error);
}
