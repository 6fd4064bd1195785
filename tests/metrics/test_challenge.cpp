// The official PhysioNet/CinC Challenge 2021 scoring: a hand-worked case, the mapping of codes onto classes, and a
// random case with the project's 26-class weights against a Python re-implementation of the official algorithm
// (tests/golden/metrics, tools/golden/make_metrics_golden.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/challenge_evaluation.h"
#include "metrics/ranking.h"
#include "metrics_test_util.h"

using namespace agf::metrics;
using namespace agf::metrics::test;

namespace {

constexpr double kExact = 1e-15;  // a hand-worked rational against a few float64 operations on values <= 1
// The Python reference sums the same terms in another order (numpy's pairwise sums): relative 1e-12.
double official_tol(double want) { return 1e-12 * std::max(1.0, std::fabs(want)); }

// Classes of the hand-worked case: AF, CRBBB|RBBB (scored as one class), NSR (the normal class), IAVB.
const std::vector<std::string> kKeys = {"164889003", "713427006|59118001", "426783006", "10370003"};
// Row = labelled class, column = output class.
const std::vector<double> kWeights = {1.0,  0.5, 0.0, 0.25,  //
                                      0.5,  1.0, 0.0, 0.5,   //
                                      0.0,  0.0, 1.0, 0.5,   //
                                      0.25, 0.5, 0.5, 1.0};

std::vector<ChallengeRecord> hand_worked_records(const ChallengeClasses& classes) {
  using S = std::vector<std::string>;
  using O = std::vector<ChallengeOutput>;
  std::vector<ChallengeRecord> r;
  // 1: labelled 713427006 (CRBBB), output 59118001 (RBBB): the same class, a correct call.
  r.push_back(challenge_record(classes, S{"713427006"},
                               O{{"59118001", true, 0.9}, {"164889003", false, 0.2}, {"426783006", false, 0.1},
                                 {"10370003", false, 0.3}}));
  // 2: AF plus the unscored 251187003, in both labels and outputs (ignored); outputs AF and NSR.
  r.push_back(challenge_record(classes, S{"164889003", "251187003"},
                               O{{"164889003", true, 0.8}, {"251187003", true, 0.7}, {"426783006", true, 0.6},
                                 {"59118001", false, 0.4}}));
  // 3: NSR, no positive output; IAVB's scalar is NaN (counts as 0).
  r.push_back(challenge_record(classes, S{"426783006"},
                               O{{"164889003", false, 0.4}, {"426783006", false, 0.45}, {"10370003", false, NAN}}));
  // 4: AF and CRBBB; outputs AF and IAVB; CRBBB|RBBB has two columns (scalar .5 and .3: mean .4, binary any = 0).
  r.push_back(challenge_record(classes, S{"164889003", "713427006"},
                               O{{"164889003", true, 0.7}, {"713427006", false, 0.5}, {"59118001", false, 0.3},
                                 {"10370003", true, 0.5}}));
  return r;
}

double parse_scalar(const nlohmann::json& j) {
  if (j.is_number()) return j.get<double>();
  const std::string s = j.get<std::string>();
  if (s == "nan") return NAN;
  if (s == "inf") return INFINITY;
  REQUIRE(s == "-inf");
  return -INFINITY;
}

}  // namespace

TEST_CASE("challenge: codes map onto classes; equivalent and unscored codes") {
  const ChallengeClasses classes(kKeys, kWeights);
  CHECK(classes.size() == 4);
  CHECK(classes.normal_index() == 2);
  CHECK(classes.class_of_code("59118001") == 1);
  CHECK(classes.class_of_code("713427006") == 1);
  CHECK_FALSE(classes.class_of_code("251187003").has_value());
  CHECK(classes.weight(3, 0) == 0.25);

  const auto records = hand_worked_records(classes);
  CHECK(records[0].labels == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(records[0].binary == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(records[1].labels == std::vector<uint8_t>{1, 0, 0, 0});
  CHECK(records[1].binary == std::vector<uint8_t>{1, 0, 1, 0});
  CHECK(records[1].scalar == std::vector<double>{0.8, 0.4, 0.6, 0.0});  // IAVB: no column, 0
  CHECK(records[2].binary == std::vector<uint8_t>{0, 0, 0, 0});
  CHECK(records[2].scalar == std::vector<double>{0.4, 0.0, 0.45, 0.0});
  CHECK(records[3].labels == std::vector<uint8_t>{1, 1, 0, 0});
  CHECK(records[3].binary == std::vector<uint8_t>{1, 0, 0, 1});
  CHECK(std::fabs(records[3].scalar[1] - 0.4) <= kExact);

  // A column named by a joined key counts for its class; outputs given in class order are taken as they are,
  // non-finite scalars becoming 0.
  const ChallengeRecord joined =
      challenge_record(classes, std::vector<std::string>{}, std::vector<ChallengeOutput>{{"713427006|59118001", true, 0.7}});
  CHECK(joined.binary == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(joined.scalar[1] == 0.7);
  const ChallengeRecord ordered = challenge_record(classes, std::vector<std::string>{"59118001"},
                                                   std::vector<uint8_t>{0, 1, 0, 0}, std::vector<double>{0.1, INFINITY, NAN, 0.2});
  CHECK(ordered.labels == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(ordered.scalar == std::vector<double>{0.1, 0.0, 0.0, 0.2});

  // Refusals: wrong weight count, a code in two classes, a normal class the keys lack.
  CHECK_THROWS_WITH_AS(ChallengeClasses(kKeys, std::vector<double>(15, 1.0)),
                       doctest::Contains("4 x 4 weight matrix (16 values), got 15"), agf::Error);
  CHECK_THROWS_WITH_AS(ChallengeClasses({"1|2", "2"}, std::vector<double>(4, 1.0), "1|2"),
                       doctest::Contains("code 2 is in class '1|2' and in class '2'"), agf::Error);
  CHECK_THROWS_WITH_AS(ChallengeClasses({"1", "2"}, std::vector<double>(4, 1.0)),
                       doctest::Contains("normal class '426783006' is not one of the 2 class keys"), agf::Error);
  // The normal class is matched as a set of codes.
  CHECK(ChallengeClasses({"7", "2|1"}, std::vector<double>(4, 1.0), "1|2").normal_index() == 1);
}

TEST_CASE("challenge: score, AUROC, AUPRC, accuracy and F-measure of a hand-worked case") {
  const ChallengeClasses classes(kKeys, kWeights);
  const auto records = hand_worked_records(classes);
  const ChallengeEvaluation e = evaluate_challenge(classes, records);

  // Modified confusion A (row label, column output), n = max(1, |labels ∪ outputs|) per record:
  //   1: {R} ∪ {R}, n 1: A[R,R] += 1.      2: {A} ∪ {A,N}, n 2: A[A,A] += 1/2, A[A,N] += 1/2.
  //   3: no output: nothing.               4: {A,R} ∪ {A,P}, n 3: A[A,A], A[A,P], A[R,A], A[R,P] += 1/3.
  // observed = W[R,R] 1 + W[A,A] 5/6 + W[A,N] 1/2 + (W[A,P] + W[R,A] + W[R,P]) / 3
  //          = 1 + 5/6 + 0 + (0.25 + 0.5 + 0.5) / 3 = 1 + 5/6 + 5/12 = 2.25.
  // correct (outputs = labels): 1 + 1 + 1 + (W[A,A] + W[A,R] + W[R,A] + W[R,R]) / 2 = 3 + 3/2 = 4.5.
  // inactive (NSR alone): 1: W[R,N]/2 = 0; 2: W[A,N]/2 = 0; 3: W[N,N] = 1; 4: (W[A,N] + W[R,N])/3 = 0; total 1.
  // score = (2.25 - 1) / (4.5 - 1) = 5/14.
  CHECK(std::fabs(e.score.observed - 2.25) <= kExact);
  CHECK(std::fabs(e.score.correct - 4.5) <= kExact);
  CHECK(std::fabs(e.score.inactive - 1.0) <= kExact);
  CHECK(std::fabs(e.score.normalized - 5.0 / 14.0) <= kExact);

  // Accuracy: only record 1's outputs equal its labels: 1/4.
  CHECK(e.accuracy == 0.25);
  // F per class 2TP / (2TP + FP + FN): AF TP 2: 1; CRBBB TP 1 FN 1: 2/3; NSR FP 1 FN 1: 0; IAVB (no positive
  // label) FP 1: 0. Macro (1 + 2/3) / 4 = 5/12.
  CHECK(e.f_measure.per_class[0] == 1.0);
  CHECK(std::fabs(e.f_measure.per_class[1] - 2.0 / 3.0) <= kExact);
  CHECK(e.f_measure.per_class[2] == 0.0);
  CHECK(e.f_measure.per_class[3] == 0.0);
  CHECK(std::fabs(e.f_measure.macro.value - 5.0 / 12.0) <= kExact);

  // Scalar outputs (AF, CRBBB, NSR, IAVB): .2 .9 .1 .3 / .8 .4 .6 0 / .4 0 .45 0 / .7 .4 0 .5.
  // AF: positives .8 .7 above negatives .4 .2: AUROC 1, AUPRC 1.
  // CRBBB: + .9, - .4, + .4 (tie), - 0. Sweep: start (TPR 0, TNR 1); .9: TPR 1/2, TNR 1, PPV 1; .4: TPR 1,
  //   TNR 1/2, PPV 2/3; 0: TPR 1, TNR 0. AUROC = .5*.5*(1+1) + .5*.5*(1+.5) = 7/8; AUPRC = .5*1 + .5*2/3 = 5/6.
  // NSR: + .45 below - .6, above - .1 and - 0: AUROC 2/3; AUPRC: TPR reaches 1 at .45 with PPV 1/2: 1/2.
  // IAVB: no positive label: TPR is 0/0 at every point, so AUROC and AUPRC are NaN and left out.
  // Macro AUROC (1 + 7/8 + 2/3) / 3 = 61/72; macro AUPRC (1 + 5/6 + 1/2) / 3 = 7/9.
  CHECK(std::fabs(e.auc.auroc[0] - 1.0) <= kExact);
  CHECK(std::fabs(e.auc.auroc[1] - 7.0 / 8.0) <= kExact);
  CHECK(std::fabs(e.auc.auroc[2] - 2.0 / 3.0) <= kExact);
  CHECK(std::isnan(e.auc.auroc[3]));
  CHECK(std::fabs(e.auc.auprc[0] - 1.0) <= kExact);
  CHECK(std::fabs(e.auc.auprc[1] - 5.0 / 6.0) <= kExact);
  CHECK(std::fabs(e.auc.auprc[2] - 0.5) <= kExact);
  CHECK(std::isnan(e.auc.auprc[3]));
  CHECK(std::fabs(e.auc.macro_auroc.value - 61.0 / 72.0) <= kExact);
  CHECK(std::fabs(e.auc.macro_auprc.value - 7.0 / 9.0) <= kExact);
  CHECK(e.auc.macro_auroc.classes_left_out == 1);
}

TEST_CASE("challenge: the official conventions at the edges") {
  // Class 0 has no negative label: AUROC NaN (TNR 0/0), AUPRC 1. Class 1 has no label and no output: F NaN, left
  // out of the macro F. Every record predicts nothing: the F of class 0 is 0.
  const std::vector<uint8_t> y = {1, 0, 1, 0};
  const std::vector<uint8_t> none = {0, 0, 0, 0};
  const std::vector<double> s = {0.3, 0.1, 0.7, 0.1};
  const OfficialAuc auc = official_auc(LabelView(y, 2, 2), ScoreView(s, 2, 2));
  CHECK(std::isnan(auc.auroc[0]));
  CHECK(auc.auprc[0] == 1.0);
  CHECK(std::isnan(auc.auroc[1]));
  CHECK(std::isnan(auc.macro_auroc.value));  // no class defined: NaN, as the script's nanmean guard
  CHECK(auc.macro_auprc.value == 1.0);
  const OfficialFMeasure f = official_f_measure(LabelView(y, 2, 2), LabelView(none, 2, 2));
  CHECK(f.per_class[0] == 0.0);
  CHECK(std::isnan(f.per_class[1]));
  CHECK(f.macro.value == 0.0);
  CHECK(f.macro.classes_left_out == 1);

  // Every record labelled NSR alone: correct == inactive, so the script's score is 0 whatever the outputs.
  const ChallengeClasses classes(kKeys, kWeights);
  const std::vector<uint8_t> nsr = {0, 0, 1, 0, 0, 0, 1, 0};
  const std::vector<uint8_t> af = {1, 0, 0, 0, 1, 0, 0, 0};
  const ChallengeScore sc = challenge_score(classes, LabelView(nsr, 2, 4), LabelView(af, 2, 4));
  CHECK(sc.correct == sc.inactive);
  CHECK(sc.normalized == 0.0);
}

TEST_CASE("challenge: a random case with the 26-class weights equals the official algorithm (Python)") {
  const auto& g = golden()["challenge"];
  const auto keys = g["classes"].get<std::vector<std::string>>();
  const auto weights = g["weights"].get<std::vector<double>>();
  REQUIRE(keys.size() == 26);

  // The golden weights are the project's own table (data/labels/challenge2021_weights.csv).
  std::ifstream csv(source_root() / "data" / "labels" / "challenge2021_weights.csv");
  REQUIRE(csv.good());
  std::string line;
  std::getline(csv, line);
  std::vector<double> from_csv;
  for (size_t row = 0; std::getline(csv, line) && !line.empty(); ++row) {
    std::stringstream cells(line);
    std::string cell;
    std::getline(cells, cell, ',');
    CHECK(cell == keys[row]);
    while (std::getline(cells, cell, ',')) from_csv.push_back(std::stod(cell));
  }
  CHECK(from_csv == weights);

  const ChallengeClasses classes(keys, weights, g["normal"].get<std::string>());
  std::vector<ChallengeRecord> records;
  for (const auto& r : g["records"]) {
    std::vector<ChallengeOutput> outputs;
    for (const auto& o : r["outputs"])
      outputs.push_back({o["code"].get<std::string>(), o["binary"].get<int>() == 1, parse_scalar(o["scalar"])});
    records.push_back(challenge_record(classes, r["labels"].get<std::vector<std::string>>(), outputs));
  }
  const ChallengeEvaluation e = evaluate_challenge(classes, records);
  const auto& want = g["expected"];
  CHECK(same(e.score.observed, want["observed"].get<double>(), official_tol(want["observed"].get<double>())));
  CHECK(same(e.score.correct, want["correct"].get<double>(), official_tol(want["correct"].get<double>())));
  CHECK(same(e.score.inactive, want["inactive"].get<double>(), official_tol(want["inactive"].get<double>())));
  CHECK(same(e.score.normalized, want["challenge_score"].get<double>(), official_tol(1.0)));
  CHECK(same(e.accuracy, want["accuracy"].get<double>(), official_tol(1.0)));
  CHECK(same(e.f_measure.macro.value, number(want["f_measure"]), official_tol(1.0)));
  CHECK(same(e.auc.macro_auroc.value, number(want["auroc"]), official_tol(1.0)));
  CHECK(same(e.auc.macro_auprc.value, number(want["auprc"]), official_tol(1.0)));
  CHECK_ALL_SAME(e.f_measure.per_class, numbers(want["f_measure_per_class"]), official_tol(1.0));
  CHECK_ALL_SAME(e.auc.auroc, numbers(want["auroc_per_class"]), official_tol(1.0));
  CHECK_ALL_SAME(e.auc.auprc, numbers(want["auprc_per_class"]), official_tol(1.0));
  // The case holds what it is meant to: a never-labelled class (PVC|VPB), records with no positive output.
  CHECK(std::isnan(e.auc.auroc[static_cast<size_t>(*classes.class_of_code("17338001"))]));
  int64_t silent = 0;
  for (const auto& r : records) silent += std::all_of(r.binary.begin(), r.binary.end(), [](uint8_t b) { return b == 0; });
  CHECK(silent > 0);

  // Where both are defined, the script's sweep and the Mann-Whitney AUROC / scikit-learn AP are the same numbers.
  std::vector<uint8_t> labels;
  std::vector<double> scalar;
  for (const auto& r : records) {
    labels.insert(labels.end(), r.labels.begin(), r.labels.end());
    scalar.insert(scalar.end(), r.scalar.begin(), r.scalar.end());
  }
  const auto n = static_cast<int64_t>(records.size());
  const RankingMetrics rk = ranking_metrics(LabelView(labels, n, 26), ScoreView(scalar, n, 26));
  CHECK_ALL_SAME(rk.auroc, e.auc.auroc, 1e-12);
  CHECK_ALL_SAME(rk.average_precision, e.auc.auprc, 1e-12);
}
