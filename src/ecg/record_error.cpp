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

int64_t SkipTally::skipped(RecordProblem p) const {
  auto it = by_reason_.find(p);
  return it == by_reason_.end() ? 0 : it->second;
}

std::string SkipTally::summary() const {
  std::string s = fmt::format("{} skipped of {}", skipped_, skipped_ + ok_);
  if (by_reason_.empty()) return s;
  s += " (";
  bool first = true;
  for (const auto& [p, n] : by_reason_) {
    s += fmt::format("{}{} {}", first ? "" : ", ", problem_name(p), n);
    first = false;
  }
  return s + ")";
}

}  // namespace agf::ecg
