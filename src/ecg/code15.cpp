#include "ecg/code15.h"

#include <H5Cpp.h>

#include "ecg/csv_table.h"
#include "ecg/h5_threadsafe.h"  // parts are read on collect_code15's worker threads
#include "ecg/leads.h"
#include "ecg/record_error.h"
#include "tensor/error.h"

namespace agf::ecg {

// ---- exams.csv ----

Code15ExamTable Code15ExamTable::load(const std::filesystem::path& csv) {
  CsvTable t = CsvTable::read(csv);
  const int64_t c_id = t.column("exam_id"), c_age = t.column("age"), c_male = t.column("is_male"),
                c_nn_age = t.column("nn_predicted_age"), c_patient = t.column("patient_id"),
                c_normal = t.column("normal_ecg"), c_death = t.column("death"), c_timey = t.column("timey"),
                c_trace = t.column("trace_file");
  std::array<int64_t, kCode15LabelCount> c_labels;
  for (size_t k = 0; k < kCode15Labels.size(); ++k) c_labels[k] = t.column(kCode15Labels[k]);

  Code15ExamTable table;
  table.exams_.reserve(static_cast<size_t>(t.rows()));
  for (int64_t r = 0; r < t.rows(); ++r) {
    Code15Exam e;
    e.exam_id = t.int_cell(r, c_id);
    e.age = t.optional_double_cell(r, c_age);
    e.is_male = t.bool_cell(r, c_male);
    e.nn_predicted_age = t.optional_double_cell(r, c_nn_age);
    for (size_t k = 0; k < kCode15Labels.size(); ++k) e.labels[k] = t.bool_cell(r, c_labels[k]) ? 1 : 0;
    e.patient_id = t.int_cell(r, c_patient);
    e.normal_ecg = t.bool_cell(r, c_normal);
    e.death = t.optional_bool_cell(r, c_death);
    e.timey = t.optional_double_cell(r, c_timey);
    e.trace_file = t.cell(r, c_trace);
    auto [it, fresh] = table.by_id_.emplace(e.exam_id, table.exams_.size());
    AGF_CHECK(fresh, "{} data row {}: exam_id {} already appeared in data row {}", csv.string(), r + 1, e.exam_id,
              it->second + 1);
    table.exams_.push_back(std::move(e));
  }
  return table;
}

const Code15Exam* Code15ExamTable::find(int64_t exam_id) const {
  auto it = by_id_.find(exam_id);
  return it == by_id_.end() ? nullptr : &exams_[it->second];
}

const Code15Exam& Code15ExamTable::at(int64_t exam_id) const {
  const Code15Exam* e = find(exam_id);
  if (e == nullptr)
    fail_record(RecordProblem::missing_labels, fmt::format("code15:{}", exam_id), "exam_id has no row in exams.csv");
  return *e;
}

// ---- exams_partN.hdf5 ----

struct Code15Part::H5State {
  explicit H5State(const std::string& path) : file(path, H5F_ACC_RDONLY) {}
  H5::H5File file;
  H5::DataSet tracings;
};

namespace {

[[noreturn]] void fail_part(const std::filesystem::path& path, const std::string& why) {
  fail_record(RecordProblem::bad_data_file, path.filename().string(), fmt::format("{}: {}", path.string(), why));
}

std::vector<hsize_t> dims_of(const H5::DataSet& ds) {
  H5::DataSpace space = ds.getSpace();
  std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
  space.getSimpleExtentDims(dims.data());
  return dims;
}

}  // namespace

Code15Part::Code15Part(const std::filesystem::path& hdf5) : path_(hdf5) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(hdf5, ec))
    fail_record(RecordProblem::missing_file, hdf5.filename().string(),
                fmt::format("CODE-15 part {} does not exist", hdf5.string()));
  H5::Exception::dontPrint();  // errors become agf errors with the file's name instead of an HDF5 stack dump
  try {
    h5_ = std::make_unique<H5State>(hdf5.string());
    if (!h5_->file.nameExists("tracings")) fail_part(hdf5, "no dataset 'tracings'");
    if (!h5_->file.nameExists("exam_id")) fail_part(hdf5, "no dataset 'exam_id'");
    h5_->tracings = h5_->file.openDataSet("tracings");
    H5::DataSet ids = h5_->file.openDataSet("exam_id");
    if (h5_->tracings.getTypeClass() != H5T_FLOAT) fail_part(hdf5, "'tracings' is not a floating-point dataset");
    if (ids.getTypeClass() != H5T_INTEGER) fail_part(hdf5, "'exam_id' is not an integer dataset");
    // The element widths size what HDF5 allocates to convert each read (see kCode15MaxElementBytes).
    if (const size_t w = h5_->tracings.getDataType().getSize(); w > kCode15MaxElementBytes)
      fail_part(hdf5, fmt::format("'tracings' holds {}-byte floats, wider than {} bytes (CODE-15 stores 4)", w,
                                  kCode15MaxElementBytes));
    if (const size_t w = ids.getDataType().getSize(); w > kCode15MaxElementBytes)
      fail_part(hdf5, fmt::format("'exam_id' holds {}-byte integers, wider than {} bytes (CODE-15 stores 8)", w,
                                  kCode15MaxElementBytes));
    // The dims come from the file and size what is allocated (exam ids now, a row per read): a tiny file can
    // declare a chunked dataset of any extent without storing it, so they are bounded before they are trusted.
    auto td = dims_of(h5_->tracings), id = dims_of(ids);
    if (td.size() != 3 || td[1] < 1 || td[2] != kStandardLeadCount)
      fail_part(hdf5, fmt::format("'tracings' has shape ({}), expected (N, samples, {})", fmt::join(td, ", "),
                                  kStandardLeadCount));
    if (td[1] > static_cast<hsize_t>(kCode15MaxSamplesPerExam))
      fail_part(hdf5, fmt::format("'tracings' has {} samples per exam, more than {} (CODE-15 has 4096)", td[1],
                                  kCode15MaxSamplesPerExam));
    if (td[0] > static_cast<hsize_t>(kCode15MaxExamsPerPart))
      fail_part(hdf5, fmt::format("'tracings' has {} exams, more than {} per part (CODE-15's parts hold ~20000)",
                                  td[0], kCode15MaxExamsPerPart));
    if (id.size() != 1 || id[0] != td[0])
      fail_part(hdf5, fmt::format("'exam_id' has shape ({}), expected ({},) as 'tracings'", fmt::join(id, ", "),
                                  td[0]));
    n_samples_ = static_cast<int64_t>(td[1]);
    n_leads_ = static_cast<int64_t>(td[2]);
    exam_ids_.resize(static_cast<size_t>(id[0]));
    if (!exam_ids_.empty()) ids.read(exam_ids_.data(), H5::PredType::NATIVE_INT64);
    if (!exam_ids_.empty() && exam_ids_.back() == 0) exam_ids_.pop_back();  // the dummy last row
  } catch (const H5::Exception& e) {
    fail_part(hdf5, fmt::format("HDF5 error in {}: {}", e.getFuncName(), e.getDetailMsg()));
  }
}

Code15Part::~Code15Part() = default;
Code15Part::Code15Part(Code15Part&&) noexcept = default;
Code15Part& Code15Part::operator=(Code15Part&&) noexcept = default;

int64_t Code15Part::exam_id(int64_t i) const {
  AGF_CHECK(i >= 0 && i < size(), "{}: exam index {} outside 0..{}", path_.string(), i, size() - 1);
  return exam_ids_[static_cast<size_t>(i)];
}

void Code15Part::read_raw(int64_t i, float* dst) const {
  AGF_CHECK(i >= 0 && i < size(), "{}: exam index {} outside 0..{}", path_.string(), i, size() - 1);
  try {
    H5::DataSpace file_space = h5_->tracings.getSpace();
    const hsize_t start[3] = {static_cast<hsize_t>(i), 0, 0};
    const hsize_t count[3] = {1, static_cast<hsize_t>(n_samples_), static_cast<hsize_t>(n_leads_)};
    file_space.selectHyperslab(H5S_SELECT_SET, count, start);
    const hsize_t mem_dims[1] = {static_cast<hsize_t>(n_samples_ * n_leads_)};
    H5::DataSpace mem_space(1, mem_dims);
    h5_->tracings.read(dst, H5::PredType::NATIVE_FLOAT, mem_space, file_space);
  } catch (const H5::Exception& e) {
    fail_record(RecordProblem::bad_data_file, fmt::format("code15:{}", exam_ids_[static_cast<size_t>(i)]),
                fmt::format("{} row {}: HDF5 error in {}: {}", path_.string(), i, e.getFuncName(), e.getDetailMsg()));
  }
}

Signal Code15Part::read(int64_t i) const {
  std::vector<float> raw(static_cast<size_t>(n_samples_ * n_leads_));
  read_raw(i, raw.data());
  Signal sig;
  sig.id = fmt::format("code15:{}", exam_id(i));
  sig.fs = kCode15Fs;
  sig.n_samples = n_samples_;
  for (auto name : kStandardLeads) sig.lead_names.emplace_back(name);
  sig.mv.resize(raw.size());
  for (int64_t s = 0; s < n_samples_; ++s)
    for (int64_t l = 0; l < n_leads_; ++l)
      sig.mv[static_cast<size_t>(l * n_samples_ + s)] = raw[static_cast<size_t>(s * n_leads_ + l)];
  return sig;
}

}  // namespace agf::ecg
