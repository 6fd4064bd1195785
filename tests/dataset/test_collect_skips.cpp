// agf-collect's library on Challenge folders holding records that must not reach the dataset as they are: records
// kept with a note (a negative gain).
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

}  // namespace

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
