// Label tables: the project's scored-code table and weights, merging, per-dataset selection, multi-hot encoding.
#include <doctest/doctest.h>

#include <numeric>
#include <set>

#include "ecg/csv_table.h"
#include "ecg/labels.h"
#include "ecg/record.h"
#include "ecg/scoring_weights.h"
#include "ecg_test_util.h"

using namespace agf::ecg;
using namespace agf::ecg::test;
using agf::Shape;

namespace {

const ScoredCodeTable& table() {
  static const ScoredCodeTable t = ScoredCodeTable::load_default();
  return t;
}

std::vector<std::string> abbreviations_of(const ClassSet& cs, const std::vector<std::string>& codes) {
  std::set<int64_t> idx;
  for (const auto& c : codes)
    if (auto i = cs.index_of_code(c)) idx.insert(*i);
  std::vector<std::string> out;
  for (int64_t i : idx) out.push_back(cs[i].abbreviation);
  return out;
}

}  // namespace

TEST_CASE("labels: the project's table holds 30 scored codes forming 26 classes") {
  CHECK(table().codes().size() == 30);
  ClassSet all = scored_classes(table(), false);
  ClassSet merged = scored_classes(table(), true);
  CHECK(all.size() == 30);
  CHECK(merged.size() == 26);
  CHECK(all[0].abbreviation == "AF");
  CHECK(all[0].key == "164889003");
  // Merged classes take the weights' key and sit where their first member appears.
  auto lbbb = merged.index_of_code("164909002");
  REQUIRE(lbbb.has_value());
  CHECK(lbbb == merged.index_of_code("733534002"));
  CHECK(merged[*lbbb].key == "733534002|164909002");
  CHECK(merged[*lbbb].abbreviation == "CLBBB|LBBB");
  CHECK(merged[*lbbb].codes == std::vector<std::string>{"733534002", "164909002"});
  CHECK(*lbbb == 4);
  CHECK(merged.index_of_code("59118001") == merged.index_of_code("713427006"));
  CHECK(merged[*merged.index_of_code("59118001")].abbreviation == "CRBBB|RBBB");
  CHECK(merged[*merged.index_of_code("63593006")].abbreviation == "PAC|SVPB");
  CHECK(merged[*merged.index_of_code("17338001")].abbreviation == "PVC|VPB");
  CHECK(all.index_of_code("59118001") != all.index_of_code("713427006"));
  CHECK_FALSE(all.index_of_code("251238007").has_value());
  // NSR is the normal class.
  const ScoredCode* nsr = table().find(kNormalSinusRhythm);
  REQUIRE(nsr != nullptr);
  CHECK(nsr->abbreviation == "NSR");
  CHECK(nsr->counts[static_cast<size_t>(ChallengeDataset::ptb_xl)] == 18092);
  CHECK(kCode15Labels[0] == "1dAVb");
  CHECK(kCode15Labels[5] == "ST");
}

TEST_CASE("labels: per-dataset selection by published counts reproduces the reference's class counts") {
  CHECK(reference_classes(table(), ChallengeDataset::georgia).size() == 18);
  CHECK(reference_classes(table(), ChallengeDataset::ptb_xl).size() == 19);
  CHECK(reference_classes(table(), ChallengeDataset::ningbo).size() == 23);
  CHECK(reference_classes(table(), ChallengeDataset::chapman_shaoxing).size() == 16);
  ClassSet ga = reference_classes(table(), parse_challenge_dataset("WFDB_Ga"));
  CHECK(ga[0].abbreviation == "AF");
  CHECK(ga.abbreviations().back() == "VPB");
  // Merged, Georgia's CRBBB (28) and RBBB (542) become one class of 570.
  ClassSet merged = scored_classes(table(), true);
  auto counts = published_counts(table(), merged, ChallengeDataset::georgia);
  CHECK(counts[static_cast<size_t>(*merged.index_of_code("59118001"))] == 570);
  CHECK(parse_challenge_dataset("PTBXL") == ChallengeDataset::ptb_xl);
  CHECK(parse_challenge_dataset("chapman") == ChallengeDataset::chapman_shaoxing);
  // The folder names of the v1.0.3 training data (training/<name>), all eight.
  CHECK(parse_challenge_dataset("cpsc_2018") == ChallengeDataset::cpsc);
  CHECK(parse_challenge_dataset("cpsc_2018_extra") == ChallengeDataset::cpsc_extra);
  CHECK(parse_challenge_dataset("st_petersburg_incart") == ChallengeDataset::st_petersburg);
  CHECK(parse_challenge_dataset("ptb") == ChallengeDataset::ptb);
  CHECK(parse_challenge_dataset("ptb-xl") == ChallengeDataset::ptb_xl);
  CHECK(parse_challenge_dataset("georgia") == ChallengeDataset::georgia);
  CHECK(parse_challenge_dataset("chapman_shaoxing") == ChallengeDataset::chapman_shaoxing);
  CHECK(parse_challenge_dataset("ningbo") == ChallengeDataset::ningbo);
  // The table counts those sets too: CPSC keeps 6 classes at the default threshold, INCART and PTB none.
  CHECK(reference_classes(table(), ChallengeDataset::cpsc).size() == 6);
  CHECK(reference_classes(table(), ChallengeDataset::st_petersburg).size() == 0);
  CHECK(reference_classes(table(), ChallengeDataset::ptb).size() == 0);
  CHECK_THROWS_WITH_AS(parse_challenge_dataset("mitbih"), doctest::Contains("unknown Challenge 2021 dataset 'mitbih'"),
                       agf::Error);
}

TEST_CASE("labels: threshold selection keeps counts strictly above it, on a small synthetic count table") {
  ClassSet cs({{"1", {"1"}, "A"}, {"2", {"2"}, "B"}, {"3", {"3"}, "C"}, {"4", {"4"}, "D"}});
  const std::vector<int64_t> counts = {200, 201, 0, 5000};
  CHECK(select_classes(cs, counts).keys() == std::vector<std::string>{"2", "4"});
  CHECK(select_classes(cs, counts, 0).keys() == std::vector<std::string>{"1", "2", "4"});
  CHECK(select_classes(cs, counts, 5000).size() == 0);
  CHECK_THROWS_AS(select_classes(cs, {1, 2}), agf::Error);

  // Counting from records: a record with both members of a merged class counts once.
  ClassSet merged = scored_classes(table(), true);
  std::vector<std::vector<std::string>> recs = {
      {"713427006", "59118001"}, {"59118001"}, {"426783006", "426783006"}, {"251238007"}};
  auto c = count_records(merged, recs);
  CHECK(c[static_cast<size_t>(*merged.index_of_code("59118001"))] == 2);
  CHECK(c[static_cast<size_t>(*merged.index_of_code("426783006"))] == 1);
  CHECK(std::accumulate(c.begin(), c.end(), int64_t{0}) == 3);
  // Only the records named (agf-collect counts the rows it wrote): records 1 and 2.
  const std::vector<size_t> rows = {1, 2};
  auto some = count_records(merged, recs, &rows);
  CHECK(some[static_cast<size_t>(*merged.index_of_code("59118001"))] == 1);
  CHECK(some[static_cast<size_t>(*merged.index_of_code("426783006"))] == 1);
  CHECK(std::accumulate(some.begin(), some.end(), int64_t{0}) == 2);
}

TEST_CASE("labels: multi-hot encoding in class order; records without a kept label are dropped and counted") {
  ClassSet cs({{"426783006", {"426783006"}, "NSR"}, {"713427006|59118001", {"713427006", "59118001"}, "CRBBB|RBBB"},
               {"426177001", {"426177001"}, "SB"}});
  std::vector<std::vector<std::string>> recs = {
      {"426783006"}, {"999999"}, {"59118001", "426177001"}, {}, {"713427006", "251238007"}};
  LabelMatrix m = encode_multi_hot(cs, recs);
  CHECK(m.labels.shape() == Shape{3, 3});
  CHECK(m.labels.dtype() == agf::DType::u8);
  CHECK(m.labels.to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 0, 0, 1, 1, 0, 1, 0});
  CHECK(m.kept == std::vector<int64_t>{0, 2, 4});
  CHECK(m.dropped == 2);
  CHECK(m.unlabelled == 2);
  LabelMatrix keep_all = encode_multi_hot(cs, recs, false);
  CHECK(keep_all.labels.shape() == Shape{5, 3});
  CHECK(keep_all.dropped == 0);
  CHECK(keep_all.unlabelled == 2);
  LabelMatrix none = encode_multi_hot(cs, {{"1"}});
  CHECK(none.labels.shape() == Shape{0, 3});
  CHECK_THROWS_WITH_AS(ClassSet({{"a", {"1"}, "A"}, {"b", {"1"}, "B"}}), doctest::Contains("code 1 belongs to two"),
                       agf::Error);
}

TEST_CASE("labels: the fixture records' scored classes" * doctest::skip(no_challenge_fixtures())) {
  ClassSet all = scored_classes(table(), false);
  ClassSet merged = scored_classes(table(), true);
  auto labels_of = [](const char* id) { return read_challenge_record(challenge_records_dir() / id).labels(); };
  CHECK(abbreviations_of(all, labels_of("JS20017")) ==
        std::vector<std::string>{"NSIVCB", "PAC", "PRWP", "STach", "TAb", "TInv"});
  CHECK(abbreviations_of(all, labels_of("E07509")) == std::vector<std::string>{"RBBB", "SB"});
  CHECK(abbreviations_of(merged, labels_of("E07509")) == std::vector<std::string>{"CRBBB|RBBB", "SB"});
  CHECK(abbreviations_of(all, labels_of("HR06002")) == std::vector<std::string>{"IRBBB", "NSR", "SB"});
  CHECK(abbreviations_of(all, labels_of("JS20006")) == std::vector<std::string>{"PAC", "PVC", "STach"});
  // Georgia keeps LAE's code out (unscored); only SB remains.
  CHECK(abbreviations_of(reference_classes(table(), ChallengeDataset::georgia), labels_of("E07500")) ==
        std::vector<std::string>{"SB"});
}

TEST_CASE("labels: the project's table agrees with the Challenge's published facts" *
          doctest::skip(!have_fixture(agf::test::fixtures_dir() / "challenge2021" / "dx_mapping_scored.csv"))) {
  const fs::path src = agf::test::fixtures_dir() / "challenge2021" / "dx_mapping_scored.csv";
  CsvTable t = CsvTable::read(src);
  REQUIRE(t.rows() == 30);
  const char* columns[] = {"CPSC", "CPSC_Extra", "StPetersburg", "PTB", "PTB_XL", "Georgia", "Chapman_Shaoxing",
                           "Ningbo"};
  for (int64_t r = 0; r < t.rows(); ++r) {
    const ScoredCode& ours = table().codes()[static_cast<size_t>(r)];
    CHECK(ours.code == t.cell(r, t.column("SNOMEDCTCode")));
    CHECK(ours.abbreviation == t.cell(r, t.column("Abbreviation")));
    CHECK(ours.description == t.cell(r, t.column("Dx")));
    for (int d = 0; d < kChallengeDatasetCount; ++d)
      CHECK(ours.counts[static_cast<size_t>(d)] == t.int_cell(r, t.column(columns[d])));
  }
}

TEST_CASE("scoring weights: 26 x 26, symmetric, unit diagonal, merged keys; equal to the Challenge's") {
  ScoringWeights w = ScoringWeights::load_default();
  REQUIRE(w.size() == 26);
  ClassSet merged = scored_classes(table(), true);
  std::set<std::string> ours(w.class_keys().begin(), w.class_keys().end());
  auto keys = merged.keys();
  CHECK(ours == std::set<std::string>(keys.begin(), keys.end()));
  for (int64_t i = 0; i < 26; ++i) {
    CHECK(w.at(i, i) == 1.0);
    for (int64_t j = 0; j < 26; ++j) CHECK(w.at(i, j) == w.at(j, i));
  }
  CHECK(w.at(*w.index_of("164889003"), *w.index_of("164890007")) == 0.5);  // AF vs AFL
  CHECK(w.at(*w.index_of(kNormalSinusRhythm), *w.index_of("164917005")) == 0.15);  // NSR vs QAb
  CHECK(w.index_of("59118001") == w.index_of("713427006|59118001"));
  // Reordered to a class set (the unmerged 30 codes map each code to its merged row).
  ClassSet all = scored_classes(table(), false);
  auto w30 = w.for_classes(all);
  REQUIRE(w30.size() == 900);
  const auto crbbb = static_cast<size_t>(*all.index_of_code("713427006"));
  const auto rbbb = static_cast<size_t>(*all.index_of_code("59118001"));
  CHECK(w30[crbbb * 30 + rbbb] == 1.0);
  CHECK_THROWS_WITH_AS(w.for_classes(ClassSet({{"1", {"1"}, "X"}})), doctest::Contains("class 1 (X) has no row"),
                       agf::Error);
}

TEST_CASE("scoring weights: the project's copy equals the Challenge's weights.csv" *
          doctest::skip(!have_fixture(agf::test::fixtures_dir() / "challenge2021" / "weights.csv"))) {
  const ScoringWeights w = ScoringWeights::load_default();
  const ScoringWeights theirs = ScoringWeights::load(agf::test::fixtures_dir() / "challenge2021" / "weights.csv");
  CHECK(theirs.class_keys() == w.class_keys());
  CHECK(theirs.values() == w.values());
}
