// agf-collect's library on Challenge folders: the six real fixture records end to end, records written here (nested
// folders, an unmapped code, a corrupt checksum), --strict, byte-identical re-runs.
#include <doctest/doctest.h>

#include <algorithm>

#include "dataset/dataset_test_util.h"
#include "dataset/collect.h"
#include "dataset/dataset_reader.h"
#include "dataset/dataset_report.h"
#include "ecg/preprocess.h"
#include "ecg/record.h"
#include "ecg/record_error.h"

using namespace agf;
using namespace agf::ecg;
using namespace agf::dataset;
using namespace agf::dataset::test;

namespace {

CollectSettings quiet_settings(const fs::path& out, int threads = 2) {
  CollectSettings s;
  s.out_dir = out;
  s.threads = threads;
  s.progress = false;
  return s;
}

// A 12-lead 500 Hz Challenge record; `corrupt` changes a sample after the checksum was computed.
void write_record(const fs::path& dir, const std::string& name, const std::string& dx, int seed,
                  bool corrupt = false) {
  write_challenge_record(dir, name, dx, seeded_leads(seed), "1000/mV", corrupt);
}

// Three AF records (one nested two folders down), one AF+NSR, one with only an unmapped code, one corrupt.
fs::path write_small_challenge(const fs::path& root) {
  const fs::path d = root / "WFDB_Test";
  write_record(d, "T0001", "164889003", 1);
  write_record(d / "g1", "T0002", "164889003,426783006", 2);
  write_record(d / "g1" / "deeper", "T0003", "164889003", 3);
  write_record(d, "T0004", "251238007", 4);  // in no mapping table: no kept class
  write_record(d, "T0005", "164889003", 5, /*corrupt=*/true);
  write_record(d, "T0006", "426783006,,164889003", 6);
  return d;
}

}  // namespace

TEST_CASE("collect: the six fixture records end to end" * doctest::skip(no_challenge_fixtures())) {
  ScratchDir out;
  ChallengeSource src;
  src.dir = challenge_records_dir();
  src.name = "fixtures";
  src.min_count = 0;  // six records: keep every scored class present
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  MESSAGE(rep.summary());
  CHECK(rep.found == 6);
  CHECK(rep.written == 6);
  CHECK(rep.skips.skipped() == 0);
  CHECK(rep.dropped_unlabelled == 0);
  CHECK(rep.output == out / "fixtures.h5");
  CHECK(fs::exists(out / "fixtures.classes.csv"));

  DatasetReader r(rep.output);
  CHECK(r.record_ids() == std::vector<std::string>{"E07500", "E07509", "HR06002", "JS20005", "JS20006", "JS20017"});
  std::vector<std::string> abbr;
  for (const auto& c : r.classes()) abbr.push_back(c.abbreviation);
  // Scored codes present in these records, in the table's order; unscored (55827005, 67741000119109, ...) and
  // unmapped (JS20006's 251238007) codes make no class.
  CHECK(abbr == std::vector<std::string>{"IRBBB", "NSIVCB", "NSR", "PAC", "PRWP", "PVC", "RBBB", "SB", "STach",
                                         "TAb", "TInv"});
  CHECK(rep.class_counts == std::vector<int64_t>{1, 1, 1, 3, 1, 2, 1, 3, 3, 1, 1});
  // JS20006: PAC, STach, PVC; its unscored and unmapped codes are ignored.
  std::vector<uint8_t> js20006;
  for (int64_t j = 0; j < r.num_classes(); ++j) js20006.push_back(r.label(4, j));
  CHECK(js20006 == std::vector<uint8_t>{0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0});
  // E07509 (RBBB + SB) keeps RBBB apart from CRBBB without merging.
  CHECK(r.label(1, 6) == 1);
  CHECK(r.label(1, 7) == 1);
  CHECK(r.fs() == 500.0);
  CHECK(r.length() == 6144);
  CHECK(r.info().source == "challenge2021:records");
  CHECK(r.info().label_min_count == 0);
  CHECK(r.info().created_by == "agf-collect 0.1.0");
  CHECK(r.info().filter.find("Butterworth order 3 band-pass 1-47 Hz") != std::string::npos);

  // The stored signal is exactly the preprocessing of the record (compression is lossless).
  const Record js20017 = read_challenge_record(challenge_records_dir() / "JS20017");
  const Tensor expect = preprocess(js20017.to_signal(), PreprocessConfig{});
  CHECK(r.read_signals(std::vector<int64_t>{5}).to_vector<float>() == expect.to_vector<float>());

  const DatasetSplits& s = r.splits();
  CHECK(s.train.size() + s.val.size() + s.test.size() == 6);

  // Merged equivalent codes: RBBB joins CRBBB's class, PAC SVPB's, PVC VPB's.
  ScratchDir out2;
  src.merge_equivalent = true;
  const CollectReport merged = collect_challenge(src, quiet_settings(out2.path()));
  DatasetReader m(merged.output);
  std::vector<std::string> keys;
  for (const auto& c : m.classes()) keys.push_back(c.code);
  CHECK(std::find(keys.begin(), keys.end(), "713427006|59118001") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "284470004|63593006") != keys.end());
  CHECK(m.info().merge_equivalent == 1);
}

TEST_CASE("collect: re-running on the same input gives byte-identical files, whatever the thread count" *
          doctest::skip(no_challenge_fixtures())) {
  ScratchDir a, b, c;
  ChallengeSource src;
  src.dir = challenge_records_dir();
  src.min_count = 0;
  const auto ra = collect_challenge(src, quiet_settings(a.path(), 1));
  const auto rb = collect_challenge(src, quiet_settings(b.path(), 3));
  auto settings0 = quiet_settings(c.path(), 0);  // 0: one worker per hardware thread
  const auto rc = collect_challenge(src, settings0);
  const std::string bytes = file_bytes(ra.output);
  CHECK(bytes.size() > 100000);
  CHECK(bytes == file_bytes(rb.output));
  CHECK(bytes == file_bytes(rc.output));
  CHECK(file_bytes(ra.class_table) == file_bytes(rb.class_table));
}

TEST_CASE("collect: nested folders, skipped and dropped records are counted; the summary says so") {
  ScratchDir in, out;
  ChallengeSource src;
  src.dir = write_small_challenge(in.path());
  src.min_count = 0;
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  const std::string summary = rep.summary();
  MESSAGE(summary);
  CHECK(rep.name == "WFDB_Test");
  CHECK(rep.found == 6);
  CHECK(rep.dropped_unlabelled == 1);                                   // T0004
  CHECK(rep.skips.skipped(RecordProblem::checksum_mismatch) == 1);      // T0005
  CHECK(rep.written == 4);
  CHECK(summary.find("1 skipped of 5 (checksum_mismatch 1)") != std::string::npos);
  CHECK(summary.find("dropped for no kept class: 1") != std::string::npos);

  DatasetReader r(rep.output);
  // Input order is the sorted path order: WFDB_Test/T0001.hea < T0006.hea < g1/T0002 < g1/deeper/T0003.
  CHECK(r.record_ids() == std::vector<std::string>{"T0001", "T0006", "T0002", "T0003"});
  REQUIRE(r.num_classes() == 2);
  CHECK(r.classes()[0] == DatasetClass{"164889003", "AF"});
  CHECK(r.classes()[1] == DatasetClass{"426783006", "NSR"});
  CHECK(r.labels() == std::vector<uint8_t>{1, 0, 1, 1, 1, 1, 1, 0});
  CHECK(rep.class_counts == std::vector<int64_t>{4, 2});
  const std::string table = file_bytes(rep.class_table);
  CHECK(table.starts_with("index,code,abbreviation,records,train,val,test\n0,164889003,AF,4,"));
  CHECK(table.find("\n1,426783006,NSR,2,") != std::string::npos);
  // Every skipped record is listed with its reason beside the dataset, and the summary points there.
  CHECK(rep.skipped_table == out.path() / "WFDB_Test.skipped.csv");
  const std::string skipped = file_bytes(rep.skipped_table);
  CHECK(skipped.starts_with("record,reason,outcome,message\nT0005,checksum_mismatch,skipped,record T0005: lead "));
  CHECK(std::count(skipped.begin(), skipped.end(), '\n') == 2);
  CHECK(summary.find("every skipped record with its reason: " + rep.skipped_table.string()) != std::string::npos);

  // Records with no kept class can be kept as all-zero rows. Written to the same folder once T0005 is mended: the
  // previous run's table of skipped records goes, as it no longer describes the dataset beside it.
  src.drop_unlabelled = false;
  fs::remove(in.path() / "WFDB_Test" / "T0005.hea");
  const CollectReport kept = collect_challenge(src, quiet_settings(out.path()));
  CHECK(kept.written == 5);
  CHECK(kept.dropped_unlabelled == 0);
  CHECK(kept.skips.skipped() == 0);
  CHECK(kept.skipped_table.empty());
  CHECK(!fs::exists(out.path() / "WFDB_Test.skipped.csv"));
}

TEST_CASE("collect: the skipped table quotes messages holding commas or quotes (RFC 4180); notes come last") {
  SkipTally tally;
  tally.keep_with_note(RecordError(RecordProblem::negative_gain, "B", "record B: negative gain"));
  tally.note(RecordError(RecordProblem::bad_header, "A,1", "record A,1: gain '1\"0' is not a number"));
  CHECK(skipped_table_text(tally) ==
        "record,reason,outcome,message\n\"A,1\",bad_header,skipped,\"record A,1: gain '1\"\"0' is not a number\"\n"
        "B,negative_gain,kept,record B: negative gain\n");
  CHECK(tally.summary() == "1 skipped of 1 (bad_header 1); 1 kept with a note (negative_gain 1)");
}

TEST_CASE("collect: --strict makes a bad record fatal and leaves no output") {
  ScratchDir in, out;
  ChallengeSource src;
  src.dir = write_small_challenge(in.path());
  src.min_count = 0;
  auto settings = quiet_settings(out.path());
  settings.strict = true;
  CHECK_THROWS_WITH_AS(collect_challenge(src, settings), doctest::Contains("record T0005"), RecordError);
  CHECK(fs::is_empty(out.path()));
}

TEST_CASE("collect: bad inputs and settings are one clear error each, with no output") {
  ScratchDir in, out;
  ChallengeSource src;
  src.dir = write_small_challenge(in.path());
  // The default threshold keeps classes with more than 200 records: none in six.
  CHECK_THROWS_WITH_AS(collect_challenge(src, quiet_settings(out.path())),
                       doctest::Contains("no scored class has more than 200 records"), Error);
  src.dir = in / "absent";
  CHECK_THROWS_WITH_AS(collect_challenge(src, quiet_settings(out.path())), doctest::Contains("is not a folder"),
                       Error);
  fs::create_directories(in / "empty");
  src.dir = in / "empty";
  CHECK_THROWS_WITH_AS(collect_challenge(src, quiet_settings(out.path())), doctest::Contains("no .hea files"), Error);
  src.dir = write_small_challenge(in.path());
  src.published_counts = true;  // the name WFDB_Test is no Challenge dataset
  src.min_count = 0;
  CHECK_THROWS_WITH_AS(collect_challenge(src, quiet_settings(out.path())),
                       doctest::Contains("unknown Challenge 2021 dataset 'WFDB_Test'"), Error);
  CHECK(fs::is_empty(out.path()));

  // Published counts of a named dataset: of Georgia's 18 reference classes (more than 200 records published), the
  // two these records carry, AF (570 published) and NSR (1752), though 4 and 2 records are far below 200.
  src.challenge_dataset = "georgia";
  src.min_count = 200;
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  CHECK(rep.classes == std::vector<DatasetClass>{{"164889003", "AF"}, {"426783006", "NSR"}});
  CHECK(rep.class_counts == std::vector<int64_t>{4, 2});
  CHECK(DatasetReader(rep.output).info().label_selection.find("as published for georgia") != std::string::npos);
}

TEST_CASE("collect: an output name that is not a plain file name is refused before anything is written") {
  ScratchDir in, out;
  ChallengeSource src;
  src.dir = write_small_challenge(in.path());
  src.min_count = 0;
  for (const char* name : {"../escaped", "a/b", "/abs", ".", ".."}) {
    CAPTURE(name);
    src.name = name;
    CHECK_THROWS_WITH_AS(collect_challenge(src, quiet_settings(out.path())),
                         doctest::Contains(("--name '" + std::string(name) + "': not a plain file name").c_str()),
                         Error);
    CHECK_THROWS_WITH_AS(check_distinct_outputs({src}, nullptr, out.path()), doctest::Contains("not a plain file name"),
                         Error);
  }
  Code15Source code15;
  code15.name = "../x";
  CHECK_THROWS_WITH_AS(output_name(code15), doctest::Contains("--code15-name '../x': not a plain file name"), Error);
  CHECK(fs::is_empty(out.path()));
  CHECK(!fs::exists(in.path().parent_path() / "escaped.h5"));
}
