#include "dataset/dataset_writer.h"

#include <algorithm>
#include <cstring>

#include "dataset/chunk_codec.h"
#include "dataset/dataset_h5.h"
#include "ecg/leads.h"
#include "tensor/error.h"

namespace agf::dataset {

namespace fs = std::filesystem;

// Rows are added to /signals' extent in steps of this many, a pure function of the count so that re-runs make the
// same sequence of HDF5 calls (and so the same bytes).
constexpr int64_t kGrowRows = 1024;

struct DatasetWriter::H5State {
  h5::Handle file;
  h5::Handle signals;
};

std::string standard_leads_attribute() {
  std::string s;
  for (auto name : ecg::kStandardLeads) {
    if (!s.empty()) s += ',';
    s += name;
  }
  return s;
}

std::vector<uint8_t> DatasetWriter::encode_record(const float* signal, int64_t length, int64_t deflate_level) {
  AGF_CHECK(deflate_level >= 0 && deflate_level <= 9, "deflate level {} outside 0..9", deflate_level);
  const size_t n = static_cast<size_t>(ecg::kStandardLeadCount * length);
  const size_t nbytes = n * sizeof(float);
  const auto* src = reinterpret_cast<const uint8_t*>(signal);
  if (deflate_level == 0) return std::vector<uint8_t>(src, src + nbytes);
  return shuffle_deflate(signal, n, static_cast<int>(deflate_level));
}

DatasetWriter::DatasetWriter(fs::path path, DatasetInfo info, std::vector<DatasetClass> classes)
    : path_(std::move(path)), info_(std::move(info)), classes_(std::move(classes)), h5_(std::make_unique<H5State>()) {
  AGF_CHECK(info_.length >= 1, "dataset {}: length {} is not positive", path_.string(), info_.length);
  AGF_CHECK(info_.fs > 0, "dataset {}: sampling rate {} is not positive", path_.string(), info_.fs);
  AGF_CHECK(info_.deflate_level >= 0 && info_.deflate_level <= 9, "dataset {}: deflate level {} outside 0..9",
            path_.string(), info_.deflate_level);
  h5::silence_errors_on_this_thread();
  if (path_.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(path_.parent_path(), ec);
    AGF_CHECK(!ec, "dataset {}: cannot create folder {}: {}", path_.string(), path_.parent_path().string(),
              ec.message());
  }
  file_ = std::make_unique<io::AtomicFile>(path_);
  try {
    create_file();
  } catch (...) {
    h5_.reset();  // the destructor does not run for a constructor that throws: close before file_ removes it
    throw;
  }
}

void DatasetWriter::create_file() {
  const std::string where = temp_path().string();
  h5::Handle fcpl = h5::untimed_file_create_plist();
  h5_->file = h5::Handle(h5::check_id(H5Fcreate(where.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT), where,
                                      "creating the file"));

  const hsize_t dims[3] = {0, ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
  const hsize_t maxdims[3] = {H5S_UNLIMITED, ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
  h5::Handle space(h5::check_id(H5Screate_simple(3, dims, maxdims), where, "creating the signals dataspace"));
  h5::Handle dcpl = h5::untimed_dataset_create_plist();
  const hsize_t chunk[3] = {1, ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
  h5::check_status(H5Pset_chunk(dcpl.get(), 3, chunk), where, "setting the signals chunk shape");
  if (info_.deflate_level > 0) {
    h5::check_status(H5Pset_shuffle(dcpl.get()), where, "adding the shuffle filter");
    h5::check_status(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(info_.deflate_level)), where,
                     "adding the deflate filter");
  }
  h5_->signals = h5::Handle(h5::check_id(
      H5Dcreate2(h5_->file.get(), "signals", H5T_IEEE_F32LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      where, "creating dataset 'signals'"));
}

DatasetWriter::~DatasetWriter() {
  h5_.reset();  // closed before file_ removes the temporary (when not finished)
}

void DatasetWriter::grow_to(int64_t rows) {
  if (rows <= capacity_) return;
  capacity_ = (rows + kGrowRows - 1) / kGrowRows * kGrowRows;
  const hsize_t dims[3] = {static_cast<hsize_t>(capacity_), ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
  h5::check_status(H5Dset_extent(h5_->signals.get(), dims), temp_path().string(), "growing dataset 'signals'");
}

void DatasetWriter::append(const float* signal, const uint8_t* label_row, const std::string& record_id) {
  append_encoded(encode_record(signal, info_.length, info_.deflate_level), label_row, record_id);
}

void DatasetWriter::append_encoded(const std::vector<uint8_t>& chunk, const uint8_t* label_row,
                                   const std::string& record_id) {
  AGF_CHECK(!finished_, "dataset {}: append after finish()", path_.string());
  const size_t raw_bytes = static_cast<size_t>(ecg::kStandardLeadCount * info_.length) * sizeof(float);
  AGF_CHECK(info_.deflate_level > 0 || chunk.size() == raw_bytes,
            "dataset {}: record {} chunk holds {} bytes, an uncompressed record is {}", path_.string(), record_id,
            chunk.size(), raw_bytes);
  AGF_CHECK(!chunk.empty(), "dataset {}: record {} has an empty chunk", path_.string(), record_id);
  for (int64_t k = 0; k < num_classes(); ++k)
    AGF_CHECK(label_row[k] <= 1, "dataset {}: record {} label {} is {}, expected 0 or 1", path_.string(), record_id,
              k, static_cast<int>(label_row[k]));
  const int64_t row = size();
  grow_to(row + 1);
  const hsize_t offset[3] = {static_cast<hsize_t>(row), 0, 0};
  h5::check_status(H5Dwrite_chunk(h5_->signals.get(), H5P_DEFAULT, 0, offset, chunk.size(), chunk.data()),
                   temp_path().string(), "writing a chunk of 'signals'");
  labels_.insert(labels_.end(), label_row, label_row + num_classes());
  record_ids_.push_back(record_id);
}

void DatasetWriter::relabel(std::vector<DatasetClass> classes, std::vector<uint8_t> labels) {
  AGF_CHECK(!finished_, "dataset {}: relabel after finish()", path_.string());
  AGF_CHECK(labels.size() == static_cast<size_t>(size()) * classes.size(),
            "dataset {}: {} labels for {} records x {} classes", path_.string(), labels.size(), size(),
            classes.size());
  const auto bad = std::find_if(labels.begin(), labels.end(), [](uint8_t v) { return v > 1; });
  AGF_CHECK(bad == labels.end(), "dataset {}: label {} is {}, expected 0 or 1", path_.string(),
            bad - labels.begin(), static_cast<int>(*bad));
  classes_ = std::move(classes);
  labels_ = std::move(labels);
}

namespace {

void write_classes(hid_t file, const std::vector<DatasetClass>& classes, const std::string& where) {
  size_t wc = 1, wa = 1;
  for (const auto& c : classes) {
    wc = std::max(wc, c.code.size());
    wa = std::max(wa, c.abbreviation.size());
  }
  auto string_type = [&](size_t width) {
    h5::Handle t(h5::check_id(H5Tcopy(H5T_C_S1), where, "copying the string type"));
    h5::check_status(H5Tset_size(t.get(), width), where, "sizing a string type");
    h5::check_status(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), where, "setting string padding");
    return t;
  };
  h5::Handle code_t = string_type(wc), abbr_t = string_type(wa);
  h5::Handle type(h5::check_id(H5Tcreate(H5T_COMPOUND, wc + wa), where, "creating the classes type"));
  h5::check_status(H5Tinsert(type.get(), "code", 0, code_t.get()), where, "adding field 'code'");
  h5::check_status(H5Tinsert(type.get(), "abbreviation", wc, abbr_t.get()), where, "adding field 'abbreviation'");
  std::vector<char> packed((wc + wa) * classes.size(), '\0');
  for (size_t i = 0; i < classes.size(); ++i) {
    std::memcpy(packed.data() + i * (wc + wa), classes[i].code.data(), classes[i].code.size());
    std::memcpy(packed.data() + i * (wc + wa) + wc, classes[i].abbreviation.data(), classes[i].abbreviation.size());
  }
  const hsize_t dims[1] = {classes.size()};
  h5::Handle space(h5::check_id(H5Screate_simple(1, dims, nullptr), where, "creating the classes dataspace"));
  h5::Handle dcpl = h5::untimed_dataset_create_plist();
  h5::Handle ds(h5::check_id(H5Dcreate2(file, "classes", type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                             where, "creating dataset 'classes'"));
  if (!classes.empty())
    h5::check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()), where,
                     "writing dataset 'classes'");
}

void write_labels(hid_t file, const std::vector<uint8_t>& labels, int64_t n, int64_t k, const std::string& where) {
  const hsize_t dims[2] = {static_cast<hsize_t>(n), static_cast<hsize_t>(k)};
  h5::Handle space(h5::check_id(H5Screate_simple(2, dims, nullptr), where, "creating the labels dataspace"));
  h5::Handle dcpl = h5::untimed_dataset_create_plist();
  h5::Handle ds(h5::check_id(H5Dcreate2(file, "labels", H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                             where, "creating dataset 'labels'"));
  if (!labels.empty())
    h5::check_status(H5Dwrite(ds.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data()), where,
                     "writing dataset 'labels'");
}

void check_splits(const DatasetSplits& splits, int64_t n, const std::string& where) {
  std::vector<char> seen(static_cast<size_t>(n), 0);
  for (SplitPart p : {SplitPart::train, SplitPart::val, SplitPart::test})
    for (int64_t i : splits.part(p)) {
      AGF_CHECK(i >= 0 && i < n, "{}: split '{}' names row {}, outside 0..{}", where, split_part_name(p), i, n - 1);
      AGF_CHECK(!seen[static_cast<size_t>(i)], "{}: row {} is in two splits", where, i);
      seen[static_cast<size_t>(i)] = 1;
    }
}

void write_splits(hid_t file, const DatasetSplits& splits, const std::string& where) {
  h5::Handle group = h5::create_group(file, "splits", where);
  for (SplitPart p : {SplitPart::train, SplitPart::val, SplitPart::test}) {
    std::vector<int64_t> rows = splits.part(p);
    std::sort(rows.begin(), rows.end());
    h5::write_i64_dataset(group.get(), std::string(split_part_name(p)).c_str(), rows, where);
  }
  h5::write_attr(group.get(), "seed", static_cast<int64_t>(splits.config.seed), where);
  h5::write_attr(group.get(), "label_ratio", splits.config.label_ratio, where);
  h5::write_attr(group.get(), "val_fraction", splits.config.val_fraction, where);
  h5::write_attr(group.get(), "method", std::string("iterative stratification (Sechidis et al. 2011), two stages"),
                 where);
}

void write_info(hid_t file, const DatasetInfo& info, const std::string& where) {
  h5::write_attr(file, "format", std::string(kDatasetFormatName), where);
  h5::write_attr(file, "format_version", kDatasetFormatVersion, where);
  h5::write_attr(file, "fs", info.fs, where);
  h5::write_attr(file, "length", info.length, where);
  h5::write_attr(file, "leads", standard_leads_attribute(), where);
  h5::write_attr(file, "filter", info.filter, where);
  h5::write_attr(file, "resampling", info.resampling, where);
  h5::write_attr(file, "normalisation", info.normalisation, where);
  h5::write_attr(file, "source", info.source, where);
  h5::write_attr(file, "preprocessing_version", info.preprocessing_version, where);
  h5::write_attr(file, "label_selection", info.label_selection, where);
  h5::write_attr(file, "label_min_count", info.label_min_count, where);
  h5::write_attr(file, "merge_equivalent", info.merge_equivalent, where);
  h5::write_attr(file, "drop_unlabelled", info.drop_unlabelled, where);
  h5::write_attr(file, "created_by", info.created_by, where);
  h5::write_attr(file, "deflate_level", info.deflate_level, where);
}

}  // namespace

void DatasetWriter::finish(const DatasetSplits& splits) {
  AGF_CHECK(!finished_, "dataset {}: finish() called twice", path_.string());
  const std::string where = temp_path().string();
  const int64_t n = size();
  check_splits(splits, n, path_.string());  // before anything is written, so a refused split changes nothing
  const hsize_t dims[3] = {static_cast<hsize_t>(n), ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
  h5::check_status(H5Dset_extent(h5_->signals.get(), dims), where, "setting the extent of 'signals'");
  h5_->signals.reset();
  const hid_t file = h5_->file.get();
  write_labels(file, labels_, n, num_classes(), where);
  h5::write_string_dataset(file, "record_ids", record_ids_, where);
  write_classes(file, classes_, where);
  write_splits(file, splits, where);
  write_info(file, info_, where);
  h5::check_status(H5Fclose(h5_->file.release()), where, "closing the file");
  file_->commit();
  finished_ = true;
}

}  // namespace agf::dataset
