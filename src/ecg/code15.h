#pragma once
// CODE-15% (teacher pretraining data). exams_partN.hdf5 holds `tracings` (N, 4096, 12) float32 mV at 400 Hz in the
// standard lead order and `exam_id` (N,); its last row is a dummy (exam_id 0) that is skipped. exams.csv carries
// the labels and is joined on exam_id, not on file order. Exams are read one at a time (HDF5 hyperslab), never a
// whole part.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ecg/labels.h"
#include "ecg/signal.h"

namespace agf::ecg {

inline constexpr double kCode15Fs = 400.0;
// Bounds on a part's dims, checked before they size any allocation (a part's file is untrusted input): the real
// parts hold ~20000 exams of 4096 samples each.
inline constexpr int64_t kCode15MaxSamplesPerExam = int64_t{1} << 20;
inline constexpr int64_t kCode15MaxExamsPerPart = int64_t{1} << 22;
// Bound on the width of one stored element (bytes): a valid HDF5 type may be up to 4 GiB wide, and HDF5 converts at
// least one element at a time, so the width sizes an allocation of every read. No native float or integer is wider.
inline constexpr size_t kCode15MaxElementBytes = 16;

struct Code15Exam {
  int64_t exam_id = 0;
  std::optional<double> age;
  bool is_male = false;
  std::optional<double> nn_predicted_age;
  std::array<uint8_t, kCode15LabelCount> labels{};  // 1dAVb, RBBB, LBBB, SB, AF, ST
  int64_t patient_id = 0;
  bool normal_ecg = false;
  std::optional<bool> death;
  std::optional<double> timey;
  std::string trace_file;  // "exams_part3.hdf5"
};

// exams.csv, indexed by exam_id. Columns are found by name; a duplicate exam_id is an error.
class Code15ExamTable {
 public:
  static Code15ExamTable load(const std::filesystem::path& csv);
  int64_t size() const { return static_cast<int64_t>(exams_.size()); }
  const std::vector<Code15Exam>& exams() const { return exams_; }
  const Code15Exam* find(int64_t exam_id) const;
  // The exam's row; a RecordError(missing_labels) naming "code15:<exam_id>" when exams.csv has none.
  const Code15Exam& at(int64_t exam_id) const;

 private:
  std::vector<Code15Exam> exams_;
  std::unordered_map<int64_t, size_t> by_id_;
};

// One exams_partN.hdf5, open for reading exams by index. Not thread-safe (one HDF5 handle); open one per thread.
class Code15Part {
 public:
  explicit Code15Part(const std::filesystem::path& hdf5);
  ~Code15Part();
  Code15Part(Code15Part&&) noexcept;
  Code15Part& operator=(Code15Part&&) noexcept;

  const std::filesystem::path& path() const { return path_; }
  int64_t size() const { return static_cast<int64_t>(exam_ids_.size()); }  // real exams (dummy excluded)
  int64_t samples_per_exam() const { return n_samples_; }                    // 4096
  int64_t leads() const { return n_leads_; }                                 // 12
  int64_t exam_id(int64_t i) const;
  const std::vector<int64_t>& exam_ids() const { return exam_ids_; }

  // Exam i as (samples, leads) float32, exactly as stored, into dst[samples_per_exam() * leads()].
  void read_raw(int64_t i, float* dst) const;
  // Exam i as a Signal (lead-major double mV, 400 Hz, standard lead names, id "code15:<exam_id>").
  Signal read(int64_t i) const;

 private:
  struct H5State;
  std::filesystem::path path_;
  std::unique_ptr<H5State> h5_;
  std::vector<int64_t> exam_ids_;
  int64_t n_samples_ = 0, n_leads_ = 0;
};

}  // namespace agf::ecg
