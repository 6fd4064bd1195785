#include "ecg/record_error.h"

namespace agf::ecg {

std::string_view problem_name(RecordProblem p) {
  switch (p) {
    case RecordProblem::missing_file: return "missing_file";
    case RecordProblem::bad_header: return "bad_header";
    case RecordProblem::bad_data_file: return "bad_data_file";
    case RecordProblem::truncated: return "truncated";
    case RecordProblem::dims_mismatch: return "dims_mismatch";
    case RecordProblem::init_mismatch: return "init_mismatch";
    case RecordProblem::checksum_mismatch: return "checksum_mismatch";
    case RecordProblem::unsupported: return "unsupported";
    case RecordProblem::too_short: return "too_short";
    case RecordProblem::missing_labels: return "missing_labels";
    case RecordProblem::non_finite: return "non_finite";
    case RecordProblem::flat_signal: return "flat_signal";
    case RecordProblem::negative_gain: return "negative_gain";
  }
  return "unknown";
}

void fail_record(RecordProblem problem, const std::string& record, const std::string& reason) {
  throw RecordError(problem, record, fmt::format("record {}: {}", record, reason));
}

void SkipTally::note(const RecordError& e) {
  ++skipped_;
  ++by_reason_[e.problem()];
  records_.push_back({e.record(), e.problem(), e.what()});
}

void SkipTally::keep_with_note(const RecordError& e) {
  if (strict_) throw e;
  notes_.push_back({e.record(), e.problem(), e.what()});
}

int64_t SkipTally::skipped(RecordProblem p) const {
  auto it = by_reason_.find(p);
  return it == by_reason_.end() ? 0 : it->second;
}

namespace {
// "(checksum_mismatch 2, truncated 1)", reasons in enum order.
std::string by_reason_text(const std::map<RecordProblem, int64_t>& counts) {
  std::string s;
  for (const auto& [p, n] : counts) s += fmt::format("{}{} {}", s.empty() ? "(" : ", ", problem_name(p), n);
  return s + ")";
}
}  // namespace

std::string SkipTally::summary() const {
  std::string s = fmt::format("{} skipped of {}", skipped_, skipped_ + ok_);
  if (!by_reason_.empty()) s += fmt::format(" {}", by_reason_text(by_reason_));
  if (!notes_.empty()) {
    std::map<RecordProblem, int64_t> noted;
    for (const SkippedRecord& r : notes_) ++noted[r.problem];
    s += fmt::format("; {} kept with a note {}", notes_.size(), by_reason_text(noted));
  }
  return s;
}

}  // namespace agf::ecg
