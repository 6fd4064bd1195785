// CODE-15%: a tiny part written here with the HDF5 C++ API (no binary fixture) and an exams.csv out of file order.
#include <doctest/doctest.h>

#include <H5Cpp.h>

#include "ecg/code15.h"
#include "ecg/csv_table.h"
#include "ecg/record_error.h"
#include "ecg_test_util.h"

using namespace agf::ecg;
using namespace agf::ecg::test;

namespace {

constexpr hsize_t kSamples = 4096, kLeads = 12;

float tracing_value(size_t row, size_t s, size_t l) {
  return static_cast<float>(row) * 10.0f + static_cast<float>(l) * 0.5f + static_cast<float>(s % 97) * 0.001f;
}

// Rows as CODE-15 stores them: (N, 4096, 12) float32; exam_id (N,) int64. The caller passes the dummy's 0 itself.
void write_part(const fs::path& p, const std::vector<int64_t>& ids, hsize_t leads = kLeads,
                bool with_tracings = true) {
  H5::H5File f(p.string(), H5F_ACC_TRUNC);
  const hsize_t n = ids.size();
  if (with_tracings) {
    std::vector<float> data(n * kSamples * leads);
    for (size_t r = 0; r < n; ++r)
      for (size_t s = 0; s < kSamples; ++s)
        for (size_t l = 0; l < leads; ++l)
          data[(r * kSamples + s) * leads + l] = ids[r] == 0 ? 0.0f : tracing_value(r, s, l);
    const hsize_t dims[3] = {n, kSamples, leads};
    H5::DataSpace space(3, dims);
    H5::DataSet ds = f.createDataSet("tracings", H5::PredType::IEEE_F32LE, space);
    ds.write(data.data(), H5::PredType::NATIVE_FLOAT);
  }
  const hsize_t id_dims[1] = {n};
  H5::DataSpace id_space(1, id_dims);
  H5::DataSet ids_ds = f.createDataSet("exam_id", H5::PredType::STD_I64LE, id_space);
  ids_ds.write(ids.data(), H5::PredType::NATIVE_INT64);
}

const char* kExamsCsv =
    "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,death,timey,trace_file\n"
    "333,81,False,77.5,False,True,False,False,True,False,9001,False,True,1.25,exams_part0.hdf5\n"
    "999,40,True,41.0,False,False,False,False,False,False,9002,True,,,exams_part7.hdf5\n"
    "1002,57,True,60.25,True,False,False,True,False,False,9003,False,False,3.5,exams_part0.hdf5\n"
    "57,33,False,35.0,False,False,True,False,False,True,9004,False,,,exams_part0.hdf5\n";

RecordProblem open_problem(const fs::path& p) {
  try {
    Code15Part part(p);
  } catch (const RecordError& e) {
    MESSAGE("expected error: " << std::string(e.what()));
    return e.problem();
  }
  FAIL("opened although it should not: " << p.string());
  return RecordProblem::bad_data_file;
}

}  // namespace

TEST_CASE("code15: exams read by index with hyperslabs; the dummy last row is skipped") {
  ScratchDir dir;
  write_part(dir / "exams_part0.hdf5", {1002, 57, 333, 0});
  Code15Part part(dir / "exams_part0.hdf5");
  CHECK(part.size() == 3);
  CHECK(part.samples_per_exam() == 4096);
  CHECK(part.leads() == 12);
  CHECK(part.exam_ids() == std::vector<int64_t>{1002, 57, 333});

  std::vector<float> raw(4096 * 12);
  part.read_raw(2, raw.data());
  CHECK(raw[0] == tracing_value(2, 0, 0));
  CHECK(raw[100 * 12 + 7] == tracing_value(2, 100, 7));

  Signal s = part.read(1);
  CHECK(s.id == "code15:57");
  CHECK(s.fs == 400.0);
  CHECK(s.n_samples == 4096);
  CHECK(s.lead_names.size() == 12);
  CHECK(s.lead_names[3] == "aVR");
  CHECK(s.lead(5)[1234] == static_cast<double>(tracing_value(1, 1234, 5)));  // lead-major after transposition
  CHECK(s.lead(11)[4095] == static_cast<double>(tracing_value(1, 4095, 11)));
  CHECK_THROWS_WITH_AS(part.read(3), doctest::Contains("exam index 3 outside 0..2"), agf::Error);

  // A part whose last row is a real exam keeps it.
  write_part(dir / "exams_part1.hdf5", {5, 6});
  CHECK(Code15Part(dir / "exams_part1.hdf5").size() == 2);
}

TEST_CASE("code15: exams.csv joined on exam_id, not on file order") {
  ScratchDir dir;
  write_part(dir / "exams_part0.hdf5", {1002, 57, 333, 0});
  write_bytes(dir / "exams.csv", kExamsCsv);
  Code15Part part(dir / "exams_part0.hdf5");
  Code15ExamTable exams = Code15ExamTable::load(dir / "exams.csv");
  CHECK(exams.size() == 4);

  const Code15Exam& e0 = exams.at(part.exam_id(0));  // 1002: third row of the csv
  CHECK(e0.exam_id == 1002);
  CHECK(e0.labels == std::array<uint8_t, 6>{1, 0, 0, 1, 0, 0});  // 1dAVb, SB
  CHECK(e0.age == 57.0);
  CHECK(e0.is_male);
  CHECK(e0.nn_predicted_age == 60.25);
  CHECK(e0.patient_id == 9003);
  CHECK(e0.death == false);
  CHECK(e0.timey == 3.5);
  const Code15Exam& e1 = exams.at(part.exam_id(1));  // 57
  CHECK(e1.labels == std::array<uint8_t, 6>{0, 0, 1, 0, 0, 1});  // LBBB, ST
  CHECK_FALSE(e1.death.has_value());
  CHECK_FALSE(e1.timey.has_value());
  const Code15Exam& e2 = exams.at(part.exam_id(2));  // 333
  CHECK(e2.labels == std::array<uint8_t, 6>{0, 1, 0, 0, 1, 0});  // RBBB, AF
  CHECK_FALSE(e2.is_male);
  CHECK(e2.trace_file == "exams_part0.hdf5");
  CHECK(exams.find(999)->normal_ecg);

  try {
    exams.at(4242);
    FAIL("no error");
  } catch (const RecordError& e) {
    CHECK(e.problem() == RecordProblem::missing_labels);
    CHECK(e.record() == "code15:4242");
  }

  write_bytes(dir / "dup.csv", std::string(kExamsCsv) +
                                   "57,33,False,35.0,False,False,True,False,False,True,9004,False,,,exams_part0.hdf5\n");
  CHECK_THROWS_WITH_AS(Code15ExamTable::load(dir / "dup.csv"), doctest::Contains("exam_id 57 already appeared"),
                       agf::Error);
  write_bytes(dir / "bad.csv", "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,"
                               "death,timey,trace_file\n1,2,Maybe,3,False,False,False,False,False,False,1,False,,,p\n");
  CHECK_THROWS_WITH_AS(Code15ExamTable::load(dir / "bad.csv"),
                       doctest::Contains("data row 1 column 'is_male': 'Maybe' is not True or False"), agf::Error);
  write_bytes(dir / "short.csv", "exam_id,age\n1,2\n");
  CHECK_THROWS_WITH_AS(Code15ExamTable::load(dir / "short.csv"), doctest::Contains("no column 'is_male'"), agf::Error);
}

TEST_CASE("csv: integer cells written as floats are range-checked before conversion") {
  const CsvTable t = CsvTable::parse("id,n\na,123.0\nb,1e300\nc,-1e300\nd,9223372036854775807.0\ne,"
                                     "-9223372036854775808.0\nf,2.5\ng,-4e18\n",
                                     "t.csv");
  CHECK(t.int_cell(0, 1) == 123);  // pandas writes integer columns holding a missing value as floats
  CHECK_THROWS_WITH_AS(t.int_cell(1, 1),
                       doctest::Contains("t.csv data row 2 column 'n': '1e300' is outside the 64-bit integer range"),
                       agf::Error);
  CHECK_THROWS_WITH_AS(t.int_cell(2, 1), doctest::Contains("'-1e300' is outside the 64-bit integer range"),
                       agf::Error);
  // 2^63 - 1 rounds to 2^63 in double: one past the top.
  CHECK_THROWS_WITH_AS(t.int_cell(3, 1), doctest::Contains("row 4 column 'n'"), agf::Error);
  CHECK(t.int_cell(4, 1) == INT64_MIN);  // -2^63 is exact
  CHECK_THROWS_WITH_AS(t.int_cell(5, 1), doctest::Contains("'2.5' is not an integer"), agf::Error);
  CHECK(t.int_cell(6, 1) == -4000000000000000000);
}

TEST_CASE("code15: dims declared by a part are bounded before they size an allocation") {
  // A chunked dataset that is never written costs the file nothing, whatever extent it declares: a 2 KB part can
  // claim 2^34 samples per exam, or 2^30 exams.
  ScratchDir dir;
  auto craft = [&](const std::string& name, hsize_t n, hsize_t samples, hsize_t leads, hsize_t n_ids) {
    const fs::path p = dir / name;
    H5::H5File f(p.string(), H5F_ACC_TRUNC);
    const hsize_t dims[3] = {n, samples, leads}, chunk[3] = {1, 1024, leads};
    H5::DSetCreatPropList tp;
    tp.setChunk(3, chunk);
    f.createDataSet("tracings", H5::PredType::IEEE_F32LE, H5::DataSpace(3, dims), tp);
    // A fixed-size dataset's chunk may not exceed its extent.
    const hsize_t id_dims[1] = {n_ids}, id_chunk[1] = {std::min<hsize_t>(n_ids, 1024)};
    H5::DSetCreatPropList ip;
    ip.setChunk(1, id_chunk);
    f.createDataSet("exam_id", H5::PredType::STD_I64LE, H5::DataSpace(1, id_dims), ip);
    return p;
  };
  const fs::path long_exams = craft("long.hdf5", 3, hsize_t{1} << 34, 12, 3);
  CHECK(fs::file_size(long_exams) < 20000);
  const std::string want_long = long_exams.string() + ": 'tracings' has 17179869184 samples per exam, more than " +
                                std::to_string(kCode15MaxSamplesPerExam);
  CHECK_THROWS_WITH_AS(Code15Part{long_exams}, doctest::Contains(want_long.c_str()), RecordError);
  CHECK(open_problem(long_exams) == RecordProblem::bad_data_file);

  const fs::path many = craft("many.hdf5", hsize_t{1} << 30, 4096, 12, hsize_t{1} << 30);
  const std::string want_many = many.string() + ": 'tracings' has 1073741824 exams, more than " +
                                std::to_string(kCode15MaxExamsPerPart);
  CHECK_THROWS_WITH_AS(Code15Part{many}, doctest::Contains(want_many.c_str()), RecordError);

  const fs::path mismatch = craft("mismatch.hdf5", 3, 4096, 12, hsize_t{1} << 30);
  CHECK_THROWS_WITH_AS(Code15Part{mismatch},
                       doctest::Contains("'exam_id' has shape (1073741824), expected (3,) as 'tracings'"), RecordError);

  const fs::path wide = craft("wide.hdf5", 3, 4096, 13, 3);
  CHECK_THROWS_WITH_AS(Code15Part{wide}, doctest::Contains("'tracings' has shape (3, 4096, 13)"), RecordError);

  // Within the bounds, a never-written part opens: its exams read as HDF5's fill value (zeros, ids 0).
  const fs::path empty = craft("unwritten.hdf5", 3, 4096, 12, 3);
  Code15Part part(empty);
  CHECK(part.size() == 2);  // the last id, 0, is taken for the dummy row
}

TEST_CASE("code15: element widths declared by a part are bounded before a read converts them") {
  // A valid HDF5 float or integer type may be up to 4 GiB wide, and HDF5 converts at least one element at a time: a
  // 2 KB part whose 'tracings' were 1 GiB-wide floats made each exam read allocate 1 GiB and take seconds
  // (tests/fuzz/fuzz_code15, found_wide_float). 16 MiB here keeps the test quick; any width past 16 bytes is refused.
  ScratchDir dir;
  auto craft = [&](const std::string& name, size_t tracing_bytes, size_t id_bytes, bool write) {
    const fs::path p = dir / name;
    H5::H5File f(p.string(), H5F_ACC_TRUNC);
    H5::FloatType ft(H5::PredType::IEEE_F32LE);
    ft.setSize(tracing_bytes);  // the 32-bit float padded to this width: valid HDF5
    H5::IntType it(H5::PredType::STD_I64LE);
    it.setSize(id_bytes);
    const hsize_t dims[3] = {3, 64, kLeads}, id_dims[1] = {3};
    H5::DataSet tr = f.createDataSet("tracings", ft, H5::DataSpace(3, dims));
    H5::DataSet ids = f.createDataSet("exam_id", it, H5::DataSpace(1, id_dims));
    if (write) {
      std::vector<float> data(3 * 64 * kLeads);
      for (size_t i = 0; i < data.size(); ++i)
        data[i] = tracing_value(i / (64 * kLeads), (i / kLeads) % 64, i % kLeads);
      tr.write(data.data(), H5::PredType::NATIVE_FLOAT);
      const int64_t id_values[3] = {41, 42, 0};
      ids.write(id_values, H5::PredType::NATIVE_INT64);
    }
    return p;
  };
  const size_t huge = size_t{1} << 24;
  const fs::path wide_float = craft("wide_float.hdf5", huge, 8, false);
  CHECK(fs::file_size(wide_float) < 20000);
  CHECK_THROWS_WITH_AS(Code15Part{wide_float}, doctest::Contains("'tracings' holds 16777216-byte floats"), RecordError);
  CHECK(open_problem(wide_float) == RecordProblem::bad_data_file);
  const fs::path wide_ids = craft("wide_ids.hdf5", 4, huge, false);
  CHECK_THROWS_WITH_AS(Code15Part{wide_ids}, doctest::Contains("'exam_id' holds 16777216-byte integers"), RecordError);

  // At the bound (16 bytes, as wide as a native long double or a 128-bit integer) a part still reads, exactly.
  const fs::path padded = craft("padded.hdf5", kCode15MaxElementBytes, kCode15MaxElementBytes, true);
  Code15Part part(padded);
  REQUIRE(part.size() == 2);
  CHECK(part.exam_id(1) == 42);
  std::vector<float> row(64 * kLeads);
  part.read_raw(1, row.data());
  CHECK(row[5 * kLeads + 7] == tracing_value(1, 5, 7));  // float32 padded and back: bit-exact
}

TEST_CASE("code15: malformed parts are record errors naming the file") {
  ScratchDir dir;
  CHECK(open_problem(dir / "absent.hdf5") == RecordProblem::missing_file);
  write_bytes(dir / "garbage.hdf5", std::string(4096, 'x'));
  CHECK(open_problem(dir / "garbage.hdf5") == RecordProblem::bad_data_file);
  write_part(dir / "eight_leads.hdf5", {1, 0}, 8);
  CHECK_THROWS_WITH_AS(Code15Part(dir / "eight_leads.hdf5"), doctest::Contains("expected (N, samples, 12)"),
                       RecordError);
  write_part(dir / "no_tracings.hdf5", {1, 0}, kLeads, false);
  CHECK_THROWS_WITH_AS(Code15Part(dir / "no_tracings.hdf5"), doctest::Contains("no dataset 'tracings'"), RecordError);
}
