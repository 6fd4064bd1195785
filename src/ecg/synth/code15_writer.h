#pragma once
// CODE-15% as the real release lays it out (spec/data.md): exams_partN.hdf5 with `tracings` (N + 1, 4096, 12)
// float32 mV at 400 Hz, exams shorter than 4096 samples zero-padded equally on both sides, `exam_id` (N + 1,)
// int64, the last row a dummy (exam_id 0, all zeros); and exams.csv, one row per exam, not in file order.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ecg/synth/generator.h"
#include "io/atomic_file.h"

namespace agf::synth {

inline constexpr double kCode15Fs = 400.0;
inline constexpr int64_t kCode15Samples = 4096;

// The exam's recorded length: most CODE-15 exams are 10 s (4000 samples), the rest 7 s (2800), both padded to 4096.
double code15_exam_seconds(uint64_t seed, int64_t index);
// Unique non-zero exam ids that grow with the index but are not consecutive.
int64_t code15_exam_id(uint64_t seed, int64_t index);

struct Code15ExamRow {
  int64_t exam_id = 0;
  int age = 0;
  bool is_male = false;
  double nn_predicted_age = 0.0;
  std::array<bool, 6> labels{};  // 1dAVb, RBBB, LBBB, SB, AF, ST
  int64_t patient_id = 0;
  bool normal_ecg = false;
  std::optional<bool> death;     // empty where follow-up is missing, as in the real table
  std::optional<double> timey;
  std::string trace_file;        // "exams_part0.hdf5"
};

// The exams.csv row of a generated exam (its non-ECG fields from the record's own random stream).
Code15ExamRow code15_row(const SynthRecord& rec, int64_t exam_id, const std::string& trace_file);

// The record as stored in `tracings`: (4096, 12) row-major, zero-padded on both sides.
void code15_tracing(const SynthRecord& rec, float* out);

std::string format_code15_csv(const std::vector<Code15ExamRow>& rows);

// One exams_partN.hdf5 being written (through an io::AtomicFile): rows in any order, then commit() adds the dummy
// row and renames the temporary file into place. Destroyed uncommitted, it removes the temporary file.
class Code15PartWriter {
 public:
  Code15PartWriter(const std::filesystem::path& path, int64_t n_exams);
  ~Code15PartWriter();
  Code15PartWriter(const Code15PartWriter&) = delete;
  Code15PartWriter& operator=(const Code15PartWriter&) = delete;

  void write(int64_t row, int64_t exam_id, const float* tracing);  // tracing: (4096, 12)
  void commit();

 private:
  struct H5State;
  std::filesystem::path path_;
  io::AtomicFile file_;
  int64_t n_exams_;
  std::vector<int64_t> exam_ids_;
  std::unique_ptr<H5State> h5_;
};

}  // namespace agf::synth
