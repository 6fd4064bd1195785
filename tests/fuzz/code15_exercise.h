#pragma once
// What the CODE-15 fuzz targets do with a part and an exams.csv once they are on disk: what agf-collect does with
// them (load the table, open the part, join exams on exam_id, read and preprocess exams), with the invariants of
// every accepted answer checked on the way. Refusals: the table may throw any agf::Error (a bad exams.csv ends a
// collect run, rightly); the part and its exams only RecordErrors (collect skips and counts those).
#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ecg/code15.h"
#include "ecg/leads.h"
#include "ecg/preprocess.h"
#include "fuzz_expect.h"

namespace agf::fuzz {

// Exams longer than this are opened and their ids joined, but not read: the reader accepts up to 2^20 samples
// (50 MB an exam), which would only slow the fuzzer down without reaching new code.
inline constexpr int64_t kMaxReadSamples = 8192;

inline void check_table(const char* target, const ecg::Code15ExamTable& table) {
  for (const ecg::Code15Exam& e : table.exams())
    require(table.find(e.exam_id) == &e, target, "every exams.csv row is found by its exam_id");
}

inline void check_exam(const char* target, const ecg::Code15Part& part, int64_t i, bool preprocess) {
  const ecg::Signal sig = part.read(i);
  require(sig.n_samples == part.samples_per_exam() && sig.n_leads() == ecg::kStandardLeadCount &&
              sig.mv.size() == static_cast<size_t>(sig.n_samples * sig.n_leads()),
          target, "an exam is (samples_per_exam, 12)");
  require(sig.fs == ecg::kCode15Fs, target, "an exam is at 400 Hz");
  if (!preprocess) return;
  ecg::PreprocessConfig cfg;  // as collect_code15 runs it: native 400 Hz, 4096 samples
  cfg.length = 4096;
  std::vector<float> out(static_cast<size_t>(ecg::kStandardLeadCount * cfg.length));
  expect_record_error(target, [&] { ecg::preprocess_into(sig, cfg, out.data()); });
}

inline void exercise_code15(const char* target, const std::filesystem::path& part_path,
                            const std::filesystem::path& csv_path) {
  std::optional<ecg::Code15ExamTable> table;
  expect_agf_error([&] { table = ecg::Code15ExamTable::load(csv_path); });
  if (table) check_table(target, *table);

  expect_record_error(target, [&] {
    const ecg::Code15Part part(part_path);
    require(part.leads() == ecg::kStandardLeadCount && part.samples_per_exam() >= 1, target,
            "an open part has 12 leads and at least one sample per exam");
    require(part.size() == static_cast<int64_t>(part.exam_ids().size()), target, "one exam id per exam");
    require(!expect_agf_error([&] { part.exam_id(part.size()); }), target, "exam_id(size()) is refused");
    require(!expect_agf_error([&] { part.exam_id(-1); }), target, "exam_id(-1) is refused");

    std::vector<int64_t> rows = {0, 1, part.size() - 1};
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int64_t r) { return r < 0 || r >= part.size(); }),
               rows.end());
    for (int64_t i : rows) {
      const int64_t id = part.exam_id(i);
      if (table) {
        const ecg::Code15Exam* e = table->find(id);
        require(e == nullptr || e->exam_id == id, target, "find(id) returns that id's row");
        const bool found = expect_record_error(target, [&] { table->at(id); });
        require(found == (e != nullptr), target, "at(id) refuses exactly the ids find(id) does not know");
      }
      if (part.samples_per_exam() <= kMaxReadSamples)
        expect_record_error(target, [&] { check_exam(target, part, i, i == rows.front()); });
    }
  });
  // The part is closed: an HDF5 object left open by the reader would be a handle leak (and would keep the file
  // open, so the next input could not be written). Datatypes are not counted: the library's predefined ones are.
  require(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_ATTR) == 0, target,
          "no HDF5 object left open after the part closes");
}

}  // namespace agf::fuzz
