// Challenge 2021 records: the six real fixture records with their known values, then small records written here
// to exercise every corruption the reader must report.
#include <doctest/doctest.h>

#include "ecg/mat_v4.h"
#include "ecg/record.h"
#include "ecg/record_error.h"
#include "ecg_test_util.h"

using namespace agf::ecg;
using namespace agf::ecg::test;
using agf::DType;
using agf::Shape;

namespace {

const std::vector<std::string> kTwelve = {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"};

RecordProblem read_problem(const fs::path& p) {
  try {
    read_challenge_record(p);
  } catch (const RecordError& e) {
    MESSAGE("expected error: " << std::string(e.what()));
    return e.problem();
  }
  FAIL("record read although it should not: " << p.string());
  return RecordProblem::bad_header;
}

// A valid 3-lead, 200-sample record "T1" in `dir`; returns its samples.
std::vector<std::vector<int16_t>> write_valid(const ScratchDir& dir, const std::string& name = "T1") {
  auto leads = ramp_leads(3, 200);
  write_bytes(dir / (name + ".hea"), challenge_header(name, leads, {"I", "II", "V1"}));
  write_bytes(dir / (name + ".mat"), mat_v4_bytes(leads));
  return leads;
}

}  // namespace

TEST_CASE("fixture records: all six parse with labels, gains, checksums and known samples" *
          doctest::skip(no_challenge_fixtures())) {
  struct Known {
    const char* id;
    std::vector<std::string> dx;
    int16_t first_lead0, lead1_at_2500, last_lead11;
    int64_t checksum_lead0;
    double age;
    Sex sex;
  };
  const std::vector<Known> known = {
      {"E07500", {"67741000119109", "426177001"}, -68, -117, 39, 1250, 78, Sex::male},
      {"E07509", {"59118001", "426177001"}, -4, -39, -29, 20290, 71, Sex::male},
      {"HR06002", {"426177001", "426783006", "713426002"}, 280, -65, 1335, 7254, 29, Sex::male},
      {"JS20005", {"284470004", "89792004", "427084000", "427172004"}, -346, -229, 146, 5254, 83, Sex::male},
      {"JS20006", {"284470004", "427084000", "55827005", "251238007", "427172004"}, 303, -78, 20, -22565, 61,
       Sex::male},
      {"JS20017",
       {"284470004", "164930006", "427084000", "55827005", "59931005", "698252002", "365413008", "164934002"},
       -29, -117, -49, 14568, 89, Sex::female},
  };
  for (const Known& k : known) {
    CAPTURE(k.id);
    Record r = read_challenge_record(challenge_records_dir() / k.id);
    CHECK(r.id == k.id);
    CHECK(r.n_leads() == 12);
    CHECK(r.n_samples() == 5000);
    CHECK(r.fs() == 500.0);
    CHECK(r.labels() == k.dx);
    CHECK(r.header.age == k.age);
    CHECK(r.header.sex == k.sex);
    for (int l = 0; l < 12; ++l) {
      CHECK(r.header.leads[static_cast<size_t>(l)].name == kTwelve[static_cast<size_t>(l)]);
      CHECK(r.header.leads[static_cast<size_t>(l)].gain == 1000.0);
      CHECK(r.header.leads[static_cast<size_t>(l)].baseline == 0);
      // The reader verified these; recompute them here from the samples for the record.
      CHECK(r.sample(l, 0) == *r.header.leads[static_cast<size_t>(l)].init_value);
      CHECK(wfdb_checksum(r.adc.data() + l * 5000, 5000) == *r.header.leads[static_cast<size_t>(l)].checksum);
    }
    CHECK(r.sample(0, 0) == k.first_lead0);
    CHECK(r.sample(1, 2500) == k.lead1_at_2500);
    CHECK(r.sample(11, 4999) == k.last_lead11);
    CHECK(*r.header.leads[0].checksum == k.checksum_lead0);
    CHECK(r.mv(0, 0) == doctest::Approx(k.first_lead0 / 1000.0).epsilon(1e-15));
  }
}

TEST_CASE("fixture quirks: Georgia's record name, PTB-XL's 'mv', Ningbo's empty #Dx item, an unmapped code" *
          doctest::skip(no_challenge_fixtures())) {
  Record e = read_challenge_record(challenge_records_dir() / "E07500.hea");
  CHECK(e.header.record_name == "E07500.mat");
  CHECK(e.id == "E07500");
  CHECK(e.header.sx.empty());  // Georgia has no #Sx line
  CHECK(e.header.date_time == "05-May-2020 09:49:17");

  Record hr = read_challenge_record(challenge_records_dir() / "HR06002.mat");  // any of the record's paths works
  CHECK(hr.header.leads[0].units == "mv");
  CHECK(hr.header.leads[0].units_to_mv == 1.0);
  CHECK(hr.mv(0, 0) == doctest::Approx(0.280));
  CHECK(hr.header.sx == "Unknown");

  Record js5 = read_challenge_record(challenge_records_dir() / "JS20005");
  CHECK(js5.labels().size() == 4);  // "284470004,89792004,427084000,,427172004": the empty item is dropped

  Record js6 = read_challenge_record(challenge_records_dir() / "JS20006");
  CHECK(std::find(js6.labels().begin(), js6.labels().end(), "251238007") != js6.labels().end());

  agf::Tensor t = js6.signal_mv();
  CHECK(t.shape() == Shape{12, 5000});
  CHECK(t.dtype() == DType::f32);
  CHECK(t.to_vector<float>()[0] == doctest::Approx(0.303f));
  Signal s = js6.to_signal();
  CHECK(s.n_samples == 5000);
  CHECK(s.lead_names[3] == "aVR");
  CHECK(s.lead(11)[0] == doctest::Approx(1.688).epsilon(1e-15));
}

TEST_CASE("records: a small written record reads back, in mV, through every path form") {
  ScratchDir dir;
  auto leads = write_valid(dir);
  for (const fs::path& p : {dir / "T1", dir / "T1.hea", dir / "T1.mat"}) {
    Record r = read_challenge_record(p);
    CHECK(r.n_leads() == 3);
    CHECK(r.n_samples() == 200);
    CHECK(r.sample(2, 199) == leads[2][199]);
    CHECK(r.mv(1, 7) == doctest::Approx(leads[1][7] / 1000.0));
  }
  // Gain 1.052e+04 with a baseline: mV = (v - baseline) / gain.
  ScratchDir d2;
  auto l2 = ramp_leads(1, 50);
  write_bytes(d2 / "G.hea", challenge_header("G", l2, {"V5"}, 257, "1.052e+04(-20)/mV"));
  write_bytes(d2 / "G.mat", mat_v4_bytes(l2));
  Record g = read_challenge_record(d2 / "G");
  CHECK(g.fs() == 257.0);
  CHECK(g.mv(0, 3) == doctest::Approx((l2[0][3] + 20) / 10520.0).epsilon(1e-14));
}

TEST_CASE("records: plain WFDB format-16 .dat records (no byte offset, data file named in the header)") {
  ScratchDir dir;
  auto leads = ramp_leads(2, 100);
  std::string dat;
  for (int s = 0; s < 100; ++s)
    for (int l = 0; l < 2; ++l) put_i16(dat, leads[static_cast<size_t>(l)][static_cast<size_t>(s)]);
  write_bytes(dir / "signals.dat", dat);
  std::string hea = "D1 2 1000 100\n";
  for (int l = 0; l < 2; ++l)
    hea += fmt::format("signals.dat 16 200(10)/mV 16 0 {} {} 0 {}\n", leads[static_cast<size_t>(l)][0],
                       wfdb_checksum(leads[static_cast<size_t>(l)].data(), 100), l == 0 ? "I" : "aVL");
  write_bytes(dir / "D1.hea", hea);
  Record r = read_challenge_record(dir / "D1");
  CHECK(r.sample(1, 99) == leads[1][99]);
  CHECK(r.mv(0, 5) == doctest::Approx((leads[0][5] - 10) / 200.0));

  write_bytes(dir / "signals.dat", dat.substr(0, dat.size() - 2));
  CHECK(read_problem(dir / "D1") == RecordProblem::truncated);
  write_bytes(dir / "signals.dat", dat + "xx");
  CHECK(read_problem(dir / "D1") == RecordProblem::dims_mismatch);
  write_bytes(dir / "D2.hea", "D2 1 360 100\nsignals.dat 212 200 12 0 0 0 0 MLII\n");
  CHECK(read_problem(dir / "D2") == RecordProblem::unsupported);
  write_bytes(dir / "D3.hea", "D3 1 360 100\n../signals.dat 16 200 16 0 0 0 0 I\n");
  CHECK(read_problem(dir / "D3") == RecordProblem::unsupported);
}

TEST_CASE("records: corrupt inputs each give a clear error naming the record and the reason") {
  ScratchDir dir;
  auto leads = write_valid(dir);
  const std::string good_mat = mat_v4_bytes(leads);
  const std::string good_hea = challenge_header("T1", leads, {"I", "II", "V1"});
  auto restore = [&] {
    write_bytes(dir / "T1.mat", good_mat);
    write_bytes(dir / "T1.hea", good_hea);
  };

  SUBCASE("truncated .mat") {
    write_bytes(dir / "T1.mat", good_mat.substr(0, good_mat.size() - 10));
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"),
                         doctest::Contains("1214 bytes, but 3 x 200 int16 need 1224 bytes"), RecordError);
    CHECK(read_problem(dir / "T1") == RecordProblem::truncated);
    write_bytes(dir / "T1.mat", good_mat.substr(0, 12));
    CHECK(read_problem(dir / "T1") == RecordProblem::truncated);
  }
  SUBCASE("trailing bytes after the matrix") {
    write_bytes(dir / "T1.mat", good_mat + std::string(8, '\0'));
    CHECK(read_problem(dir / "T1") == RecordProblem::bad_data_file);
  }
  SUBCASE("wrong type code") {
    write_bytes(dir / "T1.mat", mat_v4_bytes(leads, 0));  // 0 = double
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"), doctest::Contains("type code 0 is not 30"), RecordError);
    CHECK(read_problem(dir / "T1") == RecordProblem::bad_data_file);
  }
  SUBCASE("big-endian header") {
    std::string be;
    for (int32_t v : {1030, 3, 200, 0, 4})
      for (int i = 3; i >= 0; --i) be += static_cast<char>((static_cast<uint32_t>(v) >> (8 * i)) & 0xff);
    write_bytes(dir / "T1.mat", be + good_mat.substr(20));
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"), doctest::Contains("big-endian"), RecordError);
  }
  SUBCASE("variable not named val") {
    std::string m = good_mat;
    m[20] = 'x';
    write_bytes(dir / "T1.mat", m);
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"), doctest::Contains("named 'xal'"), RecordError);
  }
  SUBCASE("checksum mismatch") {
    std::string h = good_hea;
    const std::string chk = std::to_string(wfdb_checksum(leads[1].data(), 200));
    const std::string line = fmt::format("T1.mat 16+24 1000/mV 16 0 {} {} 0 II", leads[1][0], chk);
    const std::string bad = fmt::format("T1.mat 16+24 1000/mV 16 0 {} {} 0 II", leads[1][0], std::stoi(chk) + 1);
    h.replace(h.find(line), line.size(), bad);
    write_bytes(dir / "T1.hea", h);
    const std::string expected = fmt::format("record T1: lead 1 (II): samples sum to {}", chk);
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"), doctest::Contains(expected.c_str()), RecordError);
    CHECK(read_problem(dir / "T1") == RecordProblem::checksum_mismatch);
  }
  SUBCASE("init value mismatch") {
    auto other = leads;
    other[2][0] = static_cast<int16_t>(other[2][0] + 1);  // header built from changed data; .mat keeps the original
    auto h = challenge_header("T1", other, {"I", "II", "V1"});
    write_bytes(dir / "T1.hea", h);
    CHECK(read_problem(dir / "T1") == RecordProblem::init_mismatch);
  }
  SUBCASE("header and .mat dims disagree") {
    auto fewer = leads;
    for (auto& l : fewer) l.resize(199);
    write_bytes(dir / "T1.hea", challenge_header("T1", fewer, {"I", "II", "V1"}));
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"),
                         doctest::Contains("holds 3 x 200 (leads x samples) but the header says 3 x 199"), RecordError);
    auto two = leads;
    two.pop_back();
    write_bytes(dir / "T1.hea", challenge_header("T1", two, {"I", "II"}));
    CHECK(read_problem(dir / "T1") == RecordProblem::dims_mismatch);
  }
  SUBCASE("missing .mat and missing .hea") {
    fs::remove(dir / "T1.mat");
    CHECK_THROWS_WITH_AS(read_challenge_record(dir / "T1"), doctest::Contains("does not exist"), RecordError);
    CHECK(read_problem(dir / "T1") == RecordProblem::missing_file);
    CHECK(read_problem(dir / "nothing_here") == RecordProblem::missing_file);
  }
  SUBCASE("garbage numbers in the header") {
    std::string h = good_hea;
    h.replace(h.find("1000/mV"), 7, "1O00/mV");
    write_bytes(dir / "T1.hea", h);
    CHECK(read_problem(dir / "T1") == RecordProblem::bad_header);
  }
  SUBCASE("a header byte offset that is not where the MAT data starts") {
    std::string h = good_hea;
    for (size_t at; (at = h.find("16+24")) != std::string::npos;) h.replace(at, 5, "16+22");
    write_bytes(dir / "T1.hea", h);
    CHECK(read_problem(dir / "T1") == RecordProblem::bad_header);
  }
  restore();
  CHECK_NOTHROW(read_challenge_record(dir / "T1"));
}

TEST_CASE("records: SkipTally counts skipped records by reason; strict makes them fatal") {
  ScratchDir dir;
  auto leads = write_valid(dir, "A");
  write_valid(dir, "B");
  write_valid(dir, "C");
  std::string mat = mat_v4_bytes(leads);
  write_bytes(dir / "B.mat", mat.substr(0, 100));
  write_bytes(dir / "C.mat", mat_v4_bytes(leads, 10));

  SkipTally tally;
  std::vector<std::string> read_ok;
  for (const char* id : {"A", "B", "C", "D"})
    tally.attempt([&] { read_ok.push_back(read_challenge_record(dir / id).id); });
  CHECK(read_ok == std::vector<std::string>{"A"});
  CHECK(tally.ok() == 1);
  CHECK(tally.skipped() == 3);
  CHECK(tally.skipped(RecordProblem::truncated) == 1);
  CHECK(tally.skipped(RecordProblem::bad_data_file) == 1);
  CHECK(tally.skipped(RecordProblem::missing_file) == 1);
  CHECK(tally.summary() == "3 skipped of 4 (missing_file 1, bad_data_file 1, truncated 1)");
  REQUIRE(tally.records().size() == 3);
  CHECK(tally.records()[0].record == "B");

  SkipTally strict(true);
  CHECK_THROWS_AS(strict.attempt([&] { read_challenge_record(dir / "B"); }), RecordError);
  // Errors that are not about a record (a bug, a bad option) are never swallowed.
  CHECK_THROWS_AS(tally.attempt([] { AGF_FAIL("not a record problem"); }), agf::Error);
}

TEST_CASE("mat v4: parse directly from bytes") {
  auto leads = ramp_leads(2, 3);
  MatV4Int16 m = parse_mat_v4_int16(mat_v4_bytes(leads), "R", "R.mat");
  CHECK(m.rows == 2);
  CHECK(m.cols == 3);
  CHECK(m.data_offset == 24);
  CHECK(m.at(1, 2) == leads[1][2]);
  CHECK(m.col_major[1] == leads[1][0]);  // column-major: the second value is lead 1 of sample 0
}

TEST_CASE("records: randomly damaged headers and .mat files never crash, only throw agf errors") {
  auto leads = ramp_leads(3, 40);
  const std::string hea = challenge_header("T1", leads, {"I", "II", "V1"}, 500, "1.052e+04(3)/mV", "\r\n");
  const std::string mat = mat_v4_bytes(leads);
  std::mt19937 rng(1234);
  std::string alphabet = "0123456789+-.e()/ ,#:\n\r\tmVxX";
  alphabet += '\0';
  alphabet += '\xff';
  ScratchDir dir;
  int parsed = 0, rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string h = hea, m = mat;
    std::string& target = trial % 2 == 0 ? h : m;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % target.size();
      switch (rng() % 3) {
        case 0: target[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: target.erase(at, 1 + rng() % 8); break;
        default: target.resize(at); break;
      }
      if (target.empty()) target.push_back('x');
    }
    write_bytes(dir / "T1.hea", h);
    write_bytes(dir / "T1.mat", m);
    try {
      Record r = read_challenge_record(dir / "T1");
      CHECK(r.adc.size() == static_cast<size_t>(r.n_leads() * r.n_samples()));
      ++parsed;
    } catch (const agf::Error&) {
      ++rejected;
    }
  }
  MESSAGE(parsed << " damaged inputs still parsed, " << rejected << " rejected with an error");
  CHECK(parsed + rejected == 2000);
  CHECK(rejected > 500);
}

TEST_CASE("records: a header promising far more samples than its data file holds is refused before allocating") {
  // 12 leads x 2e9 samples would be 48 GB of int16: were the header trusted, the read would throw std::bad_alloc
  // (or exhaust memory) instead of returning this record error at once.
  ScratchDir dir;
  auto leads = ramp_leads(12, 200);
  std::string hea = challenge_header("BIG", leads, kTwelve);
  const std::string line1 = "BIG 12 500 200\n";
  REQUIRE(hea.starts_with(line1));
  hea.replace(0, line1.size(), "BIG 12 500 2000000000\n");
  write_bytes(dir / "BIG.hea", hea);
  write_bytes(dir / "BIG.mat", mat_v4_bytes(leads));
  CHECK(fs::file_size(dir / "BIG.hea") < 1000);
  const std::string expected = "record BIG: " + (dir / "BIG.mat").string() +
                               " holds 12 x 200 (leads x samples) but the header says 12 x 2000000000";
  CHECK_THROWS_WITH_AS(read_challenge_record(dir / "BIG"), doctest::Contains(expected.c_str()), RecordError);
  CHECK(read_problem(dir / "BIG") == RecordProblem::dims_mismatch);

  // The .mat's own header makes the same claim over the same few bytes: a truncated matrix.
  std::string mat = mat_v4_bytes(leads);
  const int32_t cols = 2000000000;
  std::memcpy(mat.data() + 8, &cols, 4);  // little-endian host
  write_bytes(dir / "BIG.mat", mat);
  CHECK_THROWS_WITH_AS(read_challenge_record(dir / "BIG"), doctest::Contains("but 12 x 2000000000 int16 need"),
                       RecordError);
  CHECK(read_problem(dir / "BIG") == RecordProblem::truncated);

  // A format-16 .dat of 400 bytes under a header claiming 2e9 samples of 2 leads.
  write_bytes(dir / "D.dat", std::string(400, '\0'));
  write_bytes(dir / "D.hea", "D 2 500 2000000000\nD.dat 16 200 16 0 0 0 0 I\nD.dat 16 200 16 0 0 0 0 II\n");
  CHECK_THROWS_WITH_AS(read_challenge_record(dir / "D"),
                       doctest::Contains("is 400 bytes, but 2 leads x 2000000000 samples of format 16 after byte 0 "
                                         "need 8000000000"),
                       RecordError);
  CHECK(read_problem(dir / "D") == RecordProblem::truncated);
}
