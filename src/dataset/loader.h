#pragma once
// Streams batches of a prepared dataset's split: a seeded Philox permutation per epoch, records read by a
// background thread into a bounded queue, so the next batches decode while the caller trains on this one.
// The order of batches is a pure function of (rows, seed, epoch, options), whatever the timing.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "dataset/splits.h"
#include "tensor/tensor.h"

namespace agf::dataset {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;     // false: the rows in the given order every epoch
  bool drop_last = false;  // true: a final batch smaller than batch_size is not produced
  uint64_t seed = 0;
  int64_t prefetch = 2;    // batches the background thread may have ready ahead of the caller
};

struct Batch {
  Tensor x;                      // f32 (B, 12, T), memory tagged MemTag::data
  Tensor y;                      // f32 (B, K) of 0/1
  std::vector<int64_t> indices;  // the dataset rows of x and y, in batch order
  int64_t epoch = 0;
  int64_t number = 0;            // batch index within the epoch
};

class BatchLoader {
 public:
  // Batches over `rows` (dataset row indices; repeats allowed) of the file at `path`.
  BatchLoader(const std::filesystem::path& path, std::vector<int64_t> rows, LoaderOptions options);
  // Batches over one split stored in the file.
  BatchLoader(const std::filesystem::path& path, SplitPart part, LoaderOptions options);
  ~BatchLoader();  // stops and joins the background thread
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  int64_t batches_per_epoch() const;
  int64_t num_classes() const { return num_classes_; }
  int64_t length() const { return length_; }
  const LoaderOptions& options() const { return options_; }

  // Starts streaming epoch `epoch` (abandoning whatever is left of the current one) at its batch `first_batch`: a
  // resumed run continues in the middle of an epoch exactly where it stopped, without reading the batches before.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch, or nullopt when it is done. An error of the background thread (a bad
  // chunk, a vanished file) is rethrown here, with its message, at the batch where it happened.
  std::optional<Batch> next();

  // The rows of epoch `epoch` in the order they are served (before batching): a Fisher-Yates shuffle drawn from
  // PhiloxStream(seed, epoch << 40), or `rows` unchanged without shuffle.
  static std::vector<int64_t> epoch_order(const std::vector<int64_t>& rows, uint64_t seed, int64_t epoch,
                                          bool shuffle);

 private:
  struct Worker;
  void stop_worker();

  std::filesystem::path path_;
  std::vector<int64_t> rows_;
  LoaderOptions options_;
  int64_t num_classes_ = 0, length_ = 0;
  std::unique_ptr<Worker> worker_;
};

}  // namespace agf::dataset
