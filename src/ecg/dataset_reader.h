#pragma once
// Opens a prepared-dataset file (dataset_format.h) and reads records by row index, one chunk (hyperslab) per record,
// never the whole of /signals. The small parts (labels, ids, classes, splits, attributes) are read at open.
// One reader holds one HDF5 file handle: give each thread its own reader.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ecg/dataset_format.h"
#include "ecg/splits.h"
#include "tensor/tensor.h"

namespace agf::ecg {

class DatasetReader {
 public:
  explicit DatasetReader(const std::filesystem::path& path);
  ~DatasetReader();
  DatasetReader(DatasetReader&&) noexcept;
  DatasetReader& operator=(DatasetReader&&) noexcept;

  const std::filesystem::path& path() const { return path_; }
  int64_t size() const { return n_; }                                        // N records
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }  // K
  int64_t length() const { return info_.length; }                            // T
  int64_t leads() const;                                                     // 12
  double fs() const { return info_.fs; }
  const DatasetInfo& info() const { return info_; }
  const std::vector<DatasetClass>& classes() const { return classes_; }
  const std::vector<std::string>& record_ids() const { return record_ids_; }
  const std::vector<uint8_t>& labels() const { return labels_; }  // row-major (N, K)
  uint8_t label(int64_t row, int64_t k) const;

  bool has_splits() const { return splits_.has_value(); }
  const DatasetSplits& splits() const;  // an error naming the file when it has none
  const std::vector<int64_t>& split(SplitPart p) const { return splits().part(p); }

  // Records `rows[0..count)` into out[count * 12 * T], in the given order (repeats allowed). Each row is one
  // hyperslab read of its chunk. An out-of-range row or an undecodable chunk is an error naming file and row.
  void read_signals(const int64_t* rows, int64_t count, float* out) const;
  Tensor read_signals(const std::vector<int64_t>& rows) const;  // f32 (B, 12, T), charged to the current MemScope
  Tensor read_labels(const std::vector<int64_t>& rows) const;   // f32 (B, K) of 0/1
  void read_labels(const int64_t* rows, int64_t count, float* out) const;

 private:
  struct H5State;
  std::filesystem::path path_;
  std::unique_ptr<H5State> h5_;
  int64_t n_ = 0;
  DatasetInfo info_;
  std::vector<DatasetClass> classes_;
  std::vector<std::string> record_ids_;
  std::vector<uint8_t> labels_;
  std::optional<DatasetSplits> splits_;
};

}  // namespace agf::ecg
