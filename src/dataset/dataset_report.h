#pragma once
// Reporting pieces of dataset building: a throttled progress line on stderr and the class table written beside a
// dataset file.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dataset/dataset_format.h"
#include "ecg/record_error.h"
#include "dataset/splits.h"

namespace agf::dataset {

// "<label>: 1200/20000 records, 512 rec/s, ETA 33 s". On a terminal the line rewrites itself (at most 4 times a
// second); otherwise (a log file, CI) one line every 10 s, so logs stay readable.
class ProgressLine {
 public:
  ProgressLine(std::string label, int64_t total, bool enabled);
  void update(int64_t done);
  void finish(int64_t done);  // the final figures and a newline

 private:
  std::string text(int64_t done) const;

  std::string label_;
  int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool printed_ = false;
};

// The text of <dataset>.classes.csv: index,code,abbreviation,records,train,val,test (counts of records carrying the
// class). collect writes it through an io::AtomicFile, like the dataset.
std::string class_table_text(const std::vector<DatasetClass>& classes, const std::vector<uint8_t>& labels,
                             const DatasetSplits& splits);

// <dataset>.skipped.csv: record,reason,outcome,message (RFC 4180 quoting) for every record a run skipped (outcome
// "skipped"), then every record it kept with a note (outcome "kept": a negative gain). Record names and messages
// carry text from the input files: their control characters are escaped (io::printable), so a row is one line and a
// hostile header cannot reach a terminal that shows the table.
std::string skipped_table_text(const ecg::SkipTally& skips);

// Per class, how many of `rows` (all rows when empty) carry it; labels row-major (n, k).
std::vector<int64_t> class_counts(const std::vector<uint8_t>& labels, int64_t k, const std::vector<int64_t>* rows);

}  // namespace agf::dataset
