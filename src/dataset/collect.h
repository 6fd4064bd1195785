#pragma once
// Raw data -> prepared dataset files (the library behind agf-collect). A Challenge 2021 folder (searched
// recursively for .hea) or a CODE-15% folder (exams.csv + exams_part*.hdf5) becomes one dataset file, a class table
// beside it (<name>.classes.csv) and its splits. Records are read and preprocessed on a thread pool and written in
// input order, streamed (never all signals in memory); the same input always gives byte-identical files. A record
// that cannot be read or preprocessed is skipped and named with its reason in <name>.skipped.csv (fatal under
// strict), and the classes are chosen from the records written. collect.cpp holds the Challenge half,
// collect_code15.cpp the CODE-15 half.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/dataset_format.h"
#include "ecg/preprocess.h"
#include "ecg/record_error.h"
#include "dataset/splits.h"

namespace agf::dataset {

inline constexpr std::string_view kCollectCreatedBy = "agf-collect 0.1.0";

// What every dataset of one run shares.
struct CollectSettings {
  std::filesystem::path out_dir;
  ecg::PreprocessConfig preprocess;  // its length is T of the Challenge datasets; target_fs 0 keeps the native rate
  // 1 (the default): shuffle + zlib's run-length deflate, 64% of raw for ~1.8 ms of CPU a record; 2-9: shuffle +
  // deflate with zlib's match search at that level (slower, barely smaller); 0: stored raw, the fastest to read.
  // Measurements in docs/dataset_format.md.
  int64_t deflate_level = 1;
  int threads = 0;              // workers; 0: one per hardware thread
  bool strict = false;          // a bad record is fatal instead of skipped and counted
  SplitConfig split;
  bool progress = true;         // a progress line on stderr
  std::string created_by = std::string(kCollectCreatedBy);
};

struct ChallengeSource {
  std::filesystem::path dir;
  std::string name;                  // output stem; empty: the folder's name
  int64_t min_count = 200;           // keep a class carried by more than this many records written
  bool merge_equivalent = false;     // join the Challenge's four equivalent pairs into one class each
  bool drop_unlabelled = true;       // leave out records with no kept class (the reference does)
  // Choose classes by the table's published per-dataset numbers instead of counting the records written; a class
  // that no written record carries is left out all the same.
  bool published_counts = false;
  std::string challenge_dataset;     // which dataset's published counts; empty: guessed from `name`
  std::filesystem::path label_table;  // empty: the project's data/labels/challenge2021_scored.csv
};

struct Code15Source {
  std::filesystem::path dir;      // exams.csv and exams_part*.hdf5
  std::string name = "code15";
  int64_t length = 4096;          // T at CODE-15's 400 Hz
  bool drop_unlabelled = false;   // normal exams (no label) are kept by default: they are CODE-15's negatives
};

struct CollectReport {
  std::string name;
  std::filesystem::path output, class_table;
  // <name>.skipped.csv, written when records were skipped or kept with a note (else empty)
  std::filesystem::path skipped_table;
  int64_t found = 0;               // records (exams) found in the input
  int64_t written = 0;
  ecg::SkipTally skips;                 // bad records by reason, and records kept with a note
  int64_t dropped_unlabelled = 0;  // good records left out for carrying no kept class
  // Classes the headers promised that the records written did not keep (too few of them could be read).
  std::vector<DatasetClass> classes_left_out;
  std::vector<DatasetClass> classes;
  std::vector<int64_t> class_counts;  // written records per class
  std::array<int64_t, kSplitPartCount> split_sizes{};
  double seconds = 0;

  std::string summary() const;  // several lines for people
};

// Each holds an io::OutputLock on .<name>.h5.lock beside its output from start to end (a second run on the same
// output refuses at once) and stops at the next record after SIGINT/SIGTERM with io::Interrupted, leaving nothing.
CollectReport collect_challenge(const ChallengeSource& source, const CollectSettings& settings);
CollectReport collect_code15(const Code15Source& source, const CollectSettings& settings);

// The stem of the files a source's collect writes (<name>.h5, <name>.classes.csv): its name, or else the folder's
// name ("dataset" for one with none) for a Challenge source, "code15" for CODE-15. A given name must be a plain file
// name (io::plain_file_name_problem): "../x", "a/b", "/abs", "." or ".." would write outside the output folder.
std::string output_name(const ChallengeSource& source);
std::string output_name(const Code15Source& source);

// Refuses, with one error naming both inputs, two sources of one run that would write the same <name>.h5 in
// out_dir (the second would silently replace the first). `code15` may be null.
void check_distinct_outputs(const std::vector<ChallengeSource>& challenge, const Code15Source* code15,
                            const std::filesystem::path& out_dir);

// Every *.hea under `dir`, recursively, sorted by path (the input order of a Challenge dataset).
std::vector<std::filesystem::path> find_challenge_headers(const std::filesystem::path& dir);
// exams_part<N>.hdf5 in `dir`, sorted by N.
std::vector<std::filesystem::path> find_code15_parts(const std::filesystem::path& dir);

// CODE-15's six labels as dataset classes: their SNOMED CT codes with CODE-15's abbreviations.
std::vector<DatasetClass> code15_classes();

}  // namespace agf::dataset
