// The whole-report entry point, its JSON form and text table, and the overloads on agf::Tensor.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "metrics/class_table.h"
#include "metrics/metrics_json.h"
#include "metrics/report.h"
#include "metrics/tensor_input.h"
#include "metrics_test_util.h"

using namespace agf::metrics;
using namespace agf::metrics::test;
using nlohmann::json;

namespace {

constexpr double kExact = 1e-15;

// Labels / scores of four records, three classes (IAVB has no positive label):
//   AF   : 1 0 1 0 / .9 .4 .6 .1   perfect: AUROC 1, AP 1; calls at .5: 1 0 1 0: F1 = F2 = G2 = 1.
//   IAVB : 0 0 0 0 / .2 .1 .7 .3   AUROC, AP undefined; calls 0 0 1 0: FP 1: F1 = F2 = G2 = 0.
//   LBBB : 0 1 1 0 / .3 .8 .2 .5   + .8 beats both -, + .2 neither: AUROC 2/4; AP .8 (+, R 1/2 P 1) then .2 (+, R 1,
//          P 2/4): 1/2 + 1/4 = 3/4; calls 0 1 0 1: TP 1 FP 1 FN 1: F1 2/4, F2 5/10, G2 1/4.
const std::vector<uint8_t> kLabels = {1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0};
const std::vector<double> kScores = {0.9, 0.2, 0.3, 0.4, 0.1, 0.8, 0.6, 0.7, 0.2, 0.1, 0.3, 0.5};
const std::vector<double> kThresholds = {0.5, 0.5, 0.5};
const std::vector<std::string> kNames = {"AF", "IAVB", "LBBB"};

MetricsReport small_report() {
  return evaluate(LabelView(kLabels, 4, 3), ScoreView(kScores, 4, 3), kThresholds, kNames);
}

}  // namespace

TEST_CASE("report: evaluate, hand-worked") {
  const MetricsReport r = small_report();
  CHECK(r.ranking.auroc[0] == 1.0);
  CHECK(std::isnan(r.ranking.auroc[1]));
  CHECK(r.ranking.auroc[2] == 0.5);
  CHECK(r.ranking.average_precision[2] == 0.75);
  CHECK(r.ranking.macro_auroc.value == 0.75);
  CHECK(r.ranking.mean_average_precision.value == 0.875);
  CHECK(r.at_thresholds.f2[2] == 0.5);
  CHECK(r.at_thresholds.g2[2] == 0.25);
  CHECK(std::fabs(r.at_thresholds.macro_g2.value - 1.25 / 3.0) <= kExact);
  // Calls 100 / 001 / 110 / 001 against labels 100 / 001 / 101 / 000: 3 wrong cells of 12; records 0, 1 exact.
  CHECK(r.at_thresholds.hamming_loss == 0.25);
  CHECK(r.at_thresholds.subset_accuracy == 0.5);
  // Ranking loss: only record 2 has a wrong pair, both of its (positive, negative) pairs (IAVB .7 above AF .6 and
  // LBBB .2): 1, mean 1/4. Coverage: 1, 1, 3 (its lowest positive .2 is last), 0 (no positive): 5/4.
  CHECK(r.label_ranking_loss == 0.25);
  CHECK(r.coverage_error == 1.25);
  CHECK_THROWS_WITH_AS(evaluate(LabelView(kLabels, 4, 3), ScoreView(kScores, 4, 3), kThresholds, {"AF"}),
                       doctest::Contains("1 class names for 3 classes"), agf::Error);
  CHECK(evaluate(LabelView(kLabels, 4, 3), ScoreView(kScores, 4, 3), kThresholds).classes ==
        std::vector<std::string>{"0", "1", "2"});
}

TEST_CASE("report: JSON form, undefined values as null") {
  const json j = to_json(small_report());
  REQUIRE(j["classes"].size() == 3);
  CHECK(j["classes"][0]["class"] == "AF");
  CHECK(j["classes"][0]["auroc"] == 1.0);
  CHECK(j["classes"][1]["auroc"].is_null());
  CHECK(j["classes"][1]["average_precision"].is_null());
  CHECK(j["classes"][1]["n_positive"] == 0);
  CHECK(j["classes"][1]["fp"] == 1);
  CHECK(j["classes"][2]["g2"] == 0.25);
  CHECK(j["classes"][2]["threshold"] == 0.5);
  CHECK(j["macro"]["auroc"]["value"] == 0.75);
  CHECK(j["macro"]["auroc"]["classes_left_out"] == 1);
  CHECK(j["macro"]["map"]["value"] == 0.875);
  CHECK(j["macro"]["f1"]["classes_left_out"] == 0);
  CHECK(j["hamming_loss"] == 0.25);
  CHECK(j["coverage_error"] == 1.25);
  // The dump is valid JSON: no NaN token anywhere.
  CHECK(j.dump().find("NaN") == std::string::npos);
  CHECK(json::parse(j.dump()) == j);

  const json rk = to_json(small_report().ranking);
  CHECK(rk["auroc"][1].is_null());
  CHECK(rk["map"]["classes_used"] == 2);
  const json choices = to_json(std::vector<ThresholdChoice>{{0.3, 0.8, false}, {0.5, kUndefined, true}});
  CHECK(choices[1]["f_beta"].is_null());
  CHECK(choices[1]["fallback"] == true);

  // The Challenge evaluation: a class with no positive label has null AUROC/AUPRC.
  const ChallengeClasses classes({"426783006", "164889003"}, {1.0, 0.0, 0.0, 1.0});
  const std::vector<uint8_t> y = {1, 0, 1, 0};
  const std::vector<double> s = {0.9, 0.1, 0.4, 0.3};
  const json c = to_json(evaluate_challenge(classes, LabelView(y, 2, 2), LabelView(y, 2, 2), ScoreView(s, 2, 2)));
  CHECK(c["per_class"]["auroc"][1].is_null());
  CHECK(c["auroc"]["classes_left_out"] == 2);  // NSR has no negative label: undefined too
  CHECK(c["auroc"]["value"].is_null());
  CHECK(c["accuracy"] == 1.0);
  CHECK(c["challenge_score"] == 0.0);  // every label is NSR: correct == inactive
  CHECK(c["records"] == 2);
}

TEST_CASE("report: the per-class text table") {
  const std::string table = format_class_table(small_report());
  const std::string expected =
      "class  n_pos   AUROC      AP threshold      F1      F2      G2\n"
      "AF         2  1.0000  1.0000    0.5000  1.0000  1.0000  1.0000\n"
      "IAVB       0       -       -    0.5000  0.0000  0.0000  0.0000\n"
      "LBBB       2  0.5000  0.7500    0.5000  0.5000  0.5000  0.2500\n"
      "macro         0.7500  0.8750            0.5000  0.5000  0.4167\n"
      "left out of the macro means (undefined): AUROC 1, AP 1, F1 0, F2 0, G2 0 of 3 classes\n"
      "hamming loss 0.2500  subset accuracy 0.5000  ranking loss 0.2500  coverage error 1.2500\n";
  CHECK(table == expected);
}

TEST_CASE("report: Tensor inputs give the plain-array results") {
  const agf::Tensor labels_u8 = agf::from_vector<uint8_t>(kLabels, {4, 3});
  const agf::Tensor scores_f64 = agf::from_vector<double>(kScores, {4, 3});
  std::vector<float> labels_f(kLabels.begin(), kLabels.end());
  std::vector<float> scores_f(kScores.begin(), kScores.end());
  const agf::Tensor labels_f32 = agf::from_vector<float>(labels_f, {4, 3});
  const agf::Tensor scores_f32 = agf::from_vector<float>(scores_f, {4, 3});

  const json plain = to_json(small_report());
  CHECK(to_json(evaluate(labels_u8, scores_f64, kThresholds, kNames)) == plain);
  // f32 scores round differently but rank and threshold the same way here.
  const MetricsReport r32 = evaluate(labels_f32, scores_f32, kThresholds, kNames);
  CHECK(to_json(r32.ranking) == to_json(small_report().ranking));
  CHECK(to_json(r32.at_thresholds) == to_json(small_report().at_thresholds));
  // A transposed (non-contiguous) view is read in its logical order.
  const agf::Tensor transposed = agf::from_vector<double>(
      {0.9, 0.4, 0.6, 0.1, 0.2, 0.1, 0.7, 0.3, 0.3, 0.8, 0.2, 0.5}, {3, 4}).transpose(0, 1);
  CHECK(to_json(ranking_metrics(labels_u8, transposed)) == to_json(small_report().ranking));

  CHECK_THROWS_WITH_AS(labels_from_tensor(agf::from_vector<float>({0.f, 0.5f}, {1, 2})),
                       doctest::Contains("is 0.5; labels must be 0 or 1"), agf::Error);
  CHECK_THROWS_WITH_AS(scores_from_tensor(agf::from_vector<double>({0.1, 0.2}, {2})),
                       doctest::Contains("scores must be (records, classes)"), agf::Error);
  CHECK_THROWS_WITH_AS(scores_from_tensor(agf::from_vector<int64_t>({1, 2}, {1, 2})),
                       doctest::Contains("scores must be f32 or f64"), agf::Error);
}
