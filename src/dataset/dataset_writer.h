#pragma once
// Writes a prepared-dataset file (dataset_format.h) record by record, never holding the signals: each record's
// chunk goes to disk as it is appended; labels and ids (small) are kept until finish(). Output goes to a temporary
// file beside <path> (an io::AtomicFile) that finish() renames over <path>, so an interrupted or failed run leaves
// no half-written dataset and no temporary.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dataset/dataset_format.h"
#include "dataset/splits.h"
#include "io/atomic_file.h"

namespace agf::dataset {

class DatasetWriter {
 public:
  DatasetWriter(std::filesystem::path path, DatasetInfo info, std::vector<DatasetClass> classes);
  ~DatasetWriter();  // without finish(): closes and removes the temporary file
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // One record's (12, length) signal as the bytes of its stored chunk: shuffled and deflated (shuffle_deflate,
  // which HDF5's shuffle + deflate filters decode when reading) or the raw floats when deflate_level is 0. Pure and
  // thread-safe, so workers compress in parallel and the single writer thread only stores.
  static std::vector<uint8_t> encode_record(const float* signal, int64_t length, int64_t deflate_level);

  // Appends a record; `label_row` holds K bytes (0/1). append() encodes on the calling thread.
  void append(const float* signal, const uint8_t* label_row, const std::string& record_id);
  void append_encoded(const std::vector<uint8_t>& chunk, const uint8_t* label_row, const std::string& record_id);

  // Replaces the classes and every appended row's labels ((size(), K) row-major, 0/1), for a caller that chooses
  // its classes from the records it could write (collect_challenge). Before finish().
  void relabel(std::vector<DatasetClass> classes, std::vector<uint8_t> labels);

  int64_t size() const { return static_cast<int64_t>(record_ids_.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  const std::vector<uint8_t>& labels() const { return labels_; }  // (size(), K) so far
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temp_path() const { return file_->temp_path(); }

  // Writes labels, ids, classes, splits and attributes, closes, and renames the temporary file over path().
  void finish(const DatasetSplits& splits);

 private:
  struct H5State;
  void create_file();
  void grow_to(int64_t rows);

  std::filesystem::path path_;
  DatasetInfo info_;
  std::vector<DatasetClass> classes_;
  std::unique_ptr<io::AtomicFile> file_;  // made once the folder exists; outlives h5_, which must close first
  std::unique_ptr<H5State> h5_;
  std::vector<uint8_t> labels_;
  std::vector<std::string> record_ids_;
  int64_t capacity_ = 0;
  bool finished_ = false;
};

// Standard 12-lead names joined by commas ("I,II,III,aVR,...,V6"), the `leads` attribute.
std::string standard_leads_attribute();

}  // namespace agf::dataset
