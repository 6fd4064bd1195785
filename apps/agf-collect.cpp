// agf-collect: raw ECG folders -> prepared dataset files (HDF5), class tables and splits (docs/dataset_format.md).
//   agf-collect -o prepared --challenge /data/WFDB_Ga --challenge /data/WFDB_PTBXL --code15 /data/code15
// Exit status and messages: apps/app_main.h. A run holds a lock beside each output while it writes it (a second run
// on the same output refuses at once); Ctrl-C stops at the next record and removes the partial output.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <vector>

#include "app_main.h"
#include "dataset/collect.h"
#include "io/interrupt.h"
#include "tensor/allocator.h"

int main(int argc, char** argv) {
  agf::keep_freed_host_memory_mapped();
  using namespace agf::dataset;
  using namespace agf::app;
  CLI::App app{"Prepare ECG datasets: Challenge 2021 WFDB folders and CODE-15% parts -> one HDF5 file each",
               "agf-collect"};
  configure(app);
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
                                                "repeat for several datasets, one output file each")
      ->default_str("");  // none: an empty list shown as "[]" says nothing
  app.add_option("--name", names, "output name of each --challenge folder, in order (default: the folder's name); "
                                  "a plain file name")->check(plain_file_name())->default_str("");
  app.add_option("--code15", code15_dir, "a CODE-15% folder holding exams.csv and exams_part<N>.hdf5");
  app.add_option("--code15-name", code15.name, "output name of the CODE-15% dataset")->check(plain_file_name());
  app.add_option("--code15-length", code15.length, "T for CODE-15% (samples at 400 Hz)")
      ->check(integer_in(1, int64_t{1} << 20));
  app.add_flag("--code15-drop-unlabelled", code15.drop_unlabelled, "leave out CODE-15% exams with none of the six labels");
  app.add_option("--min-count", challenge_defaults.min_count,
                 "keep a scored class when more than this many records carry it")->check(integer_in(0, 100'000'000));
  app.add_flag("--merge-equivalent", challenge_defaults.merge_equivalent,
               "one class for each of the Challenge's four equivalent code pairs");
  app.add_flag("--keep-unlabelled", keep_unlabelled, "keep Challenge records with no kept class (all-zero labels)");
  app.add_flag("--published-counts", challenge_defaults.published_counts,
               "select classes by the Challenge's published per-dataset counts instead of counting the records");
  app.add_option("--challenge-dataset", challenge_dataset,
                 "which dataset's published counts (georgia, ptb_xl, ningbo, chapman_shaoxing, ...); default: "
                 "guessed from the output name");
  app.add_option("--label-table", label_table, "scored-code table (default: the project's data/labels copy)");
  app.add_option("--length", length, "T for Challenge records (samples)")->check(integer_in(1, int64_t{1} << 20));
  app.add_option("--target-fs", target_fs, "resample Challenge records to this rate, Hz (0: keep the native rate)")
      ->check(real_in(0, 100000));
  app.add_option("--deflate", settings.deflate_level, "1: shuffle + run-length deflate (fast); 2-9: shuffle + deflate at that level; 0: store signals raw")
      ->check(integer_in(0, 9));
  app.add_option("--threads", settings.threads, "worker threads (0: one per hardware thread)")
      ->check(integer_in(0, 1024));
  app.add_flag("--strict", settings.strict, "a bad record is fatal instead of skipped and counted");
  app.add_option("--seed", settings.split.seed, "split seed")->check(unsigned_integer());
  app.add_option("--label-ratio", settings.split.label_ratio, "share of records in the labelled (train+val) set")
      ->check(real_in(0, 1, true, false));
  app.add_option("--val-fraction", settings.split.val_fraction, "share of the labelled set held out for validation")
      ->check(real_in(0, 1, false, true));
  app.add_flag("-q,--quiet", quiet, "no progress line");

  return run_app(app, argc, argv, [&] {
    usage_check(!challenge_dirs.empty() || !code15_dir.empty(), "nothing to collect: give --challenge and/or --code15");
    usage_check(names.empty() || names.size() == challenge_dirs.size(), "{} --name for {} --challenge folders",
                names.size(), challenge_dirs.size());
    usage_check(challenge_dataset.empty() || challenge_defaults.published_counts,
                "--challenge-dataset only applies with --published-counts");
    settings.out_dir = out_dir;
    settings.preprocess.length = length;
    settings.preprocess.target_fs = target_fs;
    settings.progress = !quiet;
    for (const std::string& d : challenge_dirs)
      AGF_CHECK(std::filesystem::is_directory(d), "--challenge {}: not a folder", d);
    if (!code15_dir.empty())
      AGF_CHECK(std::filesystem::is_directory(code15_dir), "--code15 {}: not a folder", code15_dir);

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
    as_usage_error([&] { check_distinct_outputs(sources, code15_dir.empty() ? nullptr : &code15, settings.out_dir); });

    std::vector<std::string> done;  // outputs complete before an interrupt
    auto collect_one = [&](const std::string& output, const auto& collect) {
      try {
        fmt::print("{}", collect().summary());
        done.push_back(output);
      } catch (const agf::io::Interrupted& e) {
        throw agf::io::Interrupted(
            e.signal(), fmt::format("{} not written (partial files removed){}", output,
                                    done.empty() ? "" : fmt::format("; complete before: {}", fmt::join(done, ", "))));
      }
    };
    for (const ChallengeSource& src : sources)
      collect_one((settings.out_dir / (output_name(src) + ".h5")).string(),
                  [&] { return collect_challenge(src, settings); });
    if (!code15_dir.empty())
      collect_one((settings.out_dir / (output_name(code15) + ".h5")).string(),
                  [&] { return collect_code15(code15, settings); });
  });
}
