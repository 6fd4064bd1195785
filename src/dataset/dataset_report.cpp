#include "dataset/dataset_report.h"

#include <unistd.h>

#include <cstdio>

#include "io/printable.h"
#include "tensor/error.h"

namespace agf::dataset {

ProgressLine::ProgressLine(std::string label, int64_t total, bool enabled)
    : label_(io::printable(label)),  // a folder's name, which may hold anything
      total_(total),
      enabled_(enabled),
      tty_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

std::string ProgressLine::text(int64_t done) const {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = s > 0 ? static_cast<double>(done) / s : 0.0;
  std::string eta = "?";
  if (rate > 0) eta = fmt::format("{:.0f} s", static_cast<double>(total_ - done) / rate);
  return fmt::format("{}: {}/{} records, {:.0f} rec/s, {:.1f} s elapsed, ETA {}", label_, done, total_, rate, s, eta);
}

void ProgressLine::update(int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto every = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10000);
  if (now - last_print_ < every) return;
  last_print_ = now;
  printed_ = true;
  if (tty_)
    fmt::print(stderr, "\r{}\x1b[K", text(done));
  else
    fmt::print(stderr, "{}\n", text(done));
  std::fflush(stderr);
}

void ProgressLine::finish(int64_t done) {
  if (!enabled_) return;
  fmt::print(stderr, "{}{}\n", tty_ && printed_ ? "\r" : "", text(done));
  std::fflush(stderr);
}

std::vector<int64_t> class_counts(const std::vector<uint8_t>& labels, int64_t k, const std::vector<int64_t>* rows) {
  std::vector<int64_t> counts(static_cast<size_t>(k), 0);
  if (k == 0) return counts;
  auto add = [&](int64_t r) {
    for (int64_t j = 0; j < k; ++j) counts[static_cast<size_t>(j)] += labels[static_cast<size_t>(r * k + j)] != 0;
  };
  if (rows != nullptr) {
    for (int64_t r : *rows) add(r);
  } else {
    const auto n = static_cast<int64_t>(labels.size()) / k;
    for (int64_t r = 0; r < n; ++r) add(r);
  }
  return counts;
}

std::string class_table_text(const std::vector<DatasetClass>& classes, const std::vector<uint8_t>& labels,
                             const DatasetSplits& splits) {
  const auto k = static_cast<int64_t>(classes.size());
  const auto all = class_counts(labels, k, nullptr);
  const auto train = class_counts(labels, k, &splits.train);
  const auto val = class_counts(labels, k, &splits.val);
  const auto test = class_counts(labels, k, &splits.test);
  std::string text = "index,code,abbreviation,records,train,val,test\n";
  for (size_t j = 0; j < classes.size(); ++j)
    text += fmt::format("{},{},{},{},{},{},{}\n", j, classes[j].code, classes[j].abbreviation, all[j], train[j],
                        val[j], test[j]);
  return text;
}

namespace {
// Control characters escaped, then RFC 4180: a field holding a comma or quote is quoted, its quotes doubled.
std::string csv_field(const std::string& raw) {
  const std::string v = io::printable(raw);
  if (v.find_first_of(",\"") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}
}  // namespace

std::string skipped_table_text(const ecg::SkipTally& skips) {
  std::string text = "record,reason,outcome,message\n";
  auto add = [&](const ecg::SkippedRecord& r, std::string_view outcome) {
    text += fmt::format("{},{},{},{}\n", csv_field(r.record), ecg::problem_name(r.problem), outcome,
                        csv_field(r.message));
  };
  for (const ecg::SkippedRecord& r : skips.records()) add(r, "skipped");
  for (const ecg::SkippedRecord& r : skips.notes()) add(r, "kept");
  return text;
}

}  // namespace agf::dataset
