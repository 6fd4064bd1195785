#include "dataset/collect.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "ecg/code15.h"
#include "dataset/dataset_h5.h"
#include "dataset/dataset_pipeline.h"
#include "dataset/dataset_report.h"
#include "dataset/dataset_writer.h"
#include "ecg/h5_threadsafe.h"  // HDF5 is called from several threads here
#include "ecg/labels.h"
#include "ecg/leads.h"
#include "ecg/record.h"
#include "ecg/text_util.h"
#include "ecg/wfdb_header.h"
#include "io/atomic_file.h"
#include "io/printable.h"
#include "tensor/error.h"

namespace agf::dataset {

namespace fs = std::filesystem;

namespace {

int worker_count(const CollectSettings& s) {
  if (s.threads > 0) return s.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int64_t pipeline_window(int workers) { return 4 * static_cast<int64_t>(workers) + 4; }

// A record's outcome from a worker: its stored chunk, or the reason it is skipped.
struct PreparedRecord {
  std::vector<uint8_t> chunk;
  std::optional<ecg::RecordError> error;
};

// A std::bad_alloc while one record is read or preprocessed (a record far larger than any real one) is that record's
// problem, skipped and counted like any other, not an abort of the whole run with a message naming no file.
ecg::RecordError out_of_memory(const std::string& record) {
  return ecg::RecordError(ecg::RecordProblem::unsupported, record,
                     fmt::format("record {}: out of memory while reading and preprocessing it (std::bad_alloc)",
                                 record));
}

// Counts a skip (or, under --strict, throws it) through the tally, so both policies live in one place.
void note_problem(ecg::SkipTally& tally, const ecg::RecordError& e) {
  tally.attempt([&] { throw e; });
}

std::string describe_filter(const ecg::PreprocessConfig& c) {
  if (!c.bandpass) return "none";
  return fmt::format("Butterworth order {} band-pass {}-{} Hz, zero phase (forward-backward, odd padding {})",
                     c.filter_order, c.low_hz, c.high_hz,
                     c.padlen ? fmt::format("{}", *c.padlen)
                              : std::string("3*max(len(a),len(b)), scipy's default"));
}

std::string describe_normalisation(const ecg::PreprocessConfig& c) {
  std::string s = c.zscore ? fmt::format("per-lead z-score (population std; std < {} mV -> zeros)", c.flat_std_mv)
                           : std::string("none");
  return s + fmt::format("; zero-padded at the end or truncated to {} samples; missing leads are zero rows", c.length);
}

DatasetInfo base_info(const CollectSettings& s, const ecg::PreprocessConfig& pre, double fs) {
  DatasetInfo info;
  info.fs = fs;
  info.length = pre.length;
  info.filter = describe_filter(pre);
  info.resampling = pre.target_fs > 0 ? fmt::format("polyphase to {} Hz", pre.target_fs) : "none (native rate)";
  info.normalisation = describe_normalisation(pre);
  info.created_by = s.created_by;
  info.deflate_level = s.deflate_level;
  return info;
}

std::string stem_of(const fs::path& dir) {
  fs::path p = dir;
  if (p.filename().empty()) p = p.parent_path();  // "dir/" names "dir"
  std::string name = p.filename().string();
  return name.empty() || name == "." || name == ".." ? std::string("dataset") : name;
}

// Finishes the dataset, its class table and (when records were skipped) the table of skipped records; fills the
// report's outcome fields. The tables are written to temporary files first and renamed into place only once the
// dataset is, so a failed finish leaves a previous run's good tables alone (and no temporary behind); a skipped table
// left by an earlier run of this name is removed, as it no longer describes the dataset beside it.
void finish_outputs(DatasetWriter& writer, const std::vector<DatasetClass>& classes, const CollectSettings& settings,
                    CollectReport& report) {
  const int64_t n = writer.size(), k = writer.num_classes();
  AGF_CHECK(n > 0, "{}: no record could be written ({}; {} dropped for no kept class)", report.name,
            report.skips.summary(), report.dropped_unlabelled);
  const DatasetSplits splits = make_splits(writer.labels().data(), n, k, settings.split);
  report.written = n;
  report.classes = classes;
  report.class_counts = class_counts(writer.labels(), k, nullptr);
  for (SplitPart p : {SplitPart::train, SplitPart::val, SplitPart::test})
    report.split_sizes[static_cast<size_t>(p)] = static_cast<int64_t>(splits.part(p).size());
  report.class_table = settings.out_dir / (report.name + ".classes.csv");
  report.skipped_table = settings.out_dir / (report.name + ".skipped.csv");
  io::AtomicFileSet tables;
  tables.add(report.class_table).write(class_table_text(classes, writer.labels(), splits));
  if (report.skips.skipped() > 0) tables.add(report.skipped_table).write(skipped_table_text(report.skips));
  writer.finish(splits);
  // The dataset is in place: a table that cannot follow it (a rename failing) must not leave the previous run's
  // table beside it as if it described the new file; commit_all removes those.
  tables.commit_all();
  if (report.skips.skipped() == 0) {
    std::error_code ec;
    fs::remove(report.skipped_table, ec);
    report.skipped_table.clear();
  }
}

// Claims <name>.h5 and its tables for this run, before any work: a second run on the same output refuses at once
// instead of racing this one (io::OutputLock on .<name>.h5.lock beside it, removed when the run ends).
io::OutputLock claim_output(const fs::path& output) {
  if (output.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(output.parent_path(), ec);
    AGF_CHECK(!ec, "{}: cannot create the folder {}: {}", output.string(), output.parent_path().string(), ec.message());
  }
  return io::OutputLock(io::lock_path_for(output), output.string());
}

std::string checked_output_name(const std::string& name, std::string_view option) {
  const std::string problem = io::plain_file_name_problem(name);
  AGF_CHECK(problem.empty(), "{} '{}': not a plain file name ({}); the outputs are <name>.h5 and its tables inside -o",
            option, io::printable(name), problem);
  return name;
}

std::vector<DatasetClass> to_dataset_classes(const ecg::ClassSet& set) {
  std::vector<DatasetClass> out;
  for (const ecg::LabelClass& c : set.classes()) out.push_back({c.key, c.abbreviation});
  return out;
}

}  // namespace

std::vector<fs::path> find_challenge_headers(const fs::path& dir) {
  std::error_code ec;
  AGF_CHECK(fs::is_directory(dir, ec), "Challenge input {} is not a folder", dir.string());
  std::vector<fs::path> out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".hea") out.push_back(it->path());
  AGF_CHECK(!ec, "listing {}: {}", dir.string(), ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

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

std::string output_name(const ChallengeSource& source) {
  return source.name.empty() ? stem_of(source.dir) : checked_output_name(source.name, "--name");
}

std::string output_name(const Code15Source& source) {
  return source.name.empty() ? std::string("code15") : checked_output_name(source.name, "--code15-name");
}

void check_distinct_outputs(const std::vector<ChallengeSource>& challenge, const Code15Source* code15,
                            const fs::path& out_dir) {
  std::unordered_map<std::string, std::string> claimed;  // output name -> the input that claimed it
  auto claim = [&](const std::string& name, const std::string& input) {
    auto [it, fresh] = claimed.emplace(name, input);
    AGF_CHECK(fresh, "{} and {} would both write {}: give them different names (--name, --code15-name)",
              it->second, input, (out_dir / (name + ".h5")).string());
  };
  for (const ChallengeSource& s : challenge) claim(output_name(s), fmt::format("--challenge {}", s.dir.string()));
  if (code15 != nullptr) claim(output_name(*code15), fmt::format("--code15 {}", code15->dir.string()));
}

// ---- Challenge 2021 ----

CollectReport collect_challenge(const ChallengeSource& source, const CollectSettings& settings) {
  const auto t0 = std::chrono::steady_clock::now();
  CollectReport report;
  report.skips = ecg::SkipTally(settings.strict);
  report.name = output_name(source);
  report.output = settings.out_dir / (report.name + ".h5");
  check_split_config(settings.split);  // before hours of reading, not after
  const io::OutputLock claim = claim_output(report.output);
  AGF_CHECK(source.min_count >= 0, "Challenge input {}: minimum class count {} is negative", source.dir.string(),
            source.min_count);
  const std::vector<fs::path> headers = find_challenge_headers(source.dir);
  AGF_CHECK(!headers.empty(), "Challenge input {}: no .hea files found", source.dir.string());
  report.found = static_cast<int64_t>(headers.size());
  const ecg::ScoredCodeTable table =
      source.label_table.empty() ? ecg::ScoredCodeTable::load_default() : ecg::ScoredCodeTable::load(source.label_table);
  const int workers = worker_count(settings);

  // Pass 1: headers only (diagnoses and rates), to choose the classes before any signal is written.
  // Per good header: its index in `headers`, and its codes (moved into record_codes once the pass is done). Only
  // this bookkeeping grows with the record count; signals never wait in memory.
  struct Entry {
    size_t header;
    std::vector<std::string> dx;
  };
  std::vector<Entry> entries;
  std::optional<double> dataset_fs;
  if (settings.preprocess.target_fs > 0) dataset_fs = settings.preprocess.target_fs;
  std::unordered_map<std::string, size_t> seen_ids;
  using HeaderResult = std::pair<std::optional<ecg::WfdbHeader>, std::optional<ecg::RecordError>>;
  ordered_parallel_map<HeaderResult>(
      report.found, workers, 64 * workers,
      [&](int64_t i) -> HeaderResult {
        try {
          return {ecg::read_wfdb_header(headers[static_cast<size_t>(i)]), std::nullopt};
        } catch (const ecg::RecordError& e) {
          return {std::nullopt, e};
        }
      },
      [&](int64_t i, HeaderResult& r) {
        const fs::path& path = headers[static_cast<size_t>(i)];
        if (r.second) return note_problem(report.skips, *r.second);
        const std::string id = path.stem().string();
        auto [it, fresh] = seen_ids.emplace(id, static_cast<size_t>(i));
        AGF_CHECK(fresh, "Challenge input {}: record name {} appears twice ({} and {})", source.dir.string(), id,
                  headers[it->second].string(), path.string());
        if (!dataset_fs) dataset_fs = r.first->fs;
        if (r.first->fs != *dataset_fs && settings.preprocess.target_fs <= 0)
          return note_problem(report.skips,
                              ecg::RecordError(ecg::RecordProblem::unsupported, id,
                                          fmt::format("record {}: sampled at {} Hz, the dataset's first record at {} "
                                                      "Hz (resample with --target-fs)",
                                                      id, r.first->fs, *dataset_fs)));
        entries.push_back({static_cast<size_t>(i), std::move(r.first->dx)});
      });
  seen_ids.clear();
  AGF_CHECK(!entries.empty(), "Challenge input {}: none of the {} headers could be read ({})", source.dir.string(),
            report.found, report.skips.summary());

  // Classes: scored codes carried by more than min_count records (found here, or as published).
  const ecg::ClassSet all = ecg::scored_classes(table, source.merge_equivalent);
  std::vector<std::vector<std::string>> record_codes;
  record_codes.reserve(entries.size());
  for (Entry& e : entries) record_codes.push_back(std::move(e.dx));
  std::vector<int64_t> counts;
  std::string count_source = "counted in the records found";
  if (source.published_counts) {
    const ecg::ChallengeDataset d =
        ecg::parse_challenge_dataset(source.challenge_dataset.empty() ? report.name : source.challenge_dataset);
    counts = ecg::published_counts(table, all, d);
    count_source = fmt::format("as published for {}", ecg::dataset_name(d));
  } else {
    counts = ecg::count_records(all, record_codes);
  }
  const ecg::ClassSet kept = ecg::select_classes(all, counts, source.min_count);
  if (kept.size() == 0) {
    const auto top = std::max_element(counts.begin(), counts.end()) - counts.begin();
    AGF_FAIL("Challenge input {}: no scored class has more than {} records ({}; the most common, {}, has {}): "
             "lower --min-count",
             source.dir.string(), source.min_count, count_source, all[top].abbreviation,
             counts[static_cast<size_t>(top)]);
  }
  const ecg::LabelMatrix labels = ecg::encode_multi_hot(kept, record_codes, source.drop_unlabelled);
  report.dropped_unlabelled = labels.dropped;
  const int64_t k = kept.size();

  ecg::PreprocessConfig pre = settings.preprocess;
  DatasetInfo info = base_info(settings, pre, *dataset_fs);
  info.source = fmt::format("challenge2021:{}", stem_of(source.dir));
  info.label_selection = fmt::format(
      "Challenge 2021 scored codes with more than {} records ({}); equivalent codes {}; records with no kept class {}",
      source.min_count, count_source, source.merge_equivalent ? "merged" : "kept apart",
      source.drop_unlabelled ? "dropped" : "kept");
  info.label_min_count = source.min_count;
  info.merge_equivalent = source.merge_equivalent ? 1 : 0;
  info.drop_unlabelled = source.drop_unlabelled ? 1 : 0;
  const std::vector<DatasetClass> classes = to_dataset_classes(kept);
  DatasetWriter writer(report.output, info, classes);

  // Pass 2: read, check, preprocess and compress on the workers; write in input order here.
  const auto n_kept = static_cast<int64_t>(labels.kept.size());
  const uint8_t* label_rows = labels.labels.data<uint8_t>();
  ProgressLine progress(report.name, n_kept, settings.progress);
  ordered_parallel_map<PreparedRecord>(
      n_kept, workers, pipeline_window(workers),
      [&](int64_t i) {
        PreparedRecord out;
        const Entry& e = entries[static_cast<size_t>(labels.kept[static_cast<size_t>(i)])];
        try {
          const ecg::Record record = ecg::read_challenge_record(headers[e.header]);
          std::vector<float> signal(static_cast<size_t>(ecg::kStandardLeadCount * pre.length));
          ecg::preprocess_into(record.to_signal(), pre, signal.data());
          out.chunk = DatasetWriter::encode_record(signal.data(), pre.length, settings.deflate_level);
        } catch (const ecg::RecordError& err) {
          out.error = err;
        } catch (const std::bad_alloc&) {
          out.error = out_of_memory(headers[e.header].stem().string());
        }
        return out;
      },
      [&](int64_t i, PreparedRecord& r) {
        const Entry& e = entries[static_cast<size_t>(labels.kept[static_cast<size_t>(i)])];
        if (report.skips.attempt([&] {
              if (r.error) throw *r.error;
            }))
          writer.append_encoded(r.chunk, label_rows + i * k, headers[e.header].stem().string());
        progress.update(i + 1);
      });
  progress.finish(n_kept);
  finish_outputs(writer, classes, settings, report);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

// ---- CODE-15% ----

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
  // anyway, and the preprocessing, which dominates, runs outside the lock.
  std::vector<std::unique_ptr<ecg::Code15Part>> parts;
  std::vector<std::unique_ptr<std::mutex>> part_locks;
  for (const fs::path& p : part_paths) {
    parts.push_back(std::make_unique<ecg::Code15Part>(p));
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
    for (int64_t row = 0; row < parts[p]->size(); ++row) {
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

  ecg::PreprocessConfig pre = settings.preprocess;
  pre.length = source.length;
  pre.target_fs = 0;  // CODE-15 stays at its 400 Hz
  DatasetInfo info = base_info(settings, pre, ecg::kCode15Fs);
  std::string part_names;
  for (const fs::path& p : part_paths) {
    if (!part_names.empty()) part_names += ',';
    part_names += p.filename().string();
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
        PreparedRecord out;
        const Exam& e = exams[static_cast<size_t>(i)];
        try {
          h5::silence_errors_on_this_thread();  // a damaged part is reported as an ecg::RecordError, not a stack dump
          ecg::Signal sig;
          {
            std::lock_guard lk(*part_locks[static_cast<size_t>(e.part)]);
            sig = parts[static_cast<size_t>(e.part)]->read(e.row);
          }
          std::vector<float> signal(static_cast<size_t>(ecg::kStandardLeadCount * pre.length));
          ecg::preprocess_into(sig, pre, signal.data());
          out.chunk = DatasetWriter::encode_record(signal.data(), pre.length, settings.deflate_level);
        } catch (const ecg::RecordError& err) {
          out.error = err;
        } catch (const std::bad_alloc&) {
          out.error = out_of_memory(fmt::format("code15:{}", e.exam_id));
        }
        return out;
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

std::string CollectReport::summary() const {
  // Names, paths and messages carry text from the input (folder names, header lines): escaped for the terminal.
  using io::printable;
  std::string s = fmt::format("{}: {} records found, {} written to {} in {:.1f} s ({:.0f} records/s)\n",
                              printable(name), found, written, printable(output.string()), seconds,
                              seconds > 0 ? written / seconds : 0.0);
  s += fmt::format("  skipped: {}\n", skips.summary());
  constexpr size_t kShown = 10;
  const auto& skipped = skips.records();
  for (size_t i = 0; i < std::min(kShown, skipped.size()); ++i)
    s += fmt::format("    {}\n", printable(skipped[i].message));
  if (!skipped.empty())
    s += fmt::format("    {}every skipped record with its reason: {}\n",
                     skipped.size() > kShown ? fmt::format("... {} more; ", skipped.size() - kShown) : "",
                     printable(skipped_table.string()));
  s += fmt::format("  dropped for no kept class: {}\n", dropped_unlabelled);
  s += fmt::format("  splits: train {}, val {}, test {}\n", split_sizes[0], split_sizes[1], split_sizes[2]);
  s += fmt::format("  classes ({}; table {}):\n", classes.size(), printable(class_table.string()));
  for (size_t j = 0; j < classes.size(); ++j)
    s += fmt::format("    {:<20} {:<12} {}\n", classes[j].code, classes[j].abbreviation,
                     j < class_counts.size() ? class_counts[j] : 0);
  return s;
}

}  // namespace agf::dataset
