#pragma once
// Small HDF5 C-API helpers shared by the dataset writer and reader: an owning handle, creation property lists that
// record no object times (so that the same input gives a byte-identical file), scalar and string attributes, and
// fixed-length string datasets. Every failure becomes an agf::Error naming the file and the object.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace agf::dataset::h5 {

// Owns one HDF5 identifier (file, group, dataset, dataspace, datatype, property list, attribute) and closes it with
// the matching H5?close. Move-only.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  // Gives up ownership without closing (after the caller closed it itself to check the result).
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's automatic error-stack printing on the calling thread (the stack is per thread in a thread-safe
// build); errors are reported through agf::Error instead.
void silence_errors_on_this_thread();

// The innermost message of the calling thread's HDF5 error stack ("inflate() failed", "unable to open file"), or
// "unknown HDF5 error".
std::string last_error_text();

// Checks an HDF5 return value (negative = failure) or identifier; throws agf::Error "<where>: <what>: <hdf5 text>".
hid_t check_id(hid_t id, const std::string& where, const char* what);
void check_status(herr_t status, const std::string& where, const char* what);

// Creation property lists with object time tracking off: file (root group), group, dataset.
Handle untimed_file_create_plist();
Handle untimed_group_create_plist();
Handle untimed_dataset_create_plist();

Handle create_group(hid_t loc, const char* name, const std::string& where);

// Scalar attributes on a file, group or dataset.
void write_attr(hid_t obj, const char* name, double value, const std::string& where);
void write_attr(hid_t obj, const char* name, int64_t value, const std::string& where);
void write_attr(hid_t obj, const char* name, const std::string& value, const std::string& where);
double read_attr_double(hid_t obj, const char* name, const std::string& where);
int64_t read_attr_int(hid_t obj, const char* name, const std::string& where);
std::string read_attr_string(hid_t obj, const char* name, const std::string& where);

// A 1-D dataset of fixed-length, NUL-padded strings (width = the longest, at least 1), contiguous. The reader refuses
// more than max_count strings, a width over max_width bytes or more than kMaxStringDatasetBytes in all before it
// allocates: a file's dims are untrusted (a tiny file can declare a huge dataset it never stores).
void write_string_dataset(hid_t loc, const char* name, const std::vector<std::string>& values,
                          const std::string& where);
inline constexpr size_t kMaxStringDatasetBytes = size_t{1} << 28;  // count * width, checked before reading
std::vector<std::string> read_string_dataset(hid_t loc, const char* name, const std::string& where, size_t max_count,
                                             size_t max_width = 4096);

// A 1-D int64 dataset (split index arrays), contiguous; an empty vector makes a dataset of extent 0. The reader
// refuses more than max_count values before allocating.
void write_i64_dataset(hid_t loc, const char* name, const std::vector<int64_t>& values, const std::string& where);
std::vector<int64_t> read_i64_dataset(hid_t loc, const char* name, const std::string& where, size_t max_count);

// Extent of a dataset, one entry per dimension.
std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& where);

}  // namespace agf::dataset::h5
