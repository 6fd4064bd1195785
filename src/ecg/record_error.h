#pragma once
// Why a record could not be read, as a value a batch reader can count. A RecordError is an agf::Error (so an app
// that does not care prints it like any other) that also carries the record and a machine-readable reason.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/error.h"

namespace agf::ecg {

enum class RecordProblem {
  missing_file,       // the header or a data file named by it does not exist
  bad_header,         // a .hea that does not parse (garbage numbers, missing fields, lead count mismatch)
  bad_data_file,      // a .mat/.dat/.hdf5 whose own structure is wrong (type code, endianness, name, layout)
  truncated,          // fewer bytes than the header promises (or more: trailing bytes mean a different layout)
  dims_mismatch,      // the data file's leads x samples disagree with the header
  init_mismatch,      // a lead's first sample differs from the header's init_value
  checksum_mismatch,  // a lead's 16-bit sum differs from the header's checksum
  unsupported,        // valid WFDB that this reader does not handle (other formats, multi-segment, skew)
  too_short,          // too few samples for the band-pass filter's padding
  missing_labels,     // no label row (CODE-15 exam absent from exams.csv)
  non_finite,         // a value that is not finite in mV (a gain so small that samples overflow, a NaN in a part)
  flat_signal,        // every lead zero after preprocessing: no ECG left (a flat recording, a gain of 1e300)
  negative_gain,      // a lead's gain is negative (legal WFDB, in no Challenge record): kept with a note
};

std::string_view problem_name(RecordProblem p);

class RecordError : public Error {
 public:
  RecordError(RecordProblem problem, std::string record, const std::string& message)
      : Error(message), problem_(problem), record_(std::move(record)) {}
  RecordProblem problem() const { return problem_; }
  const std::string& record() const { return record_; }

 private:
  RecordProblem problem_;
  std::string record_;
};

// Throws a RecordError whose message reads "record <name>: <reason text>".
[[noreturn]] void fail_record(RecordProblem problem, const std::string& record, const std::string& reason);

// Skip-and-count policy for a batch reader: attempt() runs one record's work; a RecordError is counted by reason
// and swallowed (returns false) unless strict, when it propagates. Any other error always propagates: it is a bug or
// a configuration problem, not a bad record. A record that is read but deserves a word (a negative gain) is kept
// with a note: listed apart from the skipped ones, and fatal under strict like them.
struct SkippedRecord {
  std::string record;
  RecordProblem problem;
  std::string message;
};

class SkipTally {
 public:
  explicit SkipTally(bool strict = false) : strict_(strict) {}

  template <typename Fn>
  bool attempt(Fn&& fn) {
    try {
      fn();
      ++ok_;
      return true;
    } catch (const RecordError& e) {
      if (strict_) throw;
      note(e);
      return false;
    }
  }
  void note(const RecordError& e);
  // A record kept despite `e`: listed in notes(); thrown instead when strict.
  void keep_with_note(const RecordError& e);

  bool strict() const { return strict_; }
  int64_t ok() const { return ok_; }
  int64_t skipped() const { return skipped_; }
  int64_t skipped(RecordProblem p) const;
  // Every skipped record with its reason, in the order they were met (agf-collect writes them to a table).
  const std::vector<SkippedRecord>& records() const { return records_; }
  // Every record kept with a note, in the order they were met.
  const std::vector<SkippedRecord>& notes() const { return notes_; }
  // "3 skipped of 120 (checksum_mismatch 2, truncated 1)" or "0 skipped of 120", then, when there are notes,
  // "; 1 kept with a note (negative_gain 1)".
  std::string summary() const;

 private:
  bool strict_;
  int64_t ok_ = 0;
  int64_t skipped_ = 0;
  std::map<RecordProblem, int64_t> by_reason_;
  std::vector<SkippedRecord> records_;
  std::vector<SkippedRecord> notes_;
};

}  // namespace agf::ecg
