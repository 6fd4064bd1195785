// Metrics at per-class thresholds (F1, F2, G2, Hamming loss, subset accuracy) and the F2 threshold search.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "metrics/threshold_metrics.h"
#include "metrics/threshold_search.h"
#include "metrics_test_util.h"

using namespace agf::metrics;
using namespace agf::metrics::test;

namespace {

constexpr double kExact = 1e-15;    // one division's rounding, compared with a hand-worked rational
constexpr double kSklearn = 1e-12;  // scikit-learn's ratios and means, summed in its own order

// F2 of calling positive every score >= t, counted directly: the brute-force reference of the search.
double f2_at(const std::vector<double>& s, const std::vector<uint8_t>& y, double t) {
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool call = s[i] >= t;
    tp += call && y[i];
    fp += call && !y[i];
    fn += !call && y[i];
  }
  return tp + fp + fn == 0 ? 0.0 : 5.0 * tp / (5.0 * tp + 4.0 * fn + fp);
}

}  // namespace

TEST_CASE("thresholds: F-beta and G-beta of a confusion, hand-worked") {
  const Confusion c{3, 1, 2, 4};  // tp fp fn tn
  // F1 = 2*3 / (2*3 + 1 + 2) = 6/9; F2 = 5*3 / (5*3 + 4*2 + 1) = 15/24; G2 = 3 / (3 + 1 + 2*2) = 3/8.
  CHECK(std::fabs(f_beta(c, 1.0) - 2.0 / 3.0) <= kExact);
  CHECK(f_beta(c, 2.0) == 0.625);
  CHECK(g_beta(c, 2.0) == 0.375);
  // No true positive but errors: 0. Nothing labelled and nothing called: undefined.
  CHECK(f_beta(Confusion{0, 2, 1, 5}, 2.0) == 0.0);
  CHECK(g_beta(Confusion{0, 2, 1, 5}, 2.0) == 0.0);
  CHECK(std::isnan(f_beta(Confusion{0, 0, 0, 7}, 1.0)));
  CHECK(std::isnan(g_beta(Confusion{0, 0, 0, 7}, 2.0)));
  CHECK_THROWS_WITH_AS(f_beta(c, 0.0), doctest::Contains("beta must be positive"), agf::Error);

  const Confusion counted = confusion(std::vector<uint8_t>{1, 1, 0, 0, 1}, std::vector<uint8_t>{1, 0, 1, 0, 1});
  CHECK(counted.tp == 2);
  CHECK(counted.fp == 1);
  CHECK(counted.fn == 1);
  CHECK(counted.tn == 1);
}

TEST_CASE("thresholds: metrics at thresholds, hand-worked") {
  // Two classes, three records; thresholds 0.5 and 0.3. Calls: class 0 (.6 .5 .2) -> 1 1 0; class 1 (.1 .3 .2)
  // -> 0 1 0. Labels: class 0 1 0 0, class 1 0 0 0 (empty of positives).
  // Class 0: tp 1, fp 1, fn 0: F1 2/3, F2 5/6, G2 1/2. Class 1: tp 0, fp 1, fn 0: F1 = F2 = G2 = 0.
  // Hamming: wrong cells (r1,c0) and (r1,c1) = 2 of 6. Subset accuracy: records 0 and 2 right: 2/3.
  const std::vector<uint8_t> y = {1, 0, 0, 0, 0, 0};
  const std::vector<double> s = {0.6, 0.1, 0.5, 0.3, 0.2, 0.2};
  const std::vector<double> t = {0.5, 0.3};
  const ThresholdMetrics m = threshold_metrics(LabelView(y, 3, 2), ScoreView(s, 3, 2), t);
  CHECK(std::fabs(m.f1[0] - 2.0 / 3.0) <= kExact);
  CHECK(std::fabs(m.f2[0] - 5.0 / 6.0) <= kExact);
  CHECK(m.g2[0] == 0.5);
  CHECK(m.f1[1] == 0.0);
  CHECK(m.g2[1] == 0.0);
  CHECK(std::fabs(m.macro_f1.value - 1.0 / 3.0) <= kExact);
  CHECK(std::fabs(m.hamming_loss - 1.0 / 3.0) <= kExact);
  CHECK(std::fabs(m.subset_accuracy - 2.0 / 3.0) <= kExact);

  // With class 1's threshold above every score it is empty (no label, no call): undefined and left out.
  const std::vector<double> t_high = {0.5, 0.9};
  const ThresholdMetrics e = threshold_metrics(LabelView(y, 3, 2), ScoreView(s, 3, 2), t_high);
  CHECK(std::isnan(e.f1[1]));
  CHECK(std::isnan(e.f2[1]));
  CHECK(std::isnan(e.g2[1]));
  CHECK(std::fabs(e.macro_f2.value - 5.0 / 6.0) <= kExact);
  CHECK(e.macro_f2.classes_left_out == 1);

  CHECK_THROWS_WITH_AS(threshold_metrics(LabelView(y, 3, 2), ScoreView(s, 3, 2), std::vector<double>{0.5}),
                       doctest::Contains("1 thresholds for 2 classes"), agf::Error);
}

TEST_CASE("thresholds: F1, F2, G2, Hamming loss and subset accuracy equal scikit-learn's") {
  for (const auto& c : golden()["sklearn_cases"]) {
    INFO("case " << c["name"].get<std::string>());
    const auto y = label_matrix(c["labels"]);
    const auto s = score_matrix(c["scores"]);
    const std::vector<double> t = numbers(c["thresholds"]);
    const ThresholdMetrics m = threshold_metrics(y.view(), s.view(), t);
    CHECK_ALL_SAME(m.f1, numbers(c["f1"]), kSklearn);
    CHECK_ALL_SAME(m.f2, numbers(c["f2"]), kSklearn);
    CHECK_ALL_SAME(m.g2, numbers(c["g2"]), kSklearn);
    CHECK(same(m.macro_f1.value, number(c["macro_f1"]), kSklearn));
    CHECK(same(m.macro_f2.value, number(c["macro_f2"]), kSklearn));
    CHECK(same(m.macro_g2.value, number(c["macro_g2"]), kSklearn));
    CHECK(same(m.hamming_loss, c["hamming_loss"].get<double>(), kSklearn));
    CHECK(same(m.subset_accuracy, c["subset_accuracy"].get<double>(), kSklearn));
  }
  // The tie case's class 3 has no positive and a threshold above every score: the empty class, null in sklearn
  // with zero_division=nan.
  CHECK(golden()["sklearn_cases"][0]["f1"][3].is_null());
}

TEST_CASE("thresholds: the search picks the threshold of best F2, hand-worked") {
  // Scores .9 .8 .7 .6 .5 .4 with labels + - + - - +. F2 = 5TP / (5TP + 4FN + FP) at each distinct score:
  // .9: 5/13, .8: 5/14, .7: 10/15, .6: 10/16, .5: 10/17, .4: 15/18 (every positive called). Best: .4, 5/6.
  const std::vector<double> s = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
  const std::vector<uint8_t> y = {1, 0, 1, 0, 0, 1};
  const ThresholdChoice c = best_threshold(s, y);
  CHECK(c.threshold == 0.4);
  CHECK(std::fabs(c.f_beta - 5.0 / 6.0) <= kExact);
  CHECK_FALSE(c.fallback);

  // Equal best F2 at two thresholds: + at .9, eight - between, + at .1. At .9: 5/(5+4) = 5/9; at .1: 10/(10+8) =
  // 5/9 exactly (both round the same rational). The higher threshold wins.
  const std::vector<double> s2 = {0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.3, 0.2, 0.1};
  const std::vector<uint8_t> y2 = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const ThresholdChoice c2 = best_threshold(s2, y2);
  CHECK(c2.threshold == 0.9);
  CHECK(c2.f_beta == 5.0 / 9.0);

  // Ties in scores fall on the same side: + - at .7 (tied), + at .2. At .7: TP 1 FP 1 FN 1: 5/10; at .2: TP 2,
  // FP 1: 10/11. The tie group cannot be split to call the + alone.
  const ThresholdChoice c3 = best_threshold(std::vector<double>{0.7, 0.7, 0.2}, std::vector<uint8_t>{1, 0, 1});
  CHECK(c3.threshold == 0.2);
  CHECK(std::fabs(c3.f_beta - 10.0 / 11.0) <= kExact);

  // No positive in validation: the default 0.5, flagged; every record positive: the lowest score.
  const ThresholdChoice none = best_threshold(std::vector<double>{0.2, 0.9}, std::vector<uint8_t>{0, 0});
  CHECK(none.threshold == 0.5);
  CHECK(none.fallback);
  CHECK(std::isnan(none.f_beta));
  CHECK(best_threshold(std::vector<double>{0.2, 0.9}, std::vector<uint8_t>{0, 0}, 2.0, 0.7).threshold == 0.7);
  CHECK(best_threshold(std::vector<double>{0.6, 0.3, 0.8}, std::vector<uint8_t>{1, 1, 1}).threshold == 0.3);
}

TEST_CASE("thresholds: the chosen threshold maximises F2 against a brute-force sweep") {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> grid(0, 20);
  std::bernoulli_distribution positive(0.3);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 10 + 7 * trial;
    std::vector<double> s(static_cast<size_t>(n));
    std::vector<uint8_t> y(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      y[i] = positive(rng);
      s[i] = std::min(1.0, grid(rng) / 20.0 + (y[i] ? 0.2 : 0.0));  // informative, on a grid: ties
    }
    y[0] = 1;
    const ThresholdChoice c = best_threshold(s, y);
    // Every threshold that can change a call: each distinct score, the midpoints between them, and beyond both
    // ends.
    std::set<double> distinct(s.begin(), s.end());
    std::vector<double> candidates(distinct.begin(), distinct.end());
    for (size_t i = 0; i + 1 < distinct.size(); ++i) candidates.push_back(0.5 * (candidates[i] + candidates[i + 1]));
    candidates.push_back(*distinct.begin() - 1.0);
    candidates.push_back(*distinct.rbegin() + 1.0);
    double best = -1.0, highest_best = -INFINITY;
    for (double t : candidates) best = std::max(best, f2_at(s, y, t));
    for (double t : distinct)
      if (std::fabs(f2_at(s, y, t) - best) <= kExact) highest_best = std::max(highest_best, t);
    INFO("trial " << trial);
    CHECK(distinct.count(c.threshold) == 1);
    CHECK(std::fabs(c.f_beta - best) <= kExact);
    CHECK(std::fabs(f2_at(s, y, c.threshold) - best) <= kExact);
    CHECK(c.threshold == highest_best);
  }
}

TEST_CASE("thresholds: choose_thresholds per class, with the fallback for a class without positives") {
  // Class 0: + at .8, - at .6, + at .3 -> .8: 5/9, .6: 5/10, .3: 10/11: picks .3. Class 1: no positive: 0.5.
  const std::vector<uint8_t> y = {1, 0, 0, 0, 1, 0};
  const std::vector<double> s = {0.8, 0.1, 0.6, 0.9, 0.3, 0.4};
  const auto choices = choose_thresholds(LabelView(y, 3, 2), ScoreView(s, 3, 2));
  REQUIRE(choices.size() == 2);
  CHECK(choices[0].threshold == 0.3);
  CHECK_FALSE(choices[0].fallback);
  CHECK(choices[1].threshold == kDefaultThreshold);
  CHECK(choices[1].fallback);
  CHECK(thresholds_of(choices) == std::vector<double>{0.3, 0.5});
}
