// agf-collect's library on Challenge folders holding records that must not reach the dataset as they are: classes
// chosen from the records written (not the headers), signals that preprocessing would turn into zeros (gains of
// 1e300 and 1e-320, a flat recording), and records kept with a note (a negative gain).
#include <doctest/doctest.h>

#include <algorithm>

#include "dataset/collect.h"
#include "dataset/dataset_reader.h"
#include "dataset/dataset_test_util.h"
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

constexpr const char* kAF = "164889003";
constexpr const char* kNSR = "426783006";
constexpr const char* kIAVB = "270492004";

std::vector<std::string> ids_of(const CollectReport& rep) { return DatasetReader(rep.output).record_ids(); }

// The table's lines after its header, each cut after the outcome column ("N1,checksum_mismatch,skipped").
std::vector<std::string> skipped_rows(const fs::path& csv) {
  std::vector<std::string> rows;
  const std::string text = file_bytes(csv);
  size_t at = text.find('\n') + 1;
  while (at < text.size()) {
    const size_t end = text.find('\n', at);
    std::string line = text.substr(at, end - at);
    size_t comma = line.find(',');
    comma = line.find(',', comma + 1);
    comma = line.find(',', comma + 1);
    rows.push_back(line.substr(0, comma));
    at = end + 1;
  }
  return rows;
}

// Every sample of every lead `value` (ADC units).
std::vector<std::vector<int16_t>> constant_leads(int16_t value) {
  return std::vector<std::vector<int16_t>>(12, std::vector<int16_t>(3000, value));
}

}  // namespace

TEST_CASE("collect: a class whose only records are skipped is not kept, though --min-count 1 and its headers pass") {
  ScratchDir in, out;
  const fs::path d = in / "WFDB_Skips";
  write_challenge_record(d, "A1", kAF, seeded_leads(1));
  write_challenge_record(d, "A2", kAF, seeded_leads(2));
  write_challenge_record(d, "A3", kAF, seeded_leads(3));
  write_challenge_record(d, "N1", kNSR, seeded_leads(4), "1000/mV", /*corrupt=*/true);
  write_challenge_record(d, "N2", kNSR, seeded_leads(5), "1000/mV", /*corrupt=*/true);
  ChallengeSource src;
  src.dir = d;
  src.min_count = 1;  // NSR's two headers are more than one: only reading its records shows it has none
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  MESSAGE(rep.summary());
  CHECK(rep.written == 3);
  CHECK(rep.classes == std::vector<DatasetClass>{{kAF, "AF"}});
  CHECK(rep.class_counts == std::vector<int64_t>{3});
  CHECK(rep.classes_left_out == std::vector<DatasetClass>{{kNSR, "NSR"}});
  CHECK(rep.summary().find("classes left out for too few records written: NSR") != std::string::npos);
  DatasetReader r(rep.output);
  CHECK(r.classes() == std::vector<DatasetClass>{{kAF, "AF"}});
  CHECK(r.labels() == std::vector<uint8_t>{1, 1, 1});
  CHECK(r.record_ids() == std::vector<std::string>{"A1", "A2", "A3"});
  const std::string table = file_bytes(rep.class_table);
  CHECK(table == fmt::format("index,code,abbreviation,records,train,val,test\n0,{},AF,3,{},{},{}\n", kAF,
                             r.splits().train.size(), r.splits().val.size(), r.splits().test.size()));
  CHECK(skipped_rows(rep.skipped_table) ==
        std::vector<std::string>{"N1,checksum_mismatch,skipped", "N2,checksum_mismatch,skipped"});

  // Records kept without a class change nothing: the class still goes, its skipped records are still named.
  ScratchDir out2;
  src.drop_unlabelled = false;
  const CollectReport kept = collect_challenge(src, quiet_settings(out2.path()));
  CHECK(kept.classes == std::vector<DatasetClass>{{kAF, "AF"}});
  CHECK(kept.skips.skipped(RecordProblem::checksum_mismatch) == 2);
}

TEST_CASE("collect: a class that skips leave with too few records goes, and so do the records only it labelled") {
  ScratchDir in, out, ref_in, ref_out, keep_out;
  // IAVB has three headers (more than --min-count 2) but two readable records, one of which (I2) carries nothing
  // else: the signals are written before the classes are known, and I2 must not stay in /signals as a row outside
  // the splits. A2 keeps its row, for AF.
  auto write_af = [](const fs::path& d) {
    write_challenge_record(d, "A1", kAF, seeded_leads(1));
    write_challenge_record(d, "A2", fmt::format("{},{}", kAF, kIAVB), seeded_leads(2));
    write_challenge_record(d, "A3", kAF, seeded_leads(3));
  };
  const fs::path d = in / "WFDB_Rewrite";
  write_af(d);
  write_challenge_record(d, "I1", kIAVB, seeded_leads(4), "1000/mV", /*corrupt=*/true);
  write_challenge_record(d, "I2", kIAVB, seeded_leads(5));
  ChallengeSource src;
  src.dir = d;
  src.min_count = 2;
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path(), 3));
  MESSAGE(rep.summary());
  CHECK(rep.classes == std::vector<DatasetClass>{{kAF, "AF"}});
  CHECK(rep.class_counts == std::vector<int64_t>{3});
  CHECK(rep.classes_left_out == std::vector<DatasetClass>{{kIAVB, "IAVB"}});
  CHECK(ids_of(rep) == std::vector<std::string>{"A1", "A2", "A3"});
  CHECK(rep.written == 3);
  CHECK(rep.dropped_unlabelled == 1);  // I2
  CHECK(rep.skips.skipped() == 1);     // I1, named once though the folder was written twice
  CHECK(rep.skips.ok() == 3);
  CHECK(skipped_rows(rep.skipped_table) == std::vector<std::string>{"I1,checksum_mismatch,skipped"});
  DatasetReader r(rep.output);
  CHECK(r.labels() == std::vector<uint8_t>{1, 1, 1});
  CHECK(r.splits().train.size() + r.splits().val.size() + r.splits().test.size() == 3);

  // Byte for byte the file of a run that never saw IAVB's two records.
  const fs::path ref = ref_in / "WFDB_Rewrite";
  write_af(ref);
  src.dir = ref;
  const CollectReport direct = collect_challenge(src, quiet_settings(ref_out.path()));
  CHECK(direct.classes == rep.classes);
  CHECK(file_bytes(direct.output) == file_bytes(rep.output));

  // Records with no kept class kept as all-zero rows: nothing to drop, I2 stays unlabelled.
  src.dir = d;
  src.drop_unlabelled = false;
  const CollectReport kept = collect_challenge(src, quiet_settings(keep_out.path()));
  CHECK(ids_of(kept) == std::vector<std::string>{"A1", "A2", "A3", "I2"});
  CHECK(kept.classes == std::vector<DatasetClass>{{kAF, "AF"}});
  CHECK(DatasetReader(kept.output).labels() == std::vector<uint8_t>{1, 1, 1, 0});
  CHECK(kept.dropped_unlabelled == 0);
}

TEST_CASE("collect: published counts choose the classes, less those no written record carries") {
  ScratchDir in, out;
  const fs::path d = in / "WFDB_Ga";
  write_challenge_record(d, "A1", kAF, seeded_leads(1));
  write_challenge_record(d, "A2", kAF, seeded_leads(2));
  write_challenge_record(d, "N1", kNSR, seeded_leads(3), "1000/mV", /*corrupt=*/true);
  ChallengeSource src;
  src.dir = d;
  src.published_counts = true;  // Georgia (from the name): AF 570 and NSR 1752 records published, both above 200
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  CHECK(rep.classes == std::vector<DatasetClass>{{kAF, "AF"}});
  CHECK(rep.class_counts == std::vector<int64_t>{2});
  CHECK(rep.classes_left_out == std::vector<DatasetClass>{{kNSR, "NSR"}});
  CHECK(DatasetReader(rep.output).info().label_selection.find("as published for georgia, less classes no written "
                                                              "record carries") != std::string::npos);
}

TEST_CASE("collect: signals that preprocessing would turn into zeros are skipped with their reason") {
  ScratchDir in, out;
  const fs::path d = in / "WFDB_Zeros";
  write_challenge_record(d, "G1", kAF, seeded_leads(1));
  // 1 ADC unit = 1e-300 mV: the band-passed leads are ~1e-297 mV, under the flat threshold, so z-scored to zeros.
  write_challenge_record(d, "Huge", kAF, seeded_leads(2), "1e300/mV");
  // A subnormal gain: every non-zero sample is inf in mV, the filter makes each lead NaN, the z-score zeros.
  write_challenge_record(d, "Tiny", kAF, seeded_leads(3), "1e-320/mV");
  // Every sample equal: the band-pass leaves rounding noise, the z-score zeros.
  write_challenge_record(d, "Flat", kAF, constant_leads(250));
  // One dead lead among live ones is a real recording: kept, that row zero.
  auto one_dead = seeded_leads(4);
  std::fill(one_dead[4].begin(), one_dead[4].end(), int16_t{0});
  write_challenge_record(d, "Dead_aVL", kAF, one_dead);
  write_challenge_record(d, "G2", kAF, seeded_leads(5));
  ChallengeSource src;
  src.dir = d;
  src.min_count = 0;
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  MESSAGE(rep.summary());
  CHECK(ids_of(rep) == std::vector<std::string>{"Dead_aVL", "G1", "G2"});
  CHECK(rep.skips.skipped(RecordProblem::flat_signal) == 2);
  CHECK(rep.skips.skipped(RecordProblem::non_finite) == 1);
  CHECK(skipped_rows(rep.skipped_table) == std::vector<std::string>{"Flat,flat_signal,skipped",
                                                                    "Huge,flat_signal,skipped",
                                                                    "Tiny,non_finite,skipped"});
  const auto& skipped = rep.skips.records();
  REQUIRE(skipped.size() == 3);
  // The messages tell a constant recording (250 ADC units = 0.25 mV) from one scaled away (~1e-297 mV).
  CHECK(skipped[0].message.find("every lead is zero after preprocessing") != std::string::npos);
  CHECK(skipped[0].message.find("the largest input value is 0.25 mV") != std::string::npos);
  int largest_adc = 0;
  for (const auto& lead : seeded_leads(2))
    for (int16_t v : lead) largest_adc = std::max(largest_adc, std::abs(static_cast<int>(v)));
  CHECK(skipped[1].message.find(fmt::format("the largest input value is {:g} mV", largest_adc / 1e300)) !=
        std::string::npos);
  CHECK(skipped[2].message == "record Tiny: lead 0 (I) is not finite after filtering: its input holds inf or NaN "
                               "in mV (a gain too small for its samples, or damaged data)");

  DatasetReader r(rep.output);
  const auto dead = r.read_signals(std::vector<int64_t>{0}).to_vector<float>();
  const int64_t t = r.length();
  for (int64_t lead = 0; lead < 12; ++lead) {
    const auto row = dead.begin() + lead * t;
    const bool zero = std::all_of(row, row + t, [](float v) { return v == 0.0f; });
    CHECK_MESSAGE(zero == (lead == 4), "lead " << lead);
  }
}

TEST_CASE("collect: a negative gain is kept with a note; --strict refuses it") {
  ScratchDir in, out, strict_out;
  const fs::path d = in / "WFDB_Gain";
  write_challenge_record(d, "A1", kAF, seeded_leads(1));
  // Lead aVR's gain written as -1000: legal WFDB, so the record reads (inverted), but no Challenge record has one.
  const auto leads = seeded_leads(2);
  std::string header = challenge_header("Neg", leads, kTwelveLeads, 500, "1000/mV", "\n", kAF);
  std::vector<std::string> lines;
  for (size_t at = 0, end; at < header.size(); at = end + 1) {
    end = header.find('\n', at);
    lines.push_back(header.substr(at, end - at));
  }
  REQUIRE(lines[4].ends_with(" aVR"));
  lines[4].replace(lines[4].find(" 1000/mV "), 9, " -1000/mV ");
  header.clear();
  for (const std::string& l : lines) header += l + "\n";
  write_bytes(d / "Neg.hea", header);
  write_bytes(d / "Neg.mat", mat_v4_bytes(leads));
  ChallengeSource src;
  src.dir = d;
  src.min_count = 0;
  const CollectReport rep = collect_challenge(src, quiet_settings(out.path()));
  MESSAGE(rep.summary());
  CHECK(ids_of(rep) == std::vector<std::string>{"A1", "Neg"});
  CHECK(rep.skips.skipped() == 0);
  REQUIRE(rep.skips.notes().size() == 1);
  CHECK(rep.skips.notes()[0].message ==
        "record Neg: negative gain in lead aVR (-1000): legal WFDB but in no Challenge record, so the lead is "
        "probably inverted; kept as the header says");
  CHECK(rep.skips.summary() == "0 skipped of 2; 1 kept with a note (negative_gain 1)");
  CHECK(skipped_rows(rep.skipped_table) == std::vector<std::string>{"Neg,negative_gain,kept"});
  CHECK(rep.summary().find("    kept: record Neg: negative gain") != std::string::npos);
  // The stored aVR is the negative of what the positive gain gives: the gain was honoured.
  ScratchDir pos_in, pos_out;
  write_challenge_record(pos_in / "WFDB_Gain", "Neg", kAF, leads);
  const CollectReport pos = collect_challenge(ChallengeSource{pos_in / "WFDB_Gain", "", 0},
                                              quiet_settings(pos_out.path()));
  const auto flipped = DatasetReader(rep.output).read_signals(std::vector<int64_t>{1}).to_vector<float>();
  const auto plain = DatasetReader(pos.output).read_signals(std::vector<int64_t>{0}).to_vector<float>();
  const size_t t = flipped.size() / 12;
  for (size_t i = 0; i < flipped.size(); ++i) {
    const float want = (i / t == 3) ? -plain[i] : plain[i];
    REQUIRE(flipped[i] == want);
  }

  auto strict = quiet_settings(strict_out.path());
  strict.strict = true;
  CHECK_THROWS_WITH_AS(collect_challenge(src, strict), doctest::Contains("record Neg: negative gain in lead aVR"),
                       RecordError);
  CHECK(fs::is_empty(strict_out.path()));
}
