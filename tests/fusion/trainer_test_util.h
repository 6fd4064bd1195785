#pragma once
// A small prepared dataset for the trainer's tests: 72 records of (12, 256) at 500 Hz, three classes (AF, RBBB and
// NSR, the normal class) that the network can learn (class j adds a 20 Hz burst to leads 2j, 2j+1 over a
// background of Philox noise), split 48 / 12 / 12.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "dataset/dataset_writer.h"
#include "fusion/train_config.h"
#include "tensor/philox.h"

namespace agf::fusion::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = fs::temp_directory_path() / fmt::format("agf_{}_{}_{}", tag, getpid(), std::random_device{}());
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline void write_learnable_dataset(const fs::path& file, int64_t n = 72, int64_t length = 256) {
  dataset::DatasetInfo info;
  info.fs = 500;
  info.length = length;
  info.filter = "none (test)";
  info.resampling = "none (native rate)";
  info.normalisation = "none (test)";
  info.source = "test";
  info.label_selection = "test labels";
  info.created_by = "test_fusion";
  dataset::DatasetWriter w(file, info, {{"164889003", "AF"}, {"59118001", "RBBB"}, {"426783006", "NSR"}});
  std::vector<float> sig(static_cast<size_t>(12 * length));
  dataset::DatasetSplits splits;
  for (int64_t r = 0; r < n; ++r) {
    // Record r: NSR alone when r % 4 == 0, else AF and/or RBBB by its bits.
    uint8_t labels[3] = {static_cast<uint8_t>(r % 4 == 1 || r % 4 == 3), static_cast<uint8_t>(r % 4 >= 2),
                         static_cast<uint8_t>(r % 4 == 0)};
    for (int64_t l = 0; l < 12; ++l)
      for (int64_t s = 0; s < length; ++s) {
        double v = philox::normal(1000 + static_cast<uint64_t>(r), static_cast<uint64_t>(l * length + s));
        for (int j = 0; j < 3; ++j)
          if (labels[j] && l / 2 == j) v += 1.5 * std::sin(2.0 * M_PI * 20.0 * static_cast<double>(s) / 500.0);
        sig[static_cast<size_t>(l * length + s)] = static_cast<float>(v);
      }
    w.append(sig.data(), labels, "rec" + std::to_string(r));
    (r % 6 == 0 ? splits.val : r % 6 == 1 ? splits.test : splits.train).push_back(r);
  }
  splits.config.seed = 3;
  w.finish(splits);
}

// A quick run on that dataset: tinylight, LoRA rank 4, batch 8, micro-batch 2, 20 steps, validation every 5.
inline TrainConfig small_run(const fs::path& data, const fs::path& out, const std::string& mode) {
  TrainConfig c;
  c.data = data.string();
  c.out = out.string();
  c.mode = mode;
  c.preset = "tinylight";
  c.r = 4;
  c.batch_size = 8;
  c.bp_batch = 2;
  c.steps = 20;
  c.eval_every = 5;
  c.eval_batch = 16;
  c.learning_rate = 5e-3;
  c.progress = false;
  return c;
}

}  // namespace agf::fusion::test
