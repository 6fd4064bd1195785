#include "dataset/dataset_h5.h"

#include <algorithm>
#include <cstring>

#include "tensor/error.h"

namespace agf::dataset::h5 {

void Handle::reset() {
  if (id_ < 0) return;
  // The identifier's type says which close to call; a close failure on a path that is already failing is moot.
  switch (H5Iget_type(id_)) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
  id_ = H5I_INVALID_HID;
}

void silence_errors_on_this_thread() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {
herr_t take_innermost(unsigned n, const H5E_error2_t* err, void* out) {
  if (n == 0 && err != nullptr && err->desc != nullptr) *static_cast<std::string*>(out) = err->desc;
  return 0;
}
}  // namespace

std::string last_error_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &text);
  return text.empty() ? std::string("unknown HDF5 error") : text;
}

hid_t check_id(hid_t id, const std::string& where, const char* what) {
  if (id < 0) AGF_FAIL("{}: {}: {}", where, what, last_error_text());
  return id;
}

void check_status(herr_t status, const std::string& where, const char* what) {
  if (status < 0) AGF_FAIL("{}: {}: {}", where, what, last_error_text());
}

namespace {
Handle untimed_plist(hid_t cls) {
  Handle p(check_id(H5Pcreate(cls), "HDF5", "creating a property list"));
  check_status(H5Pset_obj_track_times(p.get(), false), "HDF5", "turning off object time tracking");
  return p;
}
}  // namespace

Handle untimed_file_create_plist() { return untimed_plist(H5P_FILE_CREATE); }
Handle untimed_group_create_plist() { return untimed_plist(H5P_GROUP_CREATE); }
Handle untimed_dataset_create_plist() { return untimed_plist(H5P_DATASET_CREATE); }

Handle create_group(hid_t loc, const char* name, const std::string& where) {
  Handle gcpl = untimed_group_create_plist();
  return Handle(check_id(H5Gcreate2(loc, name, H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), where,
                         fmt::format("creating group '{}'", name).c_str()));
}

namespace {

void write_scalar_attr(hid_t obj, const char* name, hid_t file_type, hid_t mem_type, const void* value,
                       const std::string& where) {
  Handle space(check_id(H5Screate(H5S_SCALAR), where, "creating a scalar dataspace"));
  const std::string what = fmt::format("writing attribute '{}'", name);
  Handle attr(check_id(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), where, what.c_str()));
  check_status(H5Awrite(attr.get(), mem_type, value), where, what.c_str());
}

Handle open_attr(hid_t obj, const char* name, const std::string& where) {
  if (H5Aexists(obj, name) <= 0) AGF_FAIL("{}: attribute '{}' is missing", where, name);
  return Handle(check_id(H5Aopen(obj, name, H5P_DEFAULT), where, fmt::format("opening attribute '{}'", name).c_str()));
}

Handle fixed_string_type(size_t width) {
  Handle t(check_id(H5Tcopy(H5T_C_S1), "HDF5", "copying the string type"));
  check_status(H5Tset_size(t.get(), std::max<size_t>(width, 1)), "HDF5", "sizing a string type");
  check_status(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "HDF5", "setting string padding");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "HDF5", "setting the string character set");
  return t;
}

}  // namespace

void write_attr(hid_t obj, const char* name, double value, const std::string& where) {
  write_scalar_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, where);
}

void write_attr(hid_t obj, const char* name, int64_t value, const std::string& where) {
  write_scalar_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, where);
}

void write_attr(hid_t obj, const char* name, const std::string& value, const std::string& where) {
  Handle type = fixed_string_type(value.size());
  std::string padded = value;
  padded.resize(std::max<size_t>(value.size(), 1), '\0');
  write_scalar_attr(obj, name, type.get(), type.get(), padded.data(), where);
}

double read_attr_double(hid_t obj, const char* name, const std::string& where) {
  Handle attr = open_attr(obj, name, where);
  double v = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v), where, fmt::format("reading attribute '{}'", name).c_str());
  return v;
}

int64_t read_attr_int(hid_t obj, const char* name, const std::string& where) {
  Handle attr = open_attr(obj, name, where);
  int64_t v = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &v), where, fmt::format("reading attribute '{}'", name).c_str());
  return v;
}

std::string read_attr_string(hid_t obj, const char* name, const std::string& where) {
  Handle attr = open_attr(obj, name, where);
  const std::string what = fmt::format("reading attribute '{}'", name);
  Handle type(check_id(H5Aget_type(attr.get()), where, what.c_str()));
  if (H5Tget_class(type.get()) != H5T_STRING) AGF_FAIL("{}: attribute '{}' is not a string", where, name);
  if (H5Tis_variable_str(type.get()) > 0) {  // as h5py writes them
    Handle mem(check_id(H5Tcopy(H5T_C_S1), where, what.c_str()));
    check_status(H5Tset_size(mem.get(), H5T_VARIABLE), where, what.c_str());
    char* s = nullptr;
    check_status(H5Aread(attr.get(), mem.get(), &s), where, what.c_str());
    std::string out = s != nullptr ? s : "";
    H5free_memory(s);
    return out;
  }
  std::string buf(H5Tget_size(type.get()), '\0');
  check_status(H5Aread(attr.get(), type.get(), buf.data()), where, what.c_str());
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

void write_string_dataset(hid_t loc, const char* name, const std::vector<std::string>& values,
                          const std::string& where) {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::vector<char> packed(width * values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(packed.data() + i * width, values[i].data(), values[i].size());
  Handle type = fixed_string_type(width);
  const hsize_t dims[1] = {values.size()};
  Handle space(check_id(H5Screate_simple(1, dims, nullptr), where, "creating a dataspace"));
  Handle dcpl = untimed_dataset_create_plist();
  const std::string what = fmt::format("writing dataset '{}'", name);
  Handle ds(check_id(H5Dcreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), where,
                     what.c_str()));
  if (!values.empty()) check_status(H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()),
                                    where, what.c_str());
}

std::vector<std::string> read_string_dataset(hid_t loc, const char* name, const std::string& where, size_t max_count,
                                             size_t max_width) {
  const std::string what = fmt::format("reading dataset '{}'", name);
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) AGF_FAIL("{}: dataset '{}' is missing", where, name);
  Handle ds(check_id(H5Dopen2(loc, name, H5P_DEFAULT), where, what.c_str()));
  Handle type(check_id(H5Dget_type(ds.get()), where, what.c_str()));
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    AGF_FAIL("{}: dataset '{}' is not a fixed-length string array", where, name);
  const auto dims = dataset_dims(ds.get(), where);
  if (dims.size() != 1) AGF_FAIL("{}: dataset '{}' has {} dimensions, expected 1", where, name, dims.size());
  const size_t width = H5Tget_size(type.get());
  if (dims[0] > max_count)
    AGF_FAIL("{}: dataset '{}' has {} entries, more than the {} expected", where, name, dims[0], max_count);
  if (width < 1 || width > max_width)
    AGF_FAIL("{}: dataset '{}' holds strings of {} bytes, outside 1..{}", where, name, width, max_width);
  if (dims[0] * width > kMaxStringDatasetBytes)
    AGF_FAIL("{}: dataset '{}' holds {} strings of {} bytes, more than {} bytes in all", where, name, dims[0], width,
             kMaxStringDatasetBytes);
  std::vector<char> packed(width * dims[0] + 1, '\0');
  if (dims[0] > 0) check_status(H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()), where,
                                what.c_str());
  std::vector<std::string> out(dims[0]);
  for (size_t i = 0; i < dims[0]; ++i) {
    const char* p = packed.data() + i * width;
    out[i].assign(p, strnlen(p, width));
  }
  return out;
}

void write_i64_dataset(hid_t loc, const char* name, const std::vector<int64_t>& values, const std::string& where) {
  const hsize_t dims[1] = {values.size()};
  Handle space(check_id(H5Screate_simple(1, dims, nullptr), where, "creating a dataspace"));
  Handle dcpl = untimed_dataset_create_plist();
  const std::string what = fmt::format("writing dataset '{}'", name);
  Handle ds(check_id(H5Dcreate2(loc, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), where,
                     what.c_str()));
  if (!values.empty())
    check_status(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), where,
                 what.c_str());
}

std::vector<int64_t> read_i64_dataset(hid_t loc, const char* name, const std::string& where, size_t max_count) {
  const std::string what = fmt::format("reading dataset '{}'", name);
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) AGF_FAIL("{}: dataset '{}' is missing", where, name);
  Handle ds(check_id(H5Dopen2(loc, name, H5P_DEFAULT), where, what.c_str()));
  const auto dims = dataset_dims(ds.get(), where);
  if (dims.size() != 1) AGF_FAIL("{}: dataset '{}' has {} dimensions, expected 1", where, name, dims.size());
  if (dims[0] > max_count)
    AGF_FAIL("{}: dataset '{}' has {} entries, more than the {} expected", where, name, dims[0], max_count);
  std::vector<int64_t> out(dims[0]);
  if (!out.empty())
    check_status(H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), where, what.c_str());
  return out;
}

std::vector<hsize_t> dataset_dims(hid_t dataset, const std::string& where) {
  Handle space(check_id(H5Dget_space(dataset), where, "reading a dataspace"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) AGF_FAIL("{}: reading a dataspace's rank: {}", where, last_error_text());
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) check_status(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), where, "reading dims");
  return dims;
}

}  // namespace agf::dataset::h5
