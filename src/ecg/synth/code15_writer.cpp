#include "ecg/synth/code15_writer.h"

#include <H5Cpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace agf::synth {

namespace {

enum Code15Purpose : uint64_t { kExamLength = 101, kExamId, kExamFields };

const char* py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace

double code15_exam_seconds(uint64_t seed, int64_t index) {
  PhiloxStream rng(derive_key(record_key(seed, index), kExamLength));
  return rng.next_uniform() < 0.85 ? 10.0 : 7.0;
}

int64_t code15_exam_id(uint64_t seed, int64_t index) {
  PhiloxStream rng(derive_key(record_key(seed, index), kExamId));
  return 100000 + 16 * index + static_cast<int64_t>(rng.next_below(16));
}

Code15ExamRow code15_row(const SynthRecord& rec, int64_t exam_id, const std::string& trace_file) {
  PhiloxStream rng(derive_key(record_key(rec.seed, rec.index), kExamFields));
  Code15ExamRow row;
  row.exam_id = exam_id;
  row.age = rec.age;
  row.is_male = rec.male;
  // CODE's ECG-age network: the ECG predicts age within about 8-9 years.
  row.nn_predicted_age = std::clamp(rec.age + 8.5 * rng.next_normal(), 16.0, 105.0);
  row.labels = code15_labels(rec.labels);
  row.patient_id = 1 + static_cast<int64_t>(rng.next_below(2'000'000));
  row.normal_ecg = rec.labels == [] {
    LabelSet only_nsr;
    only_nsr.add(SynthClass::NSR);
    return only_nsr;
  }();
  // Mortality follow-up exists for part of the cohort only; deaths are a few percent.
  const double u_follow = rng.next_uniform(), u_death = rng.next_uniform(), u_time = rng.next_uniform();
  if (u_follow < 0.7) {
    row.death = u_death < 0.04 + 0.002 * std::max(0, rec.age - 50);
    row.timey = std::round(100.0 * (0.05 + 4.0 * u_time)) / 100.0;
  }
  row.trace_file = trace_file;
  return row;
}

void code15_tracing(const SynthRecord& rec, float* out) {
  const int64_t n = rec.n_samples;
  AGF_CHECK(n <= kCode15Samples, "CODE-15 exam of {} samples: at most {} fit a tracing", n, kCode15Samples);
  std::fill(out, out + kCode15Samples * kLeadCount, 0.0f);
  const int64_t pad = (kCode15Samples - n) / 2;
  for (int l = 0; l < kLeadCount; ++l) {
    const float* src = rec.lead(l);
    for (int64_t s = 0; s < n; ++s) out[(pad + s) * kLeadCount + l] = src[s];
  }
}

std::string format_code15_csv(const std::vector<Code15ExamRow>& rows) {
  std::string out = "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,AF,ST,patient_id,normal_ecg,death,timey,"
                    "trace_file\n";
  for (const Code15ExamRow& r : rows) {
    out += fmt::format("{},{},{},{:.6f}", r.exam_id, r.age, py_bool(r.is_male), r.nn_predicted_age);
    for (bool b : r.labels) out += fmt::format(",{}", py_bool(b));
    out += fmt::format(",{},{},{},{},{}\n", r.patient_id, py_bool(r.normal_ecg), r.death ? py_bool(*r.death) : "",
                       r.timey ? fmt::format("{:g}", *r.timey) : "", r.trace_file);
  }
  return out;
}

// ---- HDF5 part ----

struct Code15PartWriter::H5State {
  explicit H5State(const std::string& path) : file(path, H5F_ACC_TRUNC) {}
  H5::H5File file;
  H5::DataSet tracings;
};

Code15PartWriter::Code15PartWriter(const std::filesystem::path& path, int64_t n_exams)
    : path_(path), file_(path), n_exams_(n_exams), exam_ids_(static_cast<size_t>(n_exams + 1), 0) {
  AGF_CHECK(n_exams >= 0, "{}: negative exam count {}", path.string(), n_exams);
  H5::Exception::dontPrint();
  try {
    h5_ = std::make_unique<H5State>(file_.temp_path().string());
    // Object headers carry modification times unless told not to; without them a re-run is byte-identical.
    H5::DSetCreatPropList props;
    H5Pset_obj_track_times(props.getId(), false);
    const hsize_t dims[3] = {static_cast<hsize_t>(n_exams + 1), static_cast<hsize_t>(kCode15Samples),
                             static_cast<hsize_t>(kLeadCount)};
    h5_->tracings = h5_->file.createDataSet("tracings", H5::PredType::IEEE_F32LE, H5::DataSpace(3, dims), props);
  } catch (const H5::Exception& e) {
    h5_.reset();  // closed before file_ removes the temporary
    AGF_FAIL("cannot create {}: HDF5 error in {}: {}", file_.temp_path().string(), e.getFuncName(), e.getDetailMsg());
  }
}

Code15PartWriter::~Code15PartWriter() {
  // Closed before file_'s destructor removes the temporary.
  if (h5_) {
    try {
      h5_->tracings.close();
      h5_->file.close();
    } catch (...) {
    }
  }
}

void Code15PartWriter::write(int64_t row, int64_t exam_id, const float* tracing) {
  AGF_CHECK(h5_ != nullptr, "{}: write after commit", path_.string());
  AGF_CHECK(row >= 0 && row < n_exams_, "{}: row {} outside 0..{}", path_.string(), row, n_exams_ - 1);
  AGF_CHECK(exam_id != 0, "{}: exam_id 0 is reserved for the dummy last row", path_.string());
  try {
    H5::DataSpace file_space = h5_->tracings.getSpace();
    const hsize_t start[3] = {static_cast<hsize_t>(row), 0, 0};
    const hsize_t count[3] = {1, static_cast<hsize_t>(kCode15Samples), static_cast<hsize_t>(kLeadCount)};
    file_space.selectHyperslab(H5S_SELECT_SET, count, start);
    H5::DataSpace mem_space(3, count);
    h5_->tracings.write(tracing, H5::PredType::NATIVE_FLOAT, mem_space, file_space);
  } catch (const H5::Exception& e) {
    AGF_FAIL("{} row {}: HDF5 error in {}: {}", file_.temp_path().string(), row, e.getFuncName(), e.getDetailMsg());
  }
  exam_ids_[static_cast<size_t>(row)] = exam_id;
}

void Code15PartWriter::commit() {
  AGF_CHECK(h5_ != nullptr, "{}: committed twice", path_.string());
  try {
    // The dummy last row: zeros, exam_id 0.
    const std::vector<float> zeros(static_cast<size_t>(kCode15Samples * kLeadCount), 0.0f);
    H5::DataSpace file_space = h5_->tracings.getSpace();
    const hsize_t start[3] = {static_cast<hsize_t>(n_exams_), 0, 0};
    const hsize_t count[3] = {1, static_cast<hsize_t>(kCode15Samples), static_cast<hsize_t>(kLeadCount)};
    file_space.selectHyperslab(H5S_SELECT_SET, count, start);
    H5::DataSpace mem_space(3, count);
    h5_->tracings.write(zeros.data(), H5::PredType::NATIVE_FLOAT, mem_space, file_space);

    H5::DSetCreatPropList props;
    H5Pset_obj_track_times(props.getId(), false);
    const hsize_t id_dims[1] = {static_cast<hsize_t>(n_exams_ + 1)};
    H5::DataSet ids = h5_->file.createDataSet("exam_id", H5::PredType::STD_I64LE, H5::DataSpace(1, id_dims), props);
    ids.write(exam_ids_.data(), H5::PredType::NATIVE_INT64);
    ids.close();
    h5_->tracings.close();
    h5_->file.close();
  } catch (const H5::Exception& e) {
    AGF_FAIL("{}: HDF5 error in {}: {}", file_.temp_path().string(), e.getFuncName(), e.getDetailMsg());
  }
  h5_.reset();
  file_.commit();
}

}  // namespace agf::synth
