#include "dataset/dataset_reader.h"

#include <cstring>

#include "dataset/dataset_h5.h"
#include "ecg/leads.h"
#include "tensor/error.h"

namespace agf::dataset {

namespace fs = std::filesystem;

struct DatasetReader::H5State {
  h5::Handle file;
  h5::Handle signals;
  h5::Handle file_space;  // /signals' dataspace, reused for every row's hyperslab
  h5::Handle row_space;   // one record in memory: 12 * T floats
};

namespace {

std::vector<DatasetClass> read_classes(hid_t file, const std::string& where) {
  if (H5Lexists(file, "classes", H5P_DEFAULT) <= 0) AGF_FAIL("{}: dataset 'classes' is missing", where);
  h5::Handle ds(h5::check_id(H5Dopen2(file, "classes", H5P_DEFAULT), where, "opening dataset 'classes'"));
  h5::Handle type(h5::check_id(H5Dget_type(ds.get()), where, "reading the type of 'classes'"));
  if (H5Tget_class(type.get()) != H5T_COMPOUND || H5Tget_nmembers(type.get()) != 2)
    AGF_FAIL("{}: dataset 'classes' is not a compound of (code, abbreviation)", where);
  const int i_code = H5Tget_member_index(type.get(), "code");
  const int i_abbr = H5Tget_member_index(type.get(), "abbreviation");
  if (i_code < 0 || i_abbr < 0) AGF_FAIL("{}: dataset 'classes' lacks field 'code' or 'abbreviation'", where);
  for (int i : {i_code, i_abbr}) {
    h5::Handle member(h5::check_id(H5Tget_member_type(type.get(), static_cast<unsigned>(i)), where, "member type"));
    if (H5Tget_class(member.get()) != H5T_STRING || H5Tis_variable_str(member.get()) > 0)
      AGF_FAIL("{}: a field of 'classes' is not a fixed-length string", where);
  }
  const size_t record = H5Tget_size(type.get());
  const size_t off_code = H5Tget_member_offset(type.get(), static_cast<unsigned>(i_code));
  const size_t off_abbr = H5Tget_member_offset(type.get(), static_cast<unsigned>(i_abbr));
  h5::Handle code_t(H5Tget_member_type(type.get(), static_cast<unsigned>(i_code)));
  h5::Handle abbr_t(H5Tget_member_type(type.get(), static_cast<unsigned>(i_abbr)));
  const size_t w_code = H5Tget_size(code_t.get()), w_abbr = H5Tget_size(abbr_t.get());
  const auto dims = h5::dataset_dims(ds.get(), where);
  if (dims.size() != 1) AGF_FAIL("{}: dataset 'classes' has {} dimensions, expected 1", where, dims.size());
  if (dims[0] > static_cast<hsize_t>(kDatasetMaxClasses))
    AGF_FAIL("{}: dataset 'classes' has {} entries, more than {}", where, dims[0], kDatasetMaxClasses);
  if (record < 1 || record > 4096) AGF_FAIL("{}: dataset 'classes' has {}-byte entries, outside 1..4096", where, record);
  std::vector<char> packed(record * dims[0] + 1, '\0');
  if (dims[0] > 0)
    h5::check_status(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()), where,
                     "reading dataset 'classes'");
  std::vector<DatasetClass> out(dims[0]);
  for (size_t i = 0; i < dims[0]; ++i) {
    const char* c = packed.data() + i * record + off_code;
    const char* a = packed.data() + i * record + off_abbr;
    out[i].code.assign(c, strnlen(c, w_code));
    out[i].abbreviation.assign(a, strnlen(a, w_abbr));
  }
  return out;
}

DatasetInfo read_info(hid_t file, const std::string& where) {
  const std::string format = h5::read_attr_string(file, "format", where);
  if (format != kDatasetFormatName)
    AGF_FAIL("{}: attribute 'format' is '{}', not '{}': not a prepared dataset", where, format, kDatasetFormatName);
  const int64_t version = h5::read_attr_int(file, "format_version", where);
  if (version != kDatasetFormatVersion)
    AGF_FAIL("{}: dataset format version {}, this build reads version {}", where, version, kDatasetFormatVersion);
  DatasetInfo info;
  info.fs = h5::read_attr_double(file, "fs", where);
  info.length = h5::read_attr_int(file, "length", where);
  info.filter = h5::read_attr_string(file, "filter", where);
  info.resampling = h5::read_attr_string(file, "resampling", where);
  info.normalisation = h5::read_attr_string(file, "normalisation", where);
  info.source = h5::read_attr_string(file, "source", where);
  info.preprocessing_version = h5::read_attr_string(file, "preprocessing_version", where);
  info.label_selection = h5::read_attr_string(file, "label_selection", where);
  info.label_min_count = h5::read_attr_int(file, "label_min_count", where);
  info.merge_equivalent = h5::read_attr_int(file, "merge_equivalent", where);
  info.drop_unlabelled = h5::read_attr_int(file, "drop_unlabelled", where);
  info.created_by = h5::read_attr_string(file, "created_by", where);
  info.deflate_level = h5::read_attr_int(file, "deflate_level", where);
  return info;
}

std::optional<DatasetSplits> read_splits(hid_t file, int64_t n, const std::string& where) {
  if (H5Lexists(file, "splits", H5P_DEFAULT) <= 0) return std::nullopt;
  h5::Handle group(h5::check_id(H5Gopen2(file, "splits", H5P_DEFAULT), where, "opening group 'splits'"));
  DatasetSplits s;
  s.config.seed = static_cast<uint64_t>(h5::read_attr_int(group.get(), "seed", where + " /splits"));
  s.config.label_ratio = h5::read_attr_double(group.get(), "label_ratio", where + " /splits");
  s.config.val_fraction = h5::read_attr_double(group.get(), "val_fraction", where + " /splits");
  for (SplitPart p : {SplitPart::train, SplitPart::val, SplitPart::test}) {
    const std::string name(split_part_name(p));
    s.part(p) = h5::read_i64_dataset(group.get(), name.c_str(), where + " /splits", static_cast<size_t>(n));
    for (int64_t i : s.part(p))
      AGF_CHECK(i >= 0 && i < n, "{}: /splits/{} names row {}, outside 0..{}", where, name, i, n - 1);
  }
  return s;
}

}  // namespace

DatasetReader::DatasetReader(const fs::path& path) : path_(path), h5_(std::make_unique<H5State>()) {
  const std::string where = path.string();
  std::error_code ec;
  AGF_CHECK(fs::is_regular_file(path, ec), "dataset {} does not exist", where);
  h5::silence_errors_on_this_thread();
  AGF_CHECK(H5Fis_hdf5(where.c_str()) > 0, "dataset {} is not an HDF5 file", where);
  h5_->file = h5::Handle(h5::check_id(H5Fopen(where.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), where, "opening"));
  const hid_t file = h5_->file.get();
  info_ = read_info(file, where);
  AGF_CHECK(info_.length >= 1 && info_.length <= kDatasetMaxLength, "{}: attribute 'length' is {}, outside 1..{}",
            where, info_.length, kDatasetMaxLength);

  if (H5Lexists(file, "signals", H5P_DEFAULT) <= 0) AGF_FAIL("{}: dataset 'signals' is missing", where);
  h5_->signals = h5::Handle(h5::check_id(H5Dopen2(file, "signals", H5P_DEFAULT), where, "opening 'signals'"));
  const auto sd = h5::dataset_dims(h5_->signals.get(), where);
  AGF_CHECK(sd.size() == 3 && sd[1] == ecg::kStandardLeadCount && sd[2] == static_cast<hsize_t>(info_.length),
            "{}: 'signals' has shape ({}), expected (N, {}, {})", where, fmt::join(sd, ", "), ecg::kStandardLeadCount,
            info_.length);
  AGF_CHECK(sd[0] <= static_cast<hsize_t>(kDatasetMaxRecords), "{}: 'signals' has {} records, more than {}", where,
            sd[0], kDatasetMaxRecords);
  n_ = static_cast<int64_t>(sd[0]);
  h5_->file_space = h5::Handle(h5::check_id(H5Dget_space(h5_->signals.get()), where, "reading the signals space"));
  // Same rank and shape as the file selection: HDF5 then copies the chunk whole instead of element by element.
  const hsize_t row_dims[3] = {1, ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
  h5_->row_space = h5::Handle(h5::check_id(H5Screate_simple(3, row_dims, nullptr), where, "creating a dataspace"));

  classes_ = read_classes(file, where);
  // Every size is checked before the first of these allocations.
  if (H5Lexists(file, "labels", H5P_DEFAULT) <= 0) AGF_FAIL("{}: dataset 'labels' is missing", where);
  h5::Handle labels(h5::check_id(H5Dopen2(file, "labels", H5P_DEFAULT), where, "opening 'labels'"));
  const auto ld = h5::dataset_dims(labels.get(), where);
  AGF_CHECK(ld.size() == 2 && ld[0] == static_cast<hsize_t>(n_) && ld[1] == classes_.size(),
            "{}: 'labels' has shape ({}), expected ({}, {})", where, fmt::join(ld, ", "), n_, classes_.size());
  AGF_CHECK(n_ * num_classes() <= kDatasetMaxLabelBytes, "{}: 'labels' has {} x {} entries, more than {} in all",
            where, n_, num_classes(), kDatasetMaxLabelBytes);
  record_ids_ = h5::read_string_dataset(file, "record_ids", where, static_cast<size_t>(n_), kDatasetMaxRecordIdWidth);
  AGF_CHECK(static_cast<int64_t>(record_ids_.size()) == n_, "{}: {} record ids for {} records", where,
            record_ids_.size(), n_);
  labels_.resize(static_cast<size_t>(n_) * classes_.size());
  if (!labels_.empty())
    h5::check_status(H5Dread(labels.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels_.data()), where,
                     "reading 'labels'");
  splits_ = read_splits(file, n_, where);
}

DatasetReader::~DatasetReader() = default;
DatasetReader::DatasetReader(DatasetReader&&) noexcept = default;
DatasetReader& DatasetReader::operator=(DatasetReader&&) noexcept = default;

int64_t DatasetReader::leads() const { return ecg::kStandardLeadCount; }

uint8_t DatasetReader::label(int64_t row, int64_t k) const {
  AGF_CHECK(row >= 0 && row < n_ && k >= 0 && k < num_classes(), "{}: label ({}, {}) outside ({}, {})",
            path_.string(), row, k, n_, num_classes());
  return labels_[static_cast<size_t>(row * num_classes() + k)];
}

const DatasetSplits& DatasetReader::splits() const {
  AGF_CHECK(splits_.has_value(), "{}: the dataset has no /splits group", path_.string());
  return *splits_;
}

void DatasetReader::read_signals(const int64_t* rows, int64_t count, float* out) const {
  h5::silence_errors_on_this_thread();
  const std::string where = path_.string();
  const int64_t per_row = ecg::kStandardLeadCount * info_.length;
  for (int64_t b = 0; b < count; ++b) {
    const int64_t row = rows[b];
    AGF_CHECK(row >= 0 && row < n_, "{}: record row {} outside 0..{}", where, row, n_ - 1);
    const hsize_t start[3] = {static_cast<hsize_t>(row), 0, 0};
    const hsize_t extent[3] = {1, ecg::kStandardLeadCount, static_cast<hsize_t>(info_.length)};
    h5::check_status(H5Sselect_hyperslab(h5_->file_space.get(), H5S_SELECT_SET, start, nullptr, extent, nullptr),
                     where, "selecting a record");
    if (H5Dread(h5_->signals.get(), H5T_NATIVE_FLOAT, h5_->row_space.get(), h5_->file_space.get(), H5P_DEFAULT,
                out + b * per_row) < 0)
      AGF_FAIL("{}: reading record row {} ('{}') of 'signals': {}", where, row,
               record_ids_[static_cast<size_t>(row)], h5::last_error_text());
  }
}

Tensor DatasetReader::read_signals(const std::vector<int64_t>& rows) const {
  const auto b = static_cast<int64_t>(rows.size());
  Tensor x = empty({b, ecg::kStandardLeadCount, info_.length}, DType::f32);
  read_signals(rows.data(), b, x.data<float>());
  return x;
}

void DatasetReader::read_labels(const int64_t* rows, int64_t count, float* out) const {
  const int64_t k = num_classes();
  for (int64_t b = 0; b < count; ++b) {
    AGF_CHECK(rows[b] >= 0 && rows[b] < n_, "{}: record row {} outside 0..{}", path_.string(), rows[b], n_ - 1);
    const uint8_t* src = labels_.data() + rows[b] * k;
    for (int64_t j = 0; j < k; ++j) out[b * k + j] = static_cast<float>(src[j]);
  }
}

Tensor DatasetReader::read_labels(const std::vector<int64_t>& rows) const {
  const auto b = static_cast<int64_t>(rows.size());
  Tensor y = empty({b, num_classes()}, DType::f32);
  read_labels(rows.data(), b, y.data<float>());
  return y;
}

}  // namespace agf::dataset
