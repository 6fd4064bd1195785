// agf-collect: raw ECG folders -> prepared dataset files (HDF5), class tables and splits (docs/dataset_format.md).
//   agf-collect -o prepared --challenge /data/WFDB_Ga --challenge /data/WFDB_PTBXL --code15 /data/code15
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/collect.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
  agf::keep_freed_host_memory_mapped();
  using namespace agf::dataset;
  CLI::App app{"Prepare ECG datasets: Challenge 2021 WFDB folders and CODE-15% parts -> one HDF5 file each"};
  std::vector<std::string> challenge_dirs, names;
  std::string code15_dir, out_dir, label_table, challenge_dataset;
  ChallengeSource challenge_defaults;
  Code15Source code15;
  CollectSettings settings;
  bool keep_unlabelled = false, quiet = false;
  double target_fs = 0.0;
  int64_t length = settings.preprocess.length;

  app.add_option("-o,--out-dir", out_dir, "folder for <name>.h5 and <name>.classes.csv")->required();
  app.add_option("--challenge", challenge_dirs, "a Challenge 2021 dataset folder (searched recursively for .hea); "
                                                "repeat for several datasets, one output file each");
  app.add_option("--name", names, "output name of each --challenge folder, in order (default: the folder's name)");
  app.add_option("--code15", code15_dir, "a CODE-15% folder holding exams.csv and exams_part<N>.hdf5");
  app.add_option("--code15-name", code15.name, "output name of the CODE-15% dataset")->capture_default_str();
  app.add_option("--code15-length", code15.length, "T for CODE-15% (samples at 400 Hz)")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_flag("--code15-drop-unlabelled", code15.drop_unlabelled, "leave out CODE-15% exams with none of the six labels");
  app.add_option("--min-count", challenge_defaults.min_count,
                 "keep a scored class when more than this many records carry it")->capture_default_str();
  app.add_flag("--merge-equivalent", challenge_defaults.merge_equivalent,
               "one class for each of the Challenge's four equivalent code pairs");
  app.add_flag("--keep-unlabelled", keep_unlabelled, "keep Challenge records with no kept class (all-zero labels)");
  app.add_flag("--published-counts", challenge_defaults.published_counts,
               "select classes by the Challenge's published per-dataset counts instead of counting the records");
  app.add_option("--challenge-dataset", challenge_dataset,
                 "which dataset's published counts (georgia, ptb_xl, ningbo, chapman_shaoxing, ...); default: "
                 "guessed from the output name");
  app.add_option("--label-table", label_table, "scored-code table (default: the project's data/labels copy)");
  app.add_option("--length", length, "T for Challenge records (samples)")
      ->capture_default_str()->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--target-fs", target_fs, "resample Challenge records to this rate (0: keep the native rate)")
      ->capture_default_str();
  app.add_option("--deflate", settings.deflate_level, "1: shuffle + run-length deflate (fast); 2-9: shuffle + deflate at that level; 0: store signals raw")
      ->capture_default_str()->check(CLI::Range(0, 9));
  app.add_option("--threads", settings.threads, "worker threads (0: one per hardware thread)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  app.add_flag("--strict", settings.strict, "a bad record is fatal instead of skipped and counted");
  app.add_option("--seed", settings.split.seed, "split seed")->capture_default_str();
  // Ranges are checked after parsing, so that the message states the interval exactly (CLI::Range prints its
  // bounds with %f, and "not in range 0.000000 to 1.000000" hides that 0 itself is excluded).
  app.add_option("--label-ratio", settings.split.label_ratio, "share of records in the labelled (train+val) set, "
                                                             "in (0, 1]")->capture_default_str();
  app.add_option("--val-fraction", settings.split.val_fraction, "share of the labelled set held out for validation, "
                                                               "in [0, 1)")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "no progress line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "agf-collect: {} (see --help)\n", e.what());
    return 2;
  }

  try {
    AGF_CHECK(!challenge_dirs.empty() || !code15_dir.empty(), "nothing to collect: give --challenge and/or --code15");
    AGF_CHECK(names.empty() || names.size() == challenge_dirs.size(), "{} --name for {} --challenge folders",
              names.size(), challenge_dirs.size());
    AGF_CHECK(challenge_dataset.empty() || challenge_defaults.published_counts,
              "--challenge-dataset only applies with --published-counts");
    AGF_CHECK(challenge_defaults.min_count >= 0, "--min-count must be 0 or more, got {}", challenge_defaults.min_count);
    const double ratio = settings.split.label_ratio, val = settings.split.val_fraction;
    AGF_CHECK(ratio > 0 && ratio <= 1, "--label-ratio must be in (0, 1], got {}", ratio);
    AGF_CHECK(val >= 0 && val < 1, "--val-fraction must be in [0, 1), got {}", val);
    AGF_CHECK(target_fs >= 0 && target_fs <= 100000, "--target-fs must be 0 (keep the native rate) or a rate up to "
              "100000 Hz, got {}", target_fs);
    settings.out_dir = out_dir;
    settings.preprocess.length = length;
    settings.preprocess.target_fs = target_fs;
    settings.progress = !quiet;
    for (const std::string& d : challenge_dirs)
      AGF_CHECK(std::filesystem::is_directory(d), "--challenge {}: not a folder", d);
    if (!code15_dir.empty()) AGF_CHECK(std::filesystem::is_directory(code15_dir), "--code15 {}: not a folder", code15_dir);

    std::vector<ChallengeSource> sources;
    for (size_t i = 0; i < challenge_dirs.size(); ++i) {
      ChallengeSource src = challenge_defaults;
      src.dir = challenge_dirs[i];
      src.name = names.empty() ? "" : names[i];
      src.drop_unlabelled = !keep_unlabelled;
      src.challenge_dataset = challenge_dataset;
      src.label_table = label_table;
      sources.push_back(std::move(src));
    }
    code15.dir = code15_dir;
    // Before anything runs: two inputs with one output name would write the same file.
    check_distinct_outputs(sources, code15_dir.empty() ? nullptr : &code15, settings.out_dir);

    for (const ChallengeSource& src : sources) fmt::print("{}", collect_challenge(src, settings).summary());
    if (!code15_dir.empty()) fmt::print("{}", collect_code15(code15, settings).summary());
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "agf-collect: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
