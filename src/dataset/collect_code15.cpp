// collect_code15: a CODE-15% folder (exams.csv + exams_part<N>.hdf5) -> one prepared dataset file. What the two
// sources share (the worker pool, a record's trip to its chunk, the finish) is in collect_common.h.
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "dataset/collect.h"
#include "dataset/collect_common.h"
#include "dataset/dataset_h5.h"
#include "dataset/dataset_pipeline.h"
#include "dataset/dataset_report.h"
#include "ecg/code15.h"
#include "ecg/h5_threadsafe.h"  // HDF5 is called from several threads here
#include "ecg/text_util.h"
#include "tensor/error.h"

namespace agf::dataset {

namespace fs = std::filesystem;
using namespace detail;

std::vector<fs::path> find_code15_parts(const fs::path& dir) {
  std::error_code ec;
  AGF_CHECK(fs::is_directory(dir, ec), "CODE-15 input {} is not a folder", dir.string());
  std::vector<std::pair<int64_t, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    constexpr std::string_view prefix = "exams_part", suffix = ".hdf5";
    if (!name.starts_with(prefix) || !name.ends_with(suffix)) continue;
    auto number = ecg::text::parse_int(std::string_view(name).substr(prefix.size(), name.size() - prefix.size() -
                                                                                     suffix.size()));
    if (number) found.emplace_back(*number, e.path());
  }
  AGF_CHECK(!ec, "listing {}: {}", dir.string(), ec.message());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::vector<DatasetClass> code15_classes() {
  // The SNOMED CT codes of CODE-15's labels as the Challenge scores them (IAVB, RBBB, LBBB, SB, AF, STach).
  static const std::array<std::string_view, ecg::kCode15LabelCount> codes = {"270492004", "59118001",  "164909002",
                                                                        "426177001", "164889003", "427084000"};
  std::vector<DatasetClass> out;
  for (size_t i = 0; i < codes.size(); ++i) out.push_back({std::string(codes[i]), std::string(ecg::kCode15Labels[i])});
  return out;
}

std::string output_name(const Code15Source& source) {
  return source.name.empty() ? std::string("code15") : checked_output_name(source.name, "--code15-name");
}

namespace {

// The exams exams.csv lists that no readable part holds are skipped by name, each with the reason its part gives:
// the part is not in the folder, cannot be opened (truncated, corrupt), or does not hold the exam. Naming every exam
// costs nothing (exams.csv is in memory) and says exactly which rows of the release are absent from the dataset,
// where a per-part line would leave them to be worked out. An unreadable part that exams.csv names for no exam is
// listed under its own file name, so that no damage goes unsaid.
void skip_exams_outside_parts(const ecg::Code15ExamTable& table, const std::unordered_map<int64_t, size_t>& seen,
                              const std::map<std::string, ecg::RecordError>& unreadable,
                              const std::vector<fs::path>& part_paths, const Code15Source& source,
                              CollectReport& report) {
  std::map<std::string, bool> present;  // part file name -> named by an exams.csv row
  for (const fs::path& p : part_paths) present.emplace(p.filename().string(), false);
  for (const ecg::Code15Exam& e : table.exams()) {
    if (seen.count(e.exam_id)) continue;
    const std::string record = fmt::format("code15:{}", e.exam_id);
    auto part = present.find(e.trace_file);
    ecg::RecordProblem problem = ecg::RecordProblem::missing_file;
    std::string why;
    if (part == present.end()) {
      why = fmt::format("exams.csv places it in {}, which is not in {}", e.trace_file, source.dir.string());
    } else if (auto bad = unreadable.find(e.trace_file); bad != unreadable.end()) {
      part->second = true;
      problem = bad->second.problem();
      why = fmt::format("its part {} cannot be read ({})", e.trace_file, bad->second.what());
    } else {
      why = fmt::format("exams.csv places it in {}, which does not hold it", e.trace_file);
    }
    ++report.found;
    note_problem(report.skips, ecg::RecordError(problem, record, fmt::format("record {}: {}", record, why)));
  }
  for (const auto& [name, error] : unreadable)
    if (!present.at(name)) {
      ++report.found;
      note_problem(report.skips, error);
    }
}

}  // namespace

CollectReport collect_code15(const Code15Source& source, const CollectSettings& settings) {
  const auto t0 = std::chrono::steady_clock::now();
  CollectReport report;
  report.skips = ecg::SkipTally(settings.strict);
  report.name = output_name(source);
  report.output = settings.out_dir / (report.name + ".h5");
  check_split_config(settings.split);  // before hours of reading, not after
  const io::OutputLock claim = claim_output(report.output);
  const fs::path csv = source.dir / "exams.csv";
  std::error_code ec;
  AGF_CHECK(fs::is_regular_file(csv, ec), "CODE-15 input {}: exams.csv not found", source.dir.string());
  const std::vector<fs::path> part_paths = find_code15_parts(source.dir);
  AGF_CHECK(!part_paths.empty(), "CODE-15 input {}: no exams_part<N>.hdf5 files", source.dir.string());
  const ecg::Code15ExamTable table = ecg::Code15ExamTable::load(csv);

  // Parts are opened here (exam ids) and shared by the workers, one lock per part: HDF5 serialises its calls
  // anyway, and the preprocessing, which dominates, runs outside the lock. A part that cannot be opened costs its
  // exams, not the run (under --strict it ends the run).
  std::vector<std::unique_ptr<ecg::Code15Part>> parts;
  std::vector<std::unique_ptr<std::mutex>> part_locks;
  std::map<std::string, ecg::RecordError> unreadable;  // part file name -> why
  for (const fs::path& p : part_paths) {
    try {
      parts.push_back(std::make_unique<ecg::Code15Part>(p));
    } catch (const ecg::RecordError& e) {
      if (settings.strict) throw;
      parts.push_back(nullptr);
      unreadable.emplace(p.filename().string(), e);
    }
    part_locks.push_back(std::make_unique<std::mutex>());
  }
  struct Exam {
    int32_t part;
    int64_t row;
    int64_t exam_id;
    std::array<uint8_t, ecg::kCode15LabelCount> labels;
  };
  std::vector<Exam> exams;
  std::unordered_map<int64_t, size_t> seen;
  for (size_t p = 0; p < parts.size(); ++p)
    for (int64_t row = 0; parts[p] && row < parts[p]->size(); ++row) {
      ++report.found;
      const int64_t id = parts[p]->exam_id(row);
      auto [it, fresh] = seen.emplace(id, p);
      AGF_CHECK(fresh, "CODE-15 input {}: exam_id {} is in {} and {}", source.dir.string(), id,
                part_paths[it->second].filename().string(), part_paths[p].filename().string());
      const ecg::Code15Exam* e = table.find(id);
      if (e == nullptr) {
        note_problem(report.skips, ecg::RecordError(ecg::RecordProblem::missing_labels, fmt::format("code15:{}", id),
                                               fmt::format("record code15:{}: exam_id has no row in {}", id,
                                                           csv.string())));
        continue;
      }
      const bool any = std::any_of(e->labels.begin(), e->labels.end(), [](uint8_t v) { return v != 0; });
      if (!any && source.drop_unlabelled) {
        ++report.dropped_unlabelled;
        continue;
      }
      exams.push_back({static_cast<int32_t>(p), row, id, e->labels});
    }
  skip_exams_outside_parts(table, seen, unreadable, part_paths, source, report);

  ecg::PreprocessConfig pre = settings.preprocess;
  pre.length = source.length;
  pre.target_fs = 0;  // CODE-15 stays at its 400 Hz
  DatasetInfo info = base_info(settings, pre, ecg::kCode15Fs);
  std::string part_names;
  for (size_t p = 0; p < parts.size(); ++p) {
    if (!parts[p]) continue;
    if (!part_names.empty()) part_names += ',';
    part_names += part_paths[p].filename().string();
  }
  info.source = fmt::format("code15:{}", part_names);
  info.label_selection = fmt::format("CODE-15% labels 1dAVb, RBBB, LBBB, SB, AF, ST from exams.csv (joined on "
                                     "exam_id); exams with no label {}",
                                     source.drop_unlabelled ? "dropped" : "kept");
  info.label_min_count = -1;
  info.merge_equivalent = 0;
  info.drop_unlabelled = source.drop_unlabelled ? 1 : 0;
  const std::vector<DatasetClass> classes = code15_classes();
  DatasetWriter writer(report.output, info, classes);

  const int workers = worker_count(settings);
  const auto n = static_cast<int64_t>(exams.size());
  ProgressLine progress(report.name, n, settings.progress);
  ordered_parallel_map<PreparedRecord>(
      n, workers, pipeline_window(workers),
      [&](int64_t i) {
        const Exam& e = exams[static_cast<size_t>(i)];
        h5::silence_errors_on_this_thread();  // a damaged part is reported as an ecg::RecordError, not a stack dump
        return prepare_record(
            [&] {
              std::lock_guard lk(*part_locks[static_cast<size_t>(e.part)]);
              return parts[static_cast<size_t>(e.part)]->read(e.row);
            },
            fmt::format("code15:{}", e.exam_id), pre, settings.deflate_level);
      },
      [&](int64_t i, PreparedRecord& r) {
        const Exam& e = exams[static_cast<size_t>(i)];
        if (report.skips.attempt([&] {
              if (r.error) throw *r.error;
            }))
          writer.append_encoded(r.chunk, e.labels.data(), std::to_string(e.exam_id));
        progress.update(i + 1);
      });
  progress.finish(n);
  finish_outputs(writer, classes, settings, report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace agf::dataset
