#include "dataset/collect.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <unordered_map>

#include "dataset/collect_common.h"
#include "dataset/dataset_pipeline.h"
#include "dataset/dataset_report.h"
#include "dataset/dataset_writer.h"
#include "ecg/labels.h"
#include "ecg/leads.h"
#include "ecg/record.h"
#include "ecg/wfdb_header.h"
#include "io/atomic_file.h"
#include "io/printable.h"
#include "tensor/error.h"

namespace agf::dataset {

namespace fs = std::filesystem;

namespace detail {

int worker_count(const CollectSettings& s) {
  if (s.threads > 0) return s.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int64_t pipeline_window(int workers) { return 4 * static_cast<int64_t>(workers) + 4; }

ecg::RecordError out_of_memory(const std::string& record) {
  return ecg::RecordError(ecg::RecordProblem::unsupported, record,
                     fmt::format("record {}: out of memory while reading and preprocessing it (std::bad_alloc)",
                                 record));
}

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

// <name>.skipped.csv lists the records skipped and those kept with a note.
bool has_skipped_table(const ecg::SkipTally& skips) { return skips.skipped() > 0 || !skips.notes().empty(); }

// Finishes the dataset, its class table and (when records were skipped or noted) the table of them; fills the
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
  if (has_skipped_table(report.skips)) tables.add(report.skipped_table).write(skipped_table_text(report.skips));
  writer.finish(splits);
  // The dataset is in place: a table that cannot follow it (a rename failing) must not leave the previous run's
  // table beside it as if it described the new file; commit_all removes those.
  tables.commit_all();
  if (!has_skipped_table(report.skips)) {
    std::error_code ec;
    fs::remove(report.skipped_table, ec);
    report.skipped_table.clear();
  }
}

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

}  // namespace detail

using namespace detail;

namespace {

std::vector<DatasetClass> to_dataset_classes(const ecg::ClassSet& set) {
  std::vector<DatasetClass> out;
  for (const ecg::LabelClass& c : set.classes()) out.push_back({c.key, c.abbreviation});
  return out;
}

// A negative gain is legal WFDB (the ADC counts down as the voltage rises) and the conversion to mV honours it, but
// no Challenge record has one: more likely a header that flips its lead than a real inverted ADC. The record is kept
// and the note says which leads; --strict refuses it.
std::optional<ecg::RecordError> negative_gain_note(const ecg::WfdbHeader& h, const std::string& id) {
  std::vector<std::string> leads;
  for (const ecg::WfdbLead& l : h.leads)
    if (l.gain < 0) leads.push_back(fmt::format("{} ({:g})", l.name, l.gain));
  if (leads.empty()) return std::nullopt;
  const bool one = leads.size() == 1;
  return ecg::RecordError(ecg::RecordProblem::negative_gain, id,
                          fmt::format("record {}: negative gain in lead{} {}: legal WFDB but in no Challenge record, "
                                      "so the lead{} probably inverted; kept as the header says",
                                      id, one ? "" : "s", fmt::join(leads, ", "), one ? " is" : "s are"));
}

// How the classes of a Challenge dataset are chosen from the records that carry them.
struct ClassRule {
  const ecg::ClassSet& all;  // every scored class
  int64_t min_count;
  std::optional<std::vector<int64_t>> published;  // per class of `all`, when the published table decides

  // Counting: the classes that more than min_count of the records (those of `rows` when given) carry. Published
  // counts: the classes whose published count is above min_count (the reference's class set, whatever share of the
  // dataset is here), less those that none of the records carries, since a column of zeros is no class to learn or
  // score.
  ecg::ClassSet choose(const std::vector<std::vector<std::string>>& codes,
                       const std::vector<size_t>* rows = nullptr) const {
    const std::vector<int64_t> counts = ecg::count_records(all, codes, rows);
    if (!published) return ecg::select_classes(all, counts, min_count);
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < all.size(); ++i)
      if ((*published)[static_cast<size_t>(i)] > min_count && counts[static_cast<size_t>(i)] > 0) keep.push_back(i);
    return all.subset(keep);
  }
};

std::string abbreviations_of(const std::vector<DatasetClass>& classes) {
  std::vector<std::string> out;
  for (const DatasetClass& c : classes) out.push_back(c.abbreviation);
  return fmt::format("{}", fmt::join(out, ", "));
}

// The classes of `set` that `within` has too, in `set`'s order.
ecg::ClassSet classes_within(const ecg::ClassSet& set, const ecg::ClassSet& within) {
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < set.size(); ++i)
    if (within.index_of_code(set[i].codes.front())) keep.push_back(i);
  return set.subset(keep);
}

// The classes of `before` that `after` no longer has.
std::vector<DatasetClass> classes_left_out(const ecg::ClassSet& before, const ecg::ClassSet& after) {
  std::vector<DatasetClass> out;
  for (const ecg::LabelClass& c : before.classes())
    if (!after.index_of_code(c.codes.front())) out.push_back({c.key, c.abbreviation});
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

std::string output_name(const ChallengeSource& source) {
  return source.name.empty() ? stem_of(source.dir) : checked_output_name(source.name, "--name");
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

  // Pass 1: headers only (diagnoses and rates), for a first choice of classes before any signal is read.
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
        if (auto note = negative_gain_note(*r.first, id)) report.skips.keep_with_note(*note);
        entries.push_back({static_cast<size_t>(i), std::move(r.first->dx)});
      });
  seen_ids.clear();
  AGF_CHECK(!entries.empty(), "Challenge input {}: none of the {} headers could be read ({})", source.dir.string(),
            report.found, report.skips.summary());

  // Classes: scored codes carried by more than min_count records, counted in the records written (or as published,
  // less the classes no written record carries). Which records survive reading and preprocessing is only known in
  // pass 2, so the classes the headers promise are a first choice: pass 2 writes the records that carry one of
  // them, then the classes are chosen again from the records written. Skips can only take classes away; when they
  // do, the labels are rewritten, and in the rare case that a written record is left with no class (dropped
  // unlabelled), pass 2 runs again without those classes, so that /signals holds no row outside the splits.
  const ecg::ClassSet all = ecg::scored_classes(table, source.merge_equivalent);
  std::vector<std::vector<std::string>> record_codes;
  record_codes.reserve(entries.size());
  for (Entry& e : entries) record_codes.push_back(std::move(e.dx));
  ClassRule rule{all, source.min_count, std::nullopt};
  std::string count_source = "counted in the records written";
  if (source.published_counts) {
    const ecg::ChallengeDataset d =
        ecg::parse_challenge_dataset(source.challenge_dataset.empty() ? report.name : source.challenge_dataset);
    rule.published = ecg::published_counts(table, all, d);
    count_source = fmt::format("as published for {}, less classes no written record carries", ecg::dataset_name(d));
  }
  ecg::ClassSet kept = rule.choose(record_codes);
  if (kept.size() == 0) {  // before any signal is read: skips can only lower the counts
    std::vector<int64_t> counts = ecg::count_records(all, record_codes);
    if (rule.published)  // the published counts of the classes these records carry
      for (size_t i = 0; i < counts.size(); ++i) counts[i] = counts[i] > 0 ? (*rule.published)[i] : 0;
    const auto top = std::max_element(counts.begin(), counts.end()) - counts.begin();
    AGF_FAIL("Challenge input {}: no scored class has more than {} records ({}; the most common, {}, has {}): "
             "lower --min-count",
             source.dir.string(), source.min_count,
             rule.published ? count_source : std::string("counted in the headers"), all[top].abbreviation,
             counts[static_cast<size_t>(top)]);
  }

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
  const ecg::SkipTally after_headers = report.skips;
  const ecg::ClassSet first_choice = kept;
  // Records that pass 2 skipped in an earlier round: not read again, their skips carried over.
  std::vector<char> unreadable(entries.size(), 0);
  std::vector<ecg::RecordError> read_skips;

  for (int round = 0;; ++round) {
    report.skips = after_headers;
    for (const ecg::RecordError& e : read_skips) report.skips.note(e);
    std::vector<size_t> candidates;  // the entries this round reads (round 0: all, without a copy of their codes)
    std::vector<std::vector<std::string>> candidate_codes;
    for (size_t e = 0; round > 0 && e < entries.size(); ++e)
      if (!unreadable[e]) {
        candidates.push_back(e);
        candidate_codes.push_back(record_codes[e]);
      }
    const ecg::LabelMatrix labels =
        ecg::encode_multi_hot(kept, round == 0 ? record_codes : candidate_codes, source.drop_unlabelled);
    auto entry_of = [&](int64_t row) {
      const auto i = static_cast<size_t>(labels.kept[static_cast<size_t>(row)]);
      return round == 0 ? i : candidates[i];
    };
    report.dropped_unlabelled = labels.dropped;
    const int64_t k = kept.size();
    DatasetWriter writer(report.output, info, to_dataset_classes(kept));

    // Pass 2: read, check, preprocess and compress on the workers; write in input order here.
    const auto n_kept = static_cast<int64_t>(labels.kept.size());
    const uint8_t* label_rows = labels.labels.data<uint8_t>();
    std::vector<size_t> written;  // per row written, its record (an index of entries and record_codes)
    ProgressLine progress(round == 0 ? report.name : fmt::format("{} (again, without {})", report.name,
                                                                 abbreviations_of(classes_left_out(first_choice, kept))),
                          n_kept, settings.progress);
    ordered_parallel_map<PreparedRecord>(
        n_kept, workers, pipeline_window(workers),
        [&](int64_t i) {
          const fs::path& header = headers[entries[entry_of(i)].header];
          return prepare_record([&] { return ecg::read_challenge_record(header).to_signal(); }, header.stem().string(),
                                pre, settings.deflate_level);
        },
        [&](int64_t i, PreparedRecord& r) {
          const size_t entry = entry_of(i);
          if (report.skips.attempt([&] {
                if (r.error) throw *r.error;
              })) {
            writer.append_encoded(r.chunk, label_rows + i * k, headers[entries[entry].header].stem().string());
            written.push_back(entry);
          } else {
            unreadable[entry] = 1;
            read_skips.push_back(*r.error);
          }
          progress.update(i + 1);
        });
    progress.finish(n_kept);

    // Within `kept`, so that each round has fewer classes than the last: files changing under a run cannot make it
    // loop.
    const ecg::ClassSet chosen = classes_within(rule.choose(record_codes, &written), kept);
    AGF_CHECK(chosen.size() > 0 || written.empty(),
              "Challenge input {}: no scored class has more than {} of the {} records written ({}; {}): lower "
              "--min-count",
              source.dir.string(), source.min_count, written.size(), count_source, report.skips.summary());
    if (chosen.size() != kept.size()) {
      std::vector<std::vector<std::string>> written_codes;
      for (size_t e : written) written_codes.push_back(record_codes[e]);
      const ecg::LabelMatrix relabelled = ecg::encode_multi_hot(chosen, written_codes, source.drop_unlabelled);
      if (relabelled.dropped > 0) {  // rows of this file would carry no class: write it again without them
        kept = chosen;
        continue;
      }
      writer.relabel(to_dataset_classes(chosen), relabelled.labels.to_vector<uint8_t>());
    }
    report.classes_left_out = classes_left_out(first_choice, chosen);
    finish_outputs(writer, to_dataset_classes(chosen), settings, report);
    break;
  }
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
  const auto& noted = skips.notes();
  for (size_t i = 0; i < std::min(kShown, noted.size()); ++i)
    s += fmt::format("    kept: {}\n", printable(noted[i].message));
  const size_t listed = skipped.size() + noted.size(), shown = std::min(kShown, skipped.size()) +
                                                               std::min(kShown, noted.size());
  if (listed > 0)
    s += fmt::format("    {}every {} with its reason: {}\n",
                     listed > shown ? fmt::format("... {} more; ", listed - shown) : "",
                     noted.empty() ? "skipped record" : skipped.empty() ? "record kept with a note" : "skipped or noted record",
                     printable(skipped_table.string()));
  if (!classes_left_out.empty())
    s += fmt::format("  classes left out for too few records written: {}\n", abbreviations_of(classes_left_out));
  s += fmt::format("  dropped for no kept class: {}\n", dropped_unlabelled);
  s += fmt::format("  splits: train {}, val {}, test {}\n", split_sizes[0], split_sizes[1], split_sizes[2]);
  s += fmt::format("  classes ({}; table {}):\n", classes.size(), printable(class_table.string()));
  for (size_t j = 0; j < classes.size(); ++j)
    s += fmt::format("    {:<20} {:<12} {}\n", classes[j].code, classes[j].abbreviation,
                     j < class_counts.size() ? class_counts[j] : 0);
  return s;
}

}  // namespace agf::dataset
