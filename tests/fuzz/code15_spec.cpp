#include "code15_spec.h"

#include <hdf5.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace agf::fuzz {

namespace {

constexpr size_t kMaxDims = 4;
constexpr uint64_t kMaxDim = uint64_t{1} << 24;  // beyond every bound the reader checks (2^22 exams, 2^20 samples)
constexpr size_t kMaxIds = 64;
constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxLinks = 8;
constexpr uint64_t kMaxElementSize = 0xffffffffu;  // HDF5's datatype message holds a 32-bit size

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<int64_t> number(std::string_view w) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
  if (ec != std::errc() || p != w.data() + w.size()) return std::nullopt;
  return v;
}

DatasetSpec dataset_line(const std::vector<std::string_view>& w) {
  DatasetSpec d;
  d.name = std::string(w[0]);
  if (w.size() > 1) d.dtype = std::string(w[1]);
  for (size_t i = 2; i < w.size(); ++i) {
    if (auto n = number(w[i])) {
      if (d.dims.size() < kMaxDims) d.dims.push_back(static_cast<uint64_t>(std::clamp<int64_t>(*n, 0, kMaxDim)));
    } else if (w[i] == "null") {
      d.null_space = true;
    } else if (w[i] == "chunked" || w[i] == "compact") {
      d.layout = std::string(w[i]);
    } else if (w[i] == "deflate") {
      d.deflate = true;
    } else if (w[i] == "size" && i + 1 < w.size() && number(w[i + 1])) {
      d.element_size = static_cast<uint64_t>(std::clamp<int64_t>(*number(w[++i]), 1, kMaxElementSize));
    } else if (w[i] == "values" && i + 1 < w.size()) {
      d.values = std::string(w[++i]);
    } else if (w[i] == "ids") {
      while (i + 1 < w.size() && number(w[i + 1]) && d.ids.size() < kMaxIds) d.ids.push_back(*number(w[++i]));
    }
  }
  return d;
}

uint64_t element_count(const DatasetSpec& d) {
  if (d.null_space) return 0;
  uint64_t n = 1;
  for (uint64_t x : d.dims) n = (x != 0 && n > std::numeric_limits<uint64_t>::max() / x) ? 0 : n * x;
  return n;
}

// The file type of a dtype word; negative when unknown. The caller closes what it gets.
hid_t file_type(const std::string& dtype) {
  if (dtype == "f16") {
    // IEEE half: no predefined HDF5 type, but a valid custom float every reader must convert or refuse.
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_precision(t, 16);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
  }
  if (dtype == "str") {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 8);
    return t;
  }
  struct Named {
    const char* word;
    hid_t type;
  };
  const Named named[] = {{"f32", H5T_IEEE_F32LE}, {"f32be", H5T_IEEE_F32BE}, {"f64", H5T_IEEE_F64LE},
                         {"f64be", H5T_IEEE_F64BE}, {"i8", H5T_STD_I8LE},     {"i16", H5T_STD_I16LE},
                         {"i32", H5T_STD_I32LE},    {"i64", H5T_STD_I64LE},   {"i64be", H5T_STD_I64BE},
                         {"u8", H5T_STD_U8LE},      {"u16", H5T_STD_U16LE},   {"u32", H5T_STD_U32LE},
                         {"u64", H5T_STD_U64LE}};
  for (const Named& n : named)
    if (dtype == n.word) return H5Tcopy(n.type);
  return -1;
}

// Tracing values: a ramp in mV, or one of the values a float file can hold that a reader must survive.
enum class Values { ramp, zero, nan, inf, big, tiny };

Values values_kind(const std::string& word) {
  if (word == "zero") return Values::zero;
  if (word == "nan") return Values::nan;
  if (word == "inf") return Values::inf;
  if (word == "big") return Values::big;
  if (word == "tiny") return Values::tiny;
  return Values::ramp;
}

double tracing_value(Values kind, uint64_t i) {
  const double ramp = static_cast<double>(i % 2000) * 0.001 - 1.0;
  switch (kind) {
    case Values::zero: return 0.0;
    case Values::nan: return i % 5 == 0 ? std::numeric_limits<double>::quiet_NaN() : ramp;
    case Values::inf: return i % 5 == 0 ? (i % 2 ? -1 : 1) * std::numeric_limits<double>::infinity() : ramp;
    case Values::big: return (i % 2 ? -1e300 : 1e38) * (1.0 + ramp);
    case Values::tiny: return 1e-42 * ramp;
    case Values::ramp: break;
  }
  return ramp;
}

int64_t exam_id_value(const DatasetSpec& d, uint64_t i, uint64_t n) {
  if (i < d.ids.size()) return d.ids[i];
  if (!d.ids.empty())  // wrapping (unsigned arithmetic): an id near the int64 limit is a valid input
    return static_cast<int64_t>(static_cast<uint64_t>(d.ids.back()) + (i - d.ids.size()) + 1);
  return i + 1 == n ? 0 : 1000 + 7 * static_cast<int64_t>(i);  // CODE-15's layout: the last row a dummy 0
}

// Writes the dataset's values through a double (floats) or int64 (integers, strings) memory buffer: HDF5 converts.
bool write_values(hid_t ds, const DatasetSpec& d, uint64_t n, hid_t ftype) {
  if (n == 0 || n > kMaxWrittenElements || n * H5Tget_size(ftype) > kMaxWrittenBytes ||
      H5Tget_class(ftype) == H5T_STRING)
    return true;
  const bool is_float = H5Tget_class(ftype) == H5T_FLOAT, is_ids = d.name == "exam_id";
  const Values kind = values_kind(d.values);
  herr_t rc;
  if (is_ids && !is_float) {
    std::vector<int64_t> v(n);
    for (uint64_t i = 0; i < n; ++i) v[i] = exam_id_value(d, i, n);
    rc = H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  } else if (is_float) {
    std::vector<double> v(n);
    for (uint64_t i = 0; i < n; ++i)
      v[i] = is_ids ? static_cast<double>(exam_id_value(d, i, n)) : tracing_value(kind, i);
    rc = H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  } else {
    std::vector<int64_t> v(n);
    constexpr int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    for (uint64_t i = 0; i < n; ++i)
      v[i] = kind == Values::big ? (i % 2 ? hi : lo) : static_cast<int64_t>(i % 2000) - 1000;
    rc = H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  }
  return rc >= 0;
}

bool create_dataset(hid_t file, const DatasetSpec& d) {
  const hid_t ftype = file_type(d.dtype);
  if (ftype < 0) return false;
  if (d.element_size != 0 && H5Tset_size(ftype, d.element_size) < 0) {
    H5Tclose(ftype);
    return false;
  }
  const uint64_t n = element_count(d);
  hid_t space;
  if (d.null_space) {
    space = H5Screate(H5S_NULL);
  } else if (d.dims.empty()) {
    space = H5Screate(H5S_SCALAR);
  } else {
    std::vector<hsize_t> dims(d.dims.begin(), d.dims.end());
    // A chunked dataset may grow; its declared extent is all a reader sees.
    std::vector<hsize_t> max_dims(dims.size(), H5S_UNLIMITED);
    space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                             d.layout == "chunked" ? max_dims.data() : nullptr);
  }
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  bool ok = space >= 0 && dcpl >= 0;
  if (ok && d.layout == "chunked" && !d.dims.empty() && !d.null_space) {
    // Small chunks (at most 2^14 elements, and under HDF5's 4 GiB per chunk) keep the fill-value reads of a huge
    // declared extent cheap.
    std::vector<hsize_t> chunk(d.dims.size());
    uint64_t budget = std::clamp<uint64_t>(kMaxElementSize / H5Tget_size(ftype), 1, uint64_t{1} << 14);
    for (size_t k = chunk.size(); k-- > 0;) {
      chunk[k] = std::max<uint64_t>(1, std::min<uint64_t>(d.dims[k], budget));
      budget = std::max<uint64_t>(1, budget / chunk[k]);
    }
    ok = H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()) >= 0;
    if (ok && d.deflate) ok = H5Pset_deflate(dcpl, 1) >= 0;
  } else if (ok && d.layout == "compact") {
    ok = H5Pset_layout(dcpl, H5D_COMPACT) >= 0;
  }
  hid_t ds = -1;
  if (ok) {
    ds = H5Dcreate2(file, d.name.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ok = ds >= 0 && write_values(ds, d, n, ftype);
  }
  if (ds >= 0) H5Dclose(ds);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  H5Tclose(ftype);
  return ok;
}

bool create_link(hid_t file, const LinkSpec& l) {
  if (l.kind == "group") {
    const hid_t g = H5Gcreate2(file, l.path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return false;
    H5Gclose(g);
    return true;
  }
  if (l.kind == "softlink")
    return H5Lcreate_soft(l.target.c_str(), file, l.path.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0;
  if (l.kind == "hardlink")
    return H5Lcreate_hard(file, l.target.c_str(), file, l.path.c_str(), H5P_DEFAULT, H5P_DEFAULT) >= 0;
  return false;
}

}  // namespace

Code15Input parse_code15_input(std::string_view input) {
  Code15Input out;
  size_t start = 0;
  while (start <= input.size()) {
    const size_t nl = input.find('\n', start);
    const std::string_view line =
        input.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? input.size() + 1 : nl + 1;
    const auto w = words(line);
    if (w.size() == 1 && w[0] == "---") {
      if (start <= input.size()) out.csv = std::string(input.substr(start));
      break;
    }
    if (w.empty()) continue;
    if (w[0] == "tracings" || w[0] == "exam_id") {
      out.spec.datasets.push_back(dataset_line(w));
    } else if ((w[0] == "group" && w.size() >= 2) || ((w[0] == "softlink" || w[0] == "hardlink") && w.size() >= 3)) {
      if (out.spec.links.size() < kMaxLinks && w[1].size() <= kMaxNameLength &&
          (w.size() < 3 || w[2].size() <= kMaxNameLength))
        out.spec.links.push_back({std::string(w[0]), std::string(w[1]), w.size() >= 3 ? std::string(w[2]) : ""});
    }
  }
  return out;
}

namespace {

// Creates the described objects in `file`.
bool populate(hid_t file, const Code15Spec& spec) {
  bool ok = true;
  // Links that make groups go first (a dataset path may run through them); links to datasets go last.
  for (const LinkSpec& l : spec.links)
    if (ok && l.kind == "group") ok = create_link(file, l);
  for (const DatasetSpec& d : spec.datasets)
    if (ok) ok = create_dataset(file, d);
  for (const LinkSpec& l : spec.links)
    if (ok && l.kind != "group") ok = create_link(file, l);
  return ok;
}

}  // namespace

bool build_code15_part(const Code15Spec& spec, const std::filesystem::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // a refused description is a skipped input, not a stack dump
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);  // nothing of this file stays open once it is closed
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file < 0) return false;
  const bool ok = populate(file, spec);
  return H5Fclose(file) >= 0 && ok;
}

bool build_code15_part_image(const Code15Spec& spec, std::string& image) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_core(fapl, 1 << 16, 0);  // in memory, never written to disk
  const hid_t file = H5Fcreate("agf_fuzz_image.hdf5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (file < 0) return false;
  // The image is taken from the open file: closing a core file without a backing store discards it.
  bool ok = populate(file, spec) && H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0;
  const ssize_t n = ok ? H5Fget_file_image(file, nullptr, 0) : -1;
  if (n > 0) {
    image.resize(static_cast<size_t>(n));
    ok = H5Fget_file_image(file, image.data(), image.size()) == n;
  } else {
    ok = false;
  }
  return H5Fclose(file) >= 0 && ok;
}

}  // namespace agf::fuzz
