#pragma once
// Whole synthetic data sets on disk: N Challenge 2021 records in a folder, or a CODE-15% release (parts +
// exams.csv). Records are generated on several threads; since record i depends only on (seed, i), the files are
// the same for any thread count.
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "ecg/synth/classes.h"
#include "ecg/synth/generator.h"

namespace agf::synth {

struct SetProgress {
  int64_t done = 0, total = 0;
  double elapsed_s = 0.0;
  double records_per_s() const { return elapsed_s > 0.0 ? static_cast<double>(done) / elapsed_s : 0.0; }
  double eta_s() const { return done > 0 ? elapsed_s * static_cast<double>(total - done) / static_cast<double>(done) : 0.0; }
};
// Called from the calling thread about every `progress_interval_s` and once at the end.
using ProgressCallback = std::function<void(const SetProgress&)>;

struct SetSummary {
  int64_t records = 0;
  std::array<int64_t, kSynthClassCount> per_class{};
  std::map<std::string, int64_t> per_label_set;  // "SB+IAVB" -> count
  double elapsed_s = 0.0;
  void add(const LabelSet& labels);
  void merge(const SetSummary& other);
  std::string format() const;  // a per-class table and the most common label sets
};

struct ChallengeSetOptions {
  std::filesystem::path out_dir;
  int64_t n = 100;
  uint64_t seed = 1;
  SynthConfig config;
  int threads = 0;  // 0: one per hardware thread
  double progress_interval_s = 0.5;
  void validate() const;  // throws agf::Error naming the option at fault
};

struct Code15SetOptions {
  std::filesystem::path out_dir;
  int64_t n = 100;
  int parts = 1;
  uint64_t seed = 1;
  ClassMix mix = ClassMix::defaults();
  double noise_scale = 1.0;
  int threads = 0;
  double progress_interval_s = 0.5;
  void validate() const;
};

// Writes SY000001.hea/.mat ... into out_dir (created if missing).
SetSummary write_challenge_set(const ChallengeSetOptions& options, const ProgressCallback& progress = {});
// Writes exams_part0.hdf5 .. exams_part{parts-1}.hdf5 (exams split evenly, in index order) and exams.csv.
SetSummary write_code15_set(const Code15SetOptions& options, const ProgressCallback& progress = {});

int resolve_threads(int requested);

}  // namespace agf::synth
