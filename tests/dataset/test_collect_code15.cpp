// agf-collect's library on a small CODE-15% folder written here: parts in numeric order, the dummy rows skipped,
// labels joined on exam_id, an exam missing from exams.csv skipped, preprocessing at 400 Hz, byte-identical re-runs;
// and on a synthetic release with a damaged part and a missing one, whose exams are skipped by name.
#include <doctest/doctest.h>

#include <H5Cpp.h>

#include "dataset/dataset_test_util.h"
#include "ecg/code15.h"
#include "dataset/collect.h"
#include "dataset/dataset_reader.h"
#include "ecg/preprocess.h"
#include "ecg/synth/synth_set.h"

using namespace agf;
using namespace agf::ecg;
using namespace agf::dataset;
using namespace agf::dataset::test;

namespace {

constexpr hsize_t kSamples = 4096, kLeads = 12;

// A smooth multi-sine per exam and lead, so the band-pass has something to pass.
float tracing_value(int64_t id, size_t s, size_t l) {
  const double t = static_cast<double>(s) / 400.0;
  return static_cast<float>(0.5 * std::sin(2 * M_PI * (3.0 + 0.1 * static_cast<double>(l)) * t) +
                            0.01 * static_cast<double>(id % 17) * std::cos(2 * M_PI * 11.0 * t));
}

// (N, 4096, 12) float32 + exam_id; the caller passes the trailing dummy 0 itself.
void write_part(const fs::path& p, const std::vector<int64_t>& ids) {
  H5::H5File f(p.string(), H5F_ACC_TRUNC);
  const hsize_t n = ids.size();
  std::vector<float> data(n * kSamples * kLeads);
  for (size_t r = 0; r < n; ++r)
    for (size_t s = 0; s < kSamples; ++s)
      for (size_t l = 0; l < kLeads; ++l)
        data[(r * kSamples + s) * kLeads + l] = ids[r] == 0 ? 0.0f : tracing_value(ids[r], s, l);
  const hsize_t dims[3] = {n, kSamples, kLeads};
  H5::DataSpace space(3, dims);
  H5::DataSet ds = f.createDataSet("tracings", H5::PredType::IEEE_F32LE, space);
  ds.write(data.data(), H5::PredType::NATIVE_FLOAT);
  const hsize_t id_dims[1] = {n};
  H5::DataSpace id_space(1, id_dims);
  H5::DataSet ids_ds = f.createDataSet("exam_id", H5::PredType::STD_I64LE, id_space);
  ids_ds.write(ids.data(), H5::PredType::NATIVE_INT64);
}

const char* kExamsCsv =
    "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,death,timey,trace_file\n"
    "333,81,False,77.5,False,True,False,False,True,False,9001,False,True,1.25,exams_part2.hdf5\n"
    "999,40,True,41.0,False,False,False,False,False,False,9002,True,,,exams_part10.hdf5\n"
    "1002,57,True,60.25,True,False,False,True,False,False,9003,False,False,3.5,exams_part2.hdf5\n"
    "57,33,False,35.0,False,False,True,False,False,True,9004,False,,,exams_part2.hdf5\n";

fs::path write_code15(const fs::path& root) {
  const fs::path d = root / "code15";
  fs::create_directories(d);
  write_part(d / "exams_part2.hdf5", {1002, 57, 333, 0});
  write_part(d / "exams_part10.hdf5", {999, 4242, 0});  // 4242 has no row in exams.csv
  write_bytes(d / "exams.csv", kExamsCsv);
  write_bytes(d / "exams_part_notes.txt", "not a part");
  return d;
}

CollectSettings quiet(const fs::path& out, int threads = 2) {
  CollectSettings s;
  s.out_dir = out;
  s.threads = threads;
  s.progress = false;
  return s;
}

}  // namespace

TEST_CASE("collect code15: parts in numeric order, labels joined on exam_id, missing exams skipped") {
  ScratchDir in, out;
  Code15Source src;
  src.dir = write_code15(in.path());
  CHECK(find_code15_parts(src.dir) ==
        std::vector<fs::path>{src.dir / "exams_part2.hdf5", src.dir / "exams_part10.hdf5"});
  const CollectReport rep = collect_code15(src, quiet(out.path()));
  MESSAGE(rep.summary());
  CHECK(rep.found == 5);
  CHECK(rep.skips.skipped(RecordProblem::missing_labels) == 1);
  CHECK(rep.written == 4);
  CHECK(rep.dropped_unlabelled == 0);  // 999 (a normal exam) is kept with all-zero labels
  CHECK(rep.output == out / "code15.h5");

  DatasetReader r(rep.output);
  CHECK(r.record_ids() == std::vector<std::string>{"1002", "57", "333", "999"});
  CHECK(r.classes() == code15_classes());
  CHECK(r.classes()[0] == DatasetClass{"270492004", "1dAVb"});
  //                                          1dAVb RBBB LBBB SB AF ST
  CHECK(r.labels() == std::vector<uint8_t>{1, 0, 0, 1, 0, 0,     // 1002
                                           0, 0, 1, 0, 0, 1,     // 57
                                           0, 1, 0, 0, 1, 0,     // 333
                                           0, 0, 0, 0, 0, 0});   // 999
  CHECK(r.fs() == 400.0);
  CHECK(r.length() == 4096);
  CHECK(r.info().source == "code15:exams_part2.hdf5,exams_part10.hdf5");
  CHECK(r.info().label_min_count == -1);

  // Exam 333 stored exactly as the preprocessing at 400 Hz makes it.
  Code15Part part(src.dir / "exams_part2.hdf5");
  PreprocessConfig cfg;
  cfg.length = 4096;
  const Tensor expect = preprocess(part.read(2), cfg);
  const Tensor got = r.read_signals(std::vector<int64_t>{2});
  CHECK(got.to_vector<float>() == expect.to_vector<float>());
  // z-scored: a lead has mean ~0 and std ~1 over the exam.
  double mean = 0, sq = 0;
  const float* lead0 = got.data<float>();
  for (int64_t s = 0; s < 4096; ++s) mean += lead0[s];
  mean /= 4096;
  for (int64_t s = 0; s < 4096; ++s) sq += (lead0[s] - mean) * (lead0[s] - mean);
  CHECK(std::abs(mean) < 1e-5);
  CHECK(std::sqrt(sq / 4096) == doctest::Approx(1.0).epsilon(1e-4));
}

TEST_CASE("collect code15: options, byte-identical re-runs, strict, missing pieces") {
  ScratchDir in, a, b;
  Code15Source src;
  src.dir = write_code15(in.path());
  src.name = "c15";
  src.length = 3000;
  src.drop_unlabelled = true;
  const CollectReport ra = collect_code15(src, quiet(a.path(), 1));
  const CollectReport rb = collect_code15(src, quiet(b.path(), 2));
  CHECK(ra.written == 3);
  CHECK(ra.dropped_unlabelled == 1);
  CHECK(DatasetReader(ra.output).length() == 3000);
  CHECK(file_bytes(ra.output) == file_bytes(rb.output));

  ScratchDir strict_out;
  auto strict = quiet(strict_out.path());
  strict.strict = true;
  CHECK_THROWS_WITH_AS(collect_code15(src, strict), doctest::Contains("code15:4242"), RecordError);
  CHECK(fs::is_empty(strict_out.path()));

  fs::remove(src.dir / "exams.csv");
  CHECK_THROWS_WITH_AS(collect_code15(src, quiet(strict_out.path())), doctest::Contains("exams.csv not found"),
                       Error);
  ScratchDir empty;
  write_bytes(empty / "exams.csv", kExamsCsv);
  src.dir = empty.path();
  CHECK_THROWS_WITH_AS(collect_code15(src, quiet(strict_out.path())), doctest::Contains("no exams_part<N>.hdf5"),
                       Error);
}

TEST_CASE("collect code15: a damaged part and a missing part cost their exams, each named, not the run") {
  ScratchDir in, out, strict_out;
  synth::Code15SetOptions opt;
  opt.out_dir = in / "code15";
  opt.n = 12;
  opt.parts = 3;  // exams 0-3 in part 0, 4-7 in part 1, 8-11 in part 2
  opt.threads = 2;
  opt.progress_interval_s = 1e9;
  synth::write_code15_set(opt);
  const ecg::Code15ExamTable table = ecg::Code15ExamTable::load(opt.out_dir / "exams.csv");
  std::map<std::string, std::vector<int64_t>> by_part;  // trace_file -> exam ids, in exams.csv order
  for (const ecg::Code15Exam& e : table.exams()) by_part[e.trace_file].push_back(e.exam_id);
  REQUIRE(by_part.size() == 3);
  REQUIRE(by_part["exams_part1.hdf5"].size() == 4);
  // Part 1 loses its second half (HDF5 refuses to open a file shorter than its superblock says); part 2 is gone.
  const fs::path part1 = opt.out_dir / "exams_part1.hdf5";
  fs::resize_file(part1, fs::file_size(part1) / 2);
  fs::remove(opt.out_dir / "exams_part2.hdf5");

  Code15Source src;
  src.dir = opt.out_dir;
  const CollectReport rep = collect_code15(src, quiet(out.path()));
  MESSAGE(rep.summary());
  CHECK(rep.found == 12);
  CHECK(rep.written == 4);
  std::vector<std::string> part0;
  const ecg::Code15Part first(opt.out_dir / "exams_part0.hdf5");
  for (int64_t id : first.exam_ids()) part0.push_back(std::to_string(id));
  CHECK(DatasetReader(rep.output).record_ids() == part0);
  CHECK(DatasetReader(rep.output).info().source == "code15:exams_part0.hdf5");
  CHECK(rep.skips.skipped(RecordProblem::bad_data_file) == 4);
  CHECK(rep.skips.skipped(RecordProblem::missing_file) == 4);
  CHECK(rep.summary().find("skipped: 8 skipped of 12 (missing_file 4, bad_data_file 4)") != std::string::npos);

  // The table names every exam of the two parts, in exams.csv's order, with its part and the reason.
  std::vector<std::string> want_rows, want_messages;
  for (const ecg::Code15Exam& e : table.exams()) {
    if (e.trace_file == "exams_part1.hdf5") {
      want_rows.push_back(fmt::format("code15:{},bad_data_file,skipped,", e.exam_id));
      want_messages.push_back(fmt::format("record code15:{}: its part exams_part1.hdf5 cannot be read (record "
                                          "exams_part1.hdf5: {}: HDF5 error",
                                          e.exam_id, part1.string()));
    }
    if (e.trace_file == "exams_part2.hdf5") {
      want_rows.push_back(fmt::format("code15:{},missing_file,skipped,", e.exam_id));
      want_messages.push_back(fmt::format("record code15:{}: exams.csv places it in exams_part2.hdf5, which is not "
                                          "in {}",
                                          e.exam_id, opt.out_dir.string()));
    }
  }
  const std::string skipped = file_bytes(rep.skipped_table);
  std::vector<std::string> rows;
  for (size_t at = skipped.find('\n') + 1, end; at < skipped.size(); at = end + 1) {
    end = skipped.find("\ncode15:", at);
    if (end == std::string::npos) end = skipped.size() - 1;
    rows.push_back(skipped.substr(at, end - at));
  }
  REQUIRE(rows.size() == want_rows.size());
  REQUIRE(rep.skips.records().size() == want_messages.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK_MESSAGE(rows[i].starts_with(want_rows[i]), rows[i]);
    CHECK_MESSAGE(rep.skips.records()[i].message.starts_with(want_messages[i]), rep.skips.records()[i].message);
  }

  // --strict: the damaged part ends the run, before anything is written.
  auto strict = quiet(strict_out.path());
  strict.strict = true;
  CHECK_THROWS_WITH_AS(collect_code15(src, strict), doctest::Contains("exams_part1.hdf5"), RecordError);
  CHECK(fs::is_empty(strict_out.path()));
  // With the damaged part gone too, the missing one is what ends it.
  fs::remove(part1);
  CHECK_THROWS_WITH_AS(collect_code15(src, strict), doctest::Contains("exams.csv places it in exams_part"),
                       RecordError);
  CHECK(fs::is_empty(strict_out.path()));
}
