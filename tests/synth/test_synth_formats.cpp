// The writers: Challenge 2021 .hea/.mat as the real files lay them out (compared with the fixtures when present),
// CODE-15% parts and exams.csv, byte-identical re-runs, and no partial files.
#include <H5Cpp.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "common/test_util.h"
#include "io/atomic_file.h"
#include "ecg/synth/challenge_writer.h"
#include "ecg/synth/code15_writer.h"
#include "ecg/synth/synth_set.h"
#include "synth/synth_test_util.h"
#include "tensor/error.h"

using namespace agf::synth;
using namespace agf::synth::test;

namespace {

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

}  // namespace

TEST_CASE("synth formats: a Challenge record parses back exactly") {
  TempDir dir("challenge_one");
  const SynthRecord rec = generate_record(SynthConfig{}, 5, 41);
  const ChallengeFiles files = write_challenge_record(rec, dir.path(), challenge_record_name(41));
  CHECK(files.header.filename() == "SY000042.hea");
  CHECK(files_in(dir.path()) == std::vector<std::string>{"SY000042.hea", "SY000042.mat"});

  const ParsedHeader h = parse_header_file(files.header);
  CHECK(h.record == "SY000042");
  CHECK(h.n_leads == 12);
  CHECK(h.fs == 500);
  CHECK(h.n_samples == 5000);
  CHECK(std::regex_match(h.date, std::regex(R"(\d\d-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-20\d\d)")));
  CHECK(std::regex_match(h.time, std::regex(R"(\d\d:\d\d:\d\d)")));

  const ParsedMat m = parse_mat_file(files.data);
  CHECK(m.head == std::vector<int32_t>{30, 12, 5000, 0, 4});
  CHECK(m.name == std::string("val\0", 4));
  CHECK(m.file_size == 24u + 2u * 12u * 5000u);
  REQUIRE(m.data.size() == 12u * 5000u);

  double worst_mv = 0.0;
  for (int l = 0; l < 12; ++l) {
    const HeaderLead& lead = h.leads[static_cast<size_t>(l)];
    CAPTURE(lead.name);
    CHECK(lead.file == "SY000042.mat");
    CHECK(lead.format == "16+24");
    CHECK(lead.gain == "1000/mV");
    CHECK(lead.adc_res == "16");
    CHECK(lead.adc_zero == "0");
    CHECK(lead.block == 0);
    CHECK(lead.name == kLeadNames[static_cast<size_t>(l)]);
    // init value = first sample; checksum = the samples' sum wrapped to int16.
    CHECK(lead.init == m.data[static_cast<size_t>(l)]);
    int64_t sum = 0;
    for (int64_t s = 0; s < 5000; ++s) sum += m.data[static_cast<size_t>(s * 12 + l)];
    CHECK(lead.checksum == static_cast<int16_t>(static_cast<uint16_t>(sum & 0xFFFF)));
    // Column-major (sample-interleaved) microvolts of the generated signal.
    for (int64_t s = 0; s < 5000; ++s)
      worst_mv = std::max(worst_mv, std::abs(m.data[static_cast<size_t>(s * 12 + l)] / 1000.0 - rec.lead(l)[s]));
  }
  CHECK(worst_mv <= 0.0005 + 1e-7);  // rounding to 1 uV

  REQUIRE(h.comments.size() == 6);
  CHECK(h.comments[0] == "#Age: " + std::to_string(rec.age));
  CHECK(h.comments[1] == std::string("#Sex: ") + (rec.male ? "Male" : "Female"));
  CHECK(h.comments[2] == "#Dx: " + rec.labels.snomed_codes());
  CHECK(h.comments[3] == "#Rx: Unknown");
  CHECK(h.comments[4] == "#Hx: Unknown");
  CHECK(h.comments[5] == "#Sx: Unknown");
  CHECK(read_text(files.header).find('\r') == std::string::npos);
}

TEST_CASE("synth formats: headers have the layout of the real Challenge files" *
          doctest::skip(missing_fixture(agf::test::fixtures_dir() / "challenge2021" / "records" / "JS20005.hea"))) {
  const auto records = agf::test::fixtures_dir() / "challenge2021" / "records";
  TempDir dir("challenge_layout");
  write_challenge_record(generate_record(SynthConfig{}, 1, 0), dir.path(), "SY000001");
  const ParsedHeader ours = parse_header_file(dir.path() / "SY000001.hea");
  const ParsedMat our_mat = parse_mat_file(dir.path() / "SY000001.mat");
  for (const char* name : {"JS20005", "JS20017", "E07509"}) {
    CAPTURE(name);
    const ParsedHeader real = parse_header_file(records / (std::string(name) + ".hea"));
    const ParsedMat real_mat = parse_mat_file(records / (std::string(name) + ".mat"));
    CHECK(real_mat.head == our_mat.head);  // same type code, shape, imag flag, name length
    CHECK(real_mat.name == our_mat.name);
    CHECK(real_mat.file_size == our_mat.file_size);
    CHECK(real.n_leads == ours.n_leads);
    CHECK(real.fs == ours.fs);
    CHECK(real.n_samples == ours.n_samples);
    for (size_t l = 0; l < 12; ++l) {
      CHECK(real.leads[l].format == ours.leads[l].format);
      CHECK(real.leads[l].gain == ours.leads[l].gain);
      CHECK(real.leads[l].adc_res == ours.leads[l].adc_res);
      CHECK(real.leads[l].adc_zero == ours.leads[l].adc_zero);
      CHECK(real.leads[l].block == ours.leads[l].block);
      CHECK(real.leads[l].name == ours.leads[l].name);
      // The fixture's own init/checksum fields follow the rule ours follow.
      CHECK(real.leads[l].init == real_mat.data[l]);
    }
    std::vector<std::string> real_keys, our_keys;
    for (const auto& c : real.comments) real_keys.push_back(c.substr(0, c.find(':')));
    for (const auto& c : ours.comments) our_keys.push_back(c.substr(0, c.find(':')));
    if (std::string(name) != "E07509") CHECK(real_keys == our_keys);  // Georgia has no #Sx
  }
}

TEST_CASE("synth formats: Einthoven's identities hold in the written int16 data to rounding") {
  TempDir dir("einthoven");
  int worst = 0;
  for (int64_t i = 0; i < 6; ++i) {
    const SynthRecord rec = generate_record(SynthConfig{}, 9, i);
    write_challenge_record(rec, dir.path(), challenge_record_name(i));
    const ParsedMat m = parse_mat_file(dir.path() / (challenge_record_name(i) + ".mat"));
    for (int64_t s = 0; s < rec.n_samples; ++s) {
      const auto v = [&](int l) { return static_cast<double>(m.data[static_cast<size_t>(s * 12 + l)]); };
      const double i1 = v(kI), i2 = v(kII);
      worst = std::max({worst, static_cast<int>(std::ceil(std::abs(v(kIII) - (i2 - i1)) - 1e-9)),
                        static_cast<int>(std::ceil(std::abs(v(kAVR) + (i1 + i2) / 2) - 1e-9)),
                        static_cast<int>(std::ceil(std::abs(v(kAVL) - (i1 - i2 / 2)) - 1e-9)),
                        static_cast<int>(std::ceil(std::abs(v(kAVF) - (i2 - i1 / 2)) - 1e-9))});
    }
  }
  MESSAGE("largest Einthoven/Goldberger residual: ", worst, " ADC unit(s) of 1 uV");
  CHECK(worst <= 2);  // each of the three terms rounds by <= 0.5 unit
}

TEST_CASE("synth formats: the same seed gives identical bytes for any thread count; another seed differs") {
  TempDir a("det_a"), b("det_b"), c("det_c");
  ChallengeSetOptions o;
  o.n = 9;
  o.seed = 1234;
  o.out_dir = a.path();
  o.threads = 1;
  const SetSummary sa = write_challenge_set(o);
  o.out_dir = b.path();
  o.threads = 3;
  write_challenge_set(o);
  o.out_dir = c.path();
  o.seed = 1235;
  write_challenge_set(o);
  CHECK(sa.records == 9);
  const auto names = files_in(a.path());
  CHECK(names.size() == 18);
  CHECK(names == files_in(b.path()));
  int differing = 0;
  for (const auto& n : names) {
    CAPTURE(n);
    CHECK(read_bytes(a.path() / n) == read_bytes(b.path() / n));
    differing += read_bytes(a.path() / n) != read_bytes(c.path() / n) ? 1 : 0;
  }
  CHECK(differing == 18);
  // In memory too: a record is a pure function of (config, seed, index).
  CHECK(generate_record(SynthConfig{}, 77, 5).mv == generate_record(SynthConfig{}, 77, 5).mv);
  CHECK(generate_record(SynthConfig{}, 77, 5).mv != generate_record(SynthConfig{}, 77, 6).mv);
}

TEST_CASE("synth formats: bad options are refused with a message naming them, and leave no files") {
  TempDir dir("bad");
  ChallengeSetOptions o;
  o.out_dir = dir.path() / "out";
  o.n = 3;
  o.config.fs = 20.0;
  CHECK_THROWS_WITH_AS(write_challenge_set(o), doctest::Contains("--fs 20"), agf::Error);
  o.config.fs = 500.0;
  o.n = 0;
  CHECK_THROWS_WITH_AS(write_challenge_set(o), doctest::Contains("--n 0"), agf::Error);
  o.n = 3;
  o.config.noise_scale = -1.0;
  CHECK_THROWS_WITH_AS(write_challenge_set(o), doctest::Contains("--noise"), agf::Error);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "out"));
  // An output "folder" that is a file.
  agf::io::write_file_atomically(dir.path() / "plain", "x");
  o.config.noise_scale = 1.0;
  o.out_dir = dir.path() / "plain";
  CHECK_THROWS_WITH_AS(write_challenge_set(o), doctest::Contains("plain"), agf::Error);
  // A folder that vanishes: the write fails naming the file, and no temporary file is left behind.
  CHECK_THROWS_AS(write_challenge_record(generate_record(SynthConfig{}, 1, 0), dir.path() / "missing", "SY000001"),
                  agf::Error);
  CHECK(files_in(dir.path()) == std::vector<std::string>{"plain"});
}

TEST_CASE("synth formats: CODE-15 parts, dummy rows, padding and exams.csv") {
  TempDir dir("code15");
  Code15SetOptions o;
  o.out_dir = dir.path();
  o.n = 14;
  o.parts = 2;
  o.seed = 31;
  o.threads = 2;
  const SetSummary summary = write_code15_set(o);
  CHECK(summary.records == 14);
  CHECK(files_in(dir.path()) == std::vector<std::string>{"exams.csv", "exams_part0.hdf5", "exams_part1.hdf5"});

  // exams.csv: the real header, one row per exam, True/False booleans, rows not in file order.
  std::istringstream csv(read_text(dir.path() / "exams.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,death,timey,"
                "trace_file");
  std::map<int64_t, std::vector<std::string>> by_id;
  std::vector<int64_t> csv_order;
  while (std::getline(csv, line)) {
    const auto cells = split_csv_line(line);
    REQUIRE(cells.size() == 15);
    for (int c : {2, 4, 5, 6, 7, 8, 9, 11}) CHECK((cells[static_cast<size_t>(c)] == "True" || cells[static_cast<size_t>(c)] == "False"));
    CHECK((cells[12].empty() || cells[12] == "True" || cells[12] == "False"));
    by_id[std::stoll(cells[0])] = cells;
    csv_order.push_back(std::stoll(cells[0]));
  }
  CHECK(by_id.size() == 14);

  std::vector<int64_t> file_order;
  int seen_10s = 0, seen_7s = 0;
  int64_t index = 0;
  for (int part = 0; part < 2; ++part) {
    const std::string name = "exams_part" + std::to_string(part) + ".hdf5";
    H5::H5File f((dir.path() / name).string(), H5F_ACC_RDONLY);
    H5::DataSet tracings = f.openDataSet("tracings"), ids = f.openDataSet("exam_id");
    CHECK(tracings.getTypeClass() == H5T_FLOAT);
    CHECK(tracings.getFloatType().getSize() == 4);
    CHECK(ids.getTypeClass() == H5T_INTEGER);
    CHECK(ids.getIntType().getSize() == 8);
    hsize_t dims[3] = {0, 0, 0}, id_dims[1] = {0};
    REQUIRE(tracings.getSpace().getSimpleExtentNdims() == 3);
    tracings.getSpace().getSimpleExtentDims(dims);
    ids.getSpace().getSimpleExtentDims(id_dims);
    const hsize_t exams = part == 0 ? 7 : 7;
    CHECK(dims[0] == exams + 1);
    CHECK(dims[1] == 4096);
    CHECK(dims[2] == 12);
    CHECK(id_dims[0] == exams + 1);
    std::vector<float> data(dims[0] * dims[1] * dims[2]);
    std::vector<int64_t> exam_ids(id_dims[0]);
    tracings.read(data.data(), H5::PredType::NATIVE_FLOAT);
    ids.read(exam_ids.data(), H5::PredType::NATIVE_INT64);
    // The dummy last row.
    CHECK(exam_ids.back() == 0);
    CHECK(std::all_of(data.end() - 4096 * 12, data.end(), [](float v) { return v == 0.0f; }));
    for (hsize_t r = 0; r < exams; ++r, ++index) {
      CAPTURE(index);
      const int64_t id = exam_ids[r];
      file_order.push_back(id);
      REQUIRE(by_id.count(id) == 1);
      const auto& row = by_id[id];
      CHECK(row[14] == name);
      // Zero padding on both sides, of equal length; the exam inside equals the generator's output.
      const double seconds = code15_exam_seconds(o.seed, index);
      SynthConfig cfg;
      cfg.fs = 400.0;
      cfg.seconds = seconds;
      const SynthRecord rec = generate_record(cfg, o.seed, index);
      (seconds == 10.0 ? seen_10s : seen_7s) += 1;
      const int64_t pad = (4096 - rec.n_samples) / 2;
      CHECK(pad == (seconds == 10.0 ? 48 : 648));
      const float* exam = data.data() + r * 4096 * 12;
      bool pads_zero = true, inside_equal = true;
      for (int64_t s = 0; s < 4096; ++s)
        for (int l = 0; l < 12; ++l) {
          const float v = exam[s * 12 + l];
          if (s < pad || s >= pad + rec.n_samples)
            pads_zero &= v == 0.0f;
          else
            inside_equal &= v == rec.lead(l)[s - pad];
        }
      CHECK(pads_zero);
      CHECK(inside_equal);
      // The labels joined on exam_id are the record's.
      const auto expected = code15_labels(rec.labels);
      for (size_t k = 0; k < 6; ++k) CHECK(row[4 + k] == (expected[k] ? "True" : "False"));
      CHECK(row[1] == std::to_string(rec.age));
    }
  }
  CHECK(seen_10s > 0);
  CHECK(seen_7s > 0);
  CHECK(std::set<int64_t>(file_order.begin(), file_order.end()) == std::set<int64_t>(csv_order.begin(), csv_order.end()));
  CHECK(file_order != csv_order);
}

TEST_CASE("synth formats: CODE-15 output is byte-identical on a re-run") {
  TempDir a("c15_a"), b("c15_b");
  Code15SetOptions o;
  o.n = 5;
  o.seed = 8;
  o.out_dir = a.path();
  o.threads = 1;
  write_code15_set(o);
  o.out_dir = b.path();
  o.threads = 2;
  write_code15_set(o);
  for (const char* n : {"exams.csv", "exams_part0.hdf5"}) {
    CAPTURE(n);
    CHECK(read_bytes(a.path() / n) == read_bytes(b.path() / n));
  }
}
