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

#include "dataset/dataset_format.h"
#include "dataset/splits.h"
#include "tensor/tensor.h"

namespace agf::dataset {

// What a reader accepts from a file's dims and attributes before they size an allocation (a file is untrusted input:
// a 2 KB file can declare datasets of any extent that it never stores). Far above any real dataset: CODE-15 is 345k
// records of 6 classes, the Challenge sets at most ~45k records of 30.
inline constexpr int64_t kDatasetMaxLength = int64_t{1} << 20;        // T
inline constexpr int64_t kDatasetMaxRecords = int64_t{1} << 22;       // N (4M)
inline constexpr int64_t kDatasetMaxClasses = 4096;                   // K
inline constexpr int64_t kDatasetMaxLabelBytes = int64_t{1} << 28;    // N * K of /labels
inline constexpr int64_t kDatasetMaxRecordIdWidth = 1024;             // bytes per /record_ids string

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

}  // namespace agf::dataset
