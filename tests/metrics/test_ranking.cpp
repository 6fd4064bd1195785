// Ranking metrics: AUROC, average precision, mAP, label ranking loss, coverage error; hand-worked cases and
// scikit-learn's values on random cases (tests/golden/metrics, tools/golden/make_metrics_golden.py).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "metrics/ranking.h"
#include "metrics/record_metrics.h"
#include "metrics_test_util.h"

using namespace agf::metrics;
using namespace agf::metrics::test;

namespace {

// A hand-worked value computed in a different order differs by a few ulp at most.
constexpr double kExact = 1e-15;
// scikit-learn sums the same terms in another order (trapezoids, cumulative sums): values of order 1 agree to
// ~1e-15; 1e-12 leaves room for that and nothing more.
constexpr double kSklearn = 1e-12;

}  // namespace

TEST_CASE("ranking: AUROC and AP of hand-worked small cases") {
  // scikit-learn's documented example: scores 0.1 0.4 0.35 0.8, labels 0 0 1 1.
  // AUROC: positive 0.35 beats 0.1 only (1 of 2), positive 0.8 beats both (2 of 2): 3/4.
  // AP: highest first 0.8 (+, R 1/2, P 1), 0.4 (-), 0.35 (+, R 1, P 2/3), 0.1 (-): 1/2 * 1 + 1/2 * 2/3 = 5/6.
  const std::vector<double> s = {0.1, 0.4, 0.35, 0.8};
  const std::vector<uint8_t> y = {0, 0, 1, 1};
  CHECK(std::fabs(auroc(s, y) - 0.75) <= kExact);
  CHECK(std::fabs(average_precision(s, y) - 5.0 / 6.0) <= kExact);

  // Ties: scores 0.5 0.5 0.5 0.2, labels 1 0 1 0. Each positive ties one negative (1/2) and beats 0.2 (1): AUROC =
  // (1.5 + 1.5) / 4 = 3/4. The tie group enters at once: R 1, P 2/3, so AP = 2/3 (not 1/2 * 1 + 1/2 * 2/3, which a
  // positive-first order within the tie would give).
  const std::vector<double> st = {0.5, 0.5, 0.5, 0.2};
  const std::vector<uint8_t> yt = {1, 0, 1, 0};
  CHECK(std::fabs(auroc(st, yt) - 0.75) <= kExact);
  CHECK(std::fabs(average_precision(st, yt) - 2.0 / 3.0) <= kExact);

  // Perfect and inverted rankings: AUROC 1 and 0; AP 1, and for the inverted one (- 0.9, + 0.1) R 1 at P 1/2.
  CHECK(auroc(std::vector<double>{0.9, 0.1}, std::vector<uint8_t>{1, 0}) == 1.0);
  CHECK(auroc(std::vector<double>{0.9, 0.1}, std::vector<uint8_t>{0, 1}) == 0.0);
  CHECK(average_precision(std::vector<double>{0.9, 0.1}, std::vector<uint8_t>{1, 0}) == 1.0);
  CHECK(average_precision(std::vector<double>{0.9, 0.1}, std::vector<uint8_t>{0, 1}) == 0.5);
  // All scores tied: AUROC 1/2, AP the prevalence (1/3).
  CHECK(auroc(std::vector<double>{3, 3, 3}, std::vector<uint8_t>{1, 0, 0}) == 0.5);
  CHECK(std::fabs(average_precision(std::vector<double>{3, 3, 3}, std::vector<uint8_t>{1, 0, 0}) - 1.0 / 3.0) <=
        kExact);
}

TEST_CASE("ranking: a class with one label value is undefined and left out of the macro means") {
  const std::vector<double> s = {0.2, 0.9, 0.4};
  CHECK(std::isnan(auroc(s, std::vector<uint8_t>{0, 0, 0})));
  CHECK(std::isnan(auroc(s, std::vector<uint8_t>{1, 1, 1})));
  CHECK(std::isnan(average_precision(s, std::vector<uint8_t>{0, 0, 0})));
  CHECK(std::isnan(average_precision(s, std::vector<uint8_t>{1, 1, 1})));

  // Columns: a perfect class (AUROC 1, AP 1), an all-negative one, an inverted one (AUROC 0, AP: - 0.8, + 0.6,
  // + 0.1: R 1/2 at P 1/2, R 1 at P 2/3: 1/4 + 1/3 = 7/12).
  const std::vector<uint8_t> y = {1, 0, 0,  //
                                  0, 0, 1,  //
                                  0, 0, 1};
  const std::vector<double> sc = {0.9, 0.5, 0.8,  //
                                  0.3, 0.4, 0.6,  //
                                  0.1, 0.2, 0.1};
  const RankingMetrics m = ranking_metrics(LabelView(y, 3, 3), ScoreView(sc, 3, 3));
  CHECK(m.n_positive == std::vector<int64_t>{1, 0, 2});
  CHECK(m.n_negative == std::vector<int64_t>{2, 3, 1});
  CHECK(m.auroc[0] == 1.0);
  CHECK(std::isnan(m.auroc[1]));
  CHECK(m.auroc[2] == 0.0);
  CHECK(std::fabs(m.average_precision[2] - 7.0 / 12.0) <= kExact);
  CHECK(m.macro_auroc.value == 0.5);
  CHECK(m.macro_auroc.classes_used == 2);
  CHECK(m.macro_auroc.classes_left_out == 1);
  CHECK(std::fabs(m.mean_average_precision.value - (1.0 + 7.0 / 12.0) / 2.0) <= kExact);
  CHECK(m.mean_average_precision.classes_left_out == 1);

  // Nothing defined: NaN, everything left out.
  const MacroMean none = macro_mean(std::vector<double>{NAN, NAN});
  CHECK(std::isnan(none.value));
  CHECK(none.classes_used == 0);
  CHECK(none.classes_left_out == 2);
}

TEST_CASE("ranking: AUROC, AP and mAP equal scikit-learn's on random cases with ties") {
  for (const auto& c : golden()["sklearn_cases"]) {
    INFO("case " << c["name"].get<std::string>());
    const auto y = label_matrix(c["labels"]);
    const auto s = score_matrix(c["scores"]);
    const RankingMetrics m = ranking_metrics(y.view(), s.view());
    CHECK_ALL_SAME(m.auroc, numbers(c["auroc"]), kSklearn);
    CHECK_ALL_SAME(m.average_precision, numbers(c["average_precision"]), kSklearn);
    CHECK(same(m.macro_auroc.value, number(c["macro_auroc"]), kSklearn));
    CHECK(same(m.mean_average_precision.value, number(c["map"]), kSklearn));
    int64_t undefined = 0;
    for (const auto& a : c["auroc"]) undefined += a.is_null();
    CHECK(m.macro_auroc.classes_left_out == undefined);
    CHECK(m.mean_average_precision.classes_left_out == undefined);
  }
  // The tie case holds an all-negative and an all-positive class, both undefined.
  const auto& ties = golden()["sklearn_cases"][0];
  CHECK(ties["auroc"][3].is_null());
  CHECK(ties["auroc"][4].is_null());
}

TEST_CASE("ranking: label ranking loss and coverage error, hand-worked") {
  // scikit-learn's documented example: labels [1 0 0] [0 0 1], scores [.75 .5 1] [1 .2 .1].
  // Ranking loss: record 1 has its positive (.75) below one of its two negatives (1): 1/2; record 2's positive
  // (.1) is below both negatives: 1. Mean 3/4. Coverage: record 1 needs the top 2 to reach .75; record 2 all 3:
  // mean 2.5.
  const std::vector<uint8_t> y = {1, 0, 0, 0, 0, 1};
  const std::vector<double> s = {0.75, 0.5, 1.0, 1.0, 0.2, 0.1};
  CHECK(std::fabs(label_ranking_loss(LabelView(y, 2, 3), ScoreView(s, 2, 3)) - 0.75) <= kExact);
  CHECK(std::fabs(coverage_error(LabelView(y, 2, 3), ScoreView(s, 2, 3)) - 2.5) <= kExact);

  // Ties count against: labels [0 1 0], scores [.5 .5 .1]: the negative tied with the positive is a wrong pair
  // (1 of 2 pairs), and coverage counts both tied classes (2).
  const std::vector<uint8_t> yt = {0, 1, 0};
  const std::vector<double> st = {0.5, 0.5, 0.1};
  CHECK(label_ranking_loss(LabelView(yt, 1, 3), ScoreView(st, 1, 3)) == 0.5);
  CHECK(coverage_error(LabelView(yt, 1, 3), ScoreView(st, 1, 3)) == 2.0);

  // A record with no positive or only positives: loss 0, still counted; coverage 0 and K.
  const std::vector<uint8_t> ye = {0, 0, 0, 1, 1, 1};
  const std::vector<double> se = {0.3, 0.2, 0.1, 0.3, 0.2, 0.1};
  CHECK(label_ranking_loss(LabelView(ye, 2, 3), ScoreView(se, 2, 3)) == 0.0);
  CHECK(coverage_error(LabelView(ye, 2, 3), ScoreView(se, 2, 3)) == 1.5);  // (0 + 3) / 2
}

TEST_CASE("ranking: label ranking loss and coverage error equal scikit-learn's") {
  for (const auto& c : golden()["sklearn_cases"]) {
    INFO("case " << c["name"].get<std::string>());
    const auto y = label_matrix(c["labels"]);
    const auto s = score_matrix(c["scores"]);
    CHECK(same(label_ranking_loss(y.view(), s.view()), c["label_ranking_loss"].get<double>(), kSklearn));
    CHECK(same(coverage_error(y.view(), s.view()), c["coverage_error"].get<double>(), kSklearn));
  }
}

TEST_CASE("ranking: bad inputs are refused with a message that names them") {
  const std::vector<double> s = {0.1, 0.2};
  CHECK_THROWS_WITH_AS(auroc(s, std::vector<uint8_t>{1, 2}), doctest::Contains("label of record 1 is 2"),
                       agf::Error);
  CHECK_THROWS_WITH_AS(average_precision(std::vector<double>{0.1, NAN}, std::vector<uint8_t>{1, 0}),
                       doctest::Contains("score of record 1 is nan"), agf::Error);
  CHECK_THROWS_WITH_AS(auroc(s, std::vector<uint8_t>{1}), doctest::Contains("2 scores but 1 labels"), agf::Error);
  CHECK_THROWS_WITH_AS(auroc(std::vector<double>{}, std::vector<uint8_t>{}), doctest::Contains("no records"),
                       agf::Error);
  const std::vector<uint8_t> y = {1, 0, 0, 1};
  const std::vector<double> s3 = {0.1, 0.2, 0.3};
  CHECK_THROWS_WITH_AS(ScoreView(s3, 2, 2), doctest::Contains("needs 4 values, got 3"), agf::Error);
  const std::vector<double> s6 = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6};
  CHECK_THROWS_WITH_AS(ranking_metrics(LabelView(y, 2, 2), ScoreView(s6, 2, 3)),
                       doctest::Contains("labels are (2, 2) but scores are (2, 3)"), agf::Error);
  CHECK_THROWS_WITH_AS(coverage_error(LabelView(y, 2, 2), ScoreView(std::vector<double>{0, 1, INFINITY, 0}, 2, 2)),
                       doctest::Contains("score of record 1 class 0 is inf"), agf::Error);
}
