#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <vector>

#include "io/atomic_file.h"
#include "io/file_util.h"

namespace agf::io {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

struct DTypeName {
  std::string_view name;
  DType dtype;
  int order;  // the reference's Dtype enum order: writers put larger ones first
};
constexpr std::array<DTypeName, 8> kDTypes{{
    {"BOOL", DType::boolean, 0},
    {"U8", DType::u8, 1},
    {"F16", DType::f16, 6},
    {"BF16", DType::bf16, 7},
    {"I32", DType::i32, 8},
    {"F32", DType::f32, 10},
    {"F64", DType::f64, 11},
    {"I64", DType::i64, 12},
}};
// In the format, but without an engine dtype: named in the refusal.
constexpr std::array<std::string_view, 11> kUnsupportedDTypes{
    {"I8", "I16", "U16", "U32", "U64", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"}};

int dtype_order(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.order;
  return -1;
}

DType parse_st_dtype(const std::string& name, const std::string& tensor, const std::string& source) {
  for (const auto& d : kDTypes)
    if (d.name == name) return d.dtype;
  for (auto u : kUnsupportedDTypes)
    AGF_CHECK(u != name, "{}: tensor '{}' has dtype {}, which this engine does not support", source, tensor, name);
  AGF_FAIL("{}: tensor '{}' has unknown dtype '{}'", source, tensor, name.substr(0, 32));
}

static_assert(kSafetensorsMaxEntries < UINT32_MAX, "SafetensorsIndex::by_name holds 32-bit positions");
// Containers open at once: the header, an entry, its shape or data_offsets. A fourth is tolerated only empty.
constexpr int kMaxDepth = 3;

// Reads the header event by event (nlohmann's SAX interface) straight into entries, in one pass. No JSON tree is
// built, and nlohmann's callback parser is not used: it scans all members of an object each time one of them (an
// object itself) closes, which made a header of n entries cost O(n^2): 20k entries took 5 s, 300k did not finish
// in 2 minutes. A fault of an entry's structure is kept (the first one) and raised once the whole text is known to be
// JSON, as a parse-then-check reader would; nesting too deep and a second __metadata__ stop the parse at once.
class HeaderReader {
 public:
  HeaderReader(const std::string& source, SafetensorsIndex& index) : source_(source), index_(index) {}

  // Throws for invalid JSON, nesting too deep and more entries than kSafetensorsMaxEntries.
  void read(std::string_view text) {
    nlohmann::json::sax_parse(text.begin(), text.end(), this);
    AGF_CHECK(json_error_.empty(), "{}: header is not valid JSON: {}", source_, json_error_);
    AGF_CHECK(members_ <= kSafetensorsMaxEntries,
              "{}: the header lists {} tensors, more than the {} this reader accepts (a real checkpoint has hundreds "
              "to tens of thousands; corrupt or hostile file?)", source_, members_, kSafetensorsMaxEntries);
  }
  // The first structural fault met (an entry that is not an object, a field of the wrong type, ...); empty if none.
  const std::string& first_fault() const { return fault_; }

  // ---- the SAX interface ----
  bool null() { return scalar(nullptr, nullptr, "null"); }
  bool boolean(bool b) { return scalar(nullptr, nullptr, b ? "true" : "false"); }
  bool number_integer(int64_t v) { return scalar(nullptr, nullptr, fmt::format("{}", v)); }  // negative ones only
  bool number_unsigned(uint64_t v) { return scalar(&v, nullptr, {}); }
  bool number_float(double, const std::string& text) { return scalar(nullptr, nullptr, text); }
  bool string(std::string& s) { return scalar(nullptr, &s, {}); }
  bool binary(nlohmann::json::binary_t&) { return scalar(nullptr, nullptr, "binary data"); }
  bool start_object(size_t) { return open(true); }
  bool start_array(size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k);
  bool parse_error(size_t, const std::string&, const nlohmann::json::exception& e) {
    json_error_ = e.what();
    return false;
  }

 private:
  enum class Role : uint8_t { header, entry, metadata, shape, offsets, ignored };
  enum class Field : uint8_t { dtype, shape, offsets, other };

  void check_depth() const { AGF_CHECK(depth_ <= kMaxDepth, "{}: header JSON nested too deeply", source_); }
  Role role() const { return roles_[static_cast<size_t>(depth_)]; }
  void fault(std::string why) {
    if (fault_.empty()) fault_ = std::move(why);
  }
  void entry_fault(std::string_view why) { fault(fmt::format("{}: tensor '{}': {}", source_, entry_.name, why)); }
  // A value where a scalar sits: `uint` when it is a non-negative integer, `text` when it is a string, else
  // `literal` shows it in messages.
  bool scalar(const uint64_t* uint, const std::string* text, std::string_view literal);
  bool open(bool object);
  bool close();
  void finish_entry();

  const std::string& source_;
  SafetensorsIndex& index_;
  std::string json_error_, fault_;
  int depth_ = 0;  // containers open
  std::array<Role, kMaxDepth + 2> roles_{};
  size_t members_ = 0;            // header members other than __metadata__
  bool metadata_seen_ = false;
  std::string member_, meta_key_;  // the key being read in the header, in __metadata__
  Field field_ = Field::other;     // the key being read in an entry
  // The entry being read.
  SafetensorsEntry entry_;
  std::string dtype_;
  bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;
  size_t array_len_ = 0;  // items seen in the shape or data_offsets being read
};

bool HeaderReader::key(std::string& k) {
  check_depth();
  switch (role()) {
    case Role::header:
      if (k == "__metadata__") {
        AGF_CHECK(!metadata_seen_, "{}: header names '__metadata__' twice", source_);
        metadata_seen_ = true;
      } else {
        ++members_;
      }
      member_ = k;
      break;
    case Role::entry:
      field_ = k == "dtype" ? Field::dtype : k == "shape" ? Field::shape : k == "data_offsets" ? Field::offsets
                                                                                               : Field::other;
      has_dtype_ |= field_ == Field::dtype;
      has_shape_ |= field_ == Field::shape;
      has_offsets_ |= field_ == Field::offsets;
      break;
    case Role::metadata: meta_key_ = k; break;
    default: break;
  }
  return true;
}

bool HeaderReader::scalar(const uint64_t* uint, const std::string* text, std::string_view literal) {
  check_depth();
  const auto shown = [&] { return text ? fmt::format("\"{}\"", text->substr(0, 32)) : std::string(literal); };
  if (depth_ == 0) return true;  // a bare scalar: the text starts with '{', so the JSON is invalid anyway
  switch (role()) {
    case Role::header:
      fault(member_ == "__metadata__" ? fmt::format("{}: __metadata__ is not an object", source_)
                                      : fmt::format("{}: header entry '{}' is not an object", source_, member_));
      break;
    case Role::entry:
      if (field_ == Field::dtype && text) dtype_ = *text;
      else if (field_ == Field::dtype) entry_fault("dtype is not a string");
      else if (field_ == Field::shape) entry_fault("shape is not an array");
      else if (field_ == Field::offsets) entry_fault("data_offsets is not [begin, end]");
      break;
    case Role::metadata:
      if (text) index_.metadata.insert_or_assign(meta_key_, *text);
      else fault(fmt::format("{}: __metadata__ '{}' is not a string", source_, meta_key_));
      break;
    case Role::shape:
      if (++array_len_ > static_cast<size_t>(kMaxDims)) break;  // refused when the array closes
      if (!uint) entry_fault(fmt::format("shape holds {}, not a non-negative integer", shown()));
      else if (*uint > static_cast<uint64_t>(INT64_MAX)) entry_fault(fmt::format("dimension {} too large", *uint));
      else entry_.shape.push_back(static_cast<int64_t>(*uint));
      break;
    case Role::offsets:
      ++array_len_;
      if (!uint) entry_fault(fmt::format("data_offsets holds {}, not a non-negative integer", shown()));
      else if (array_len_ == 1) entry_.begin = *uint;
      else if (array_len_ == 2) entry_.end = *uint;
      break;
    case Role::ignored: break;
  }
  return true;
}

bool HeaderReader::open(bool object) {
  check_depth();
  Role next = Role::ignored;
  if (depth_ == 0) {
    next = object ? Role::header : Role::ignored;
    if (!object) fault(fmt::format("{}: header is not a JSON object", source_));
  } else {
    switch (role()) {
      case Role::header:
        if (member_ == "__metadata__" && object) next = Role::metadata;
        else if (member_ == "__metadata__") fault(fmt::format("{}: __metadata__ is not an object", source_));
        else if (!object) fault(fmt::format("{}: header entry '{}' is not an object", source_, member_));
        else if (members_ <= kSafetensorsMaxEntries) next = Role::entry;  // past the cap, entries are only counted
        if (next == Role::entry) {
          entry_ = SafetensorsEntry{};
          entry_.name = member_;
          has_dtype_ = has_shape_ = has_offsets_ = false;
          dtype_.clear();
        }
        break;
      case Role::entry:
        if (field_ == Field::shape && !object) next = Role::shape;
        else if (field_ == Field::offsets && !object) next = Role::offsets;
        else if (field_ != Field::other) scalar(nullptr, nullptr, "");  // the same fault as a misplaced scalar
        if (next == Role::shape) entry_.shape.clear();
        if (next == Role::shape || next == Role::offsets) array_len_ = 0;
        break;
      case Role::metadata: scalar(nullptr, nullptr, ""); break;
      case Role::shape:
      case Role::offsets: scalar(nullptr, nullptr, object ? "an object" : "an array"); break;
      default: break;
    }
  }
  roles_[static_cast<size_t>(++depth_)] = next;
  return true;
}

bool HeaderReader::close() {
  switch (role()) {
    case Role::entry: finish_entry(); break;
    case Role::shape:
      if (array_len_ > static_cast<size_t>(kMaxDims))
        fault(fmt::format("{}: tensor '{}' has {} dims ({} at most)", source_, entry_.name, array_len_, kMaxDims));
      break;
    case Role::offsets:
      if (array_len_ != 2) entry_fault("data_offsets is not [begin, end]");
      break;
    default: break;
  }
  --depth_;
  return true;
}

void HeaderReader::finish_entry() {
  if (!(has_dtype_ && has_shape_ && has_offsets_)) {
    fault(fmt::format("{}: tensor '{}' lacks one of dtype, shape, data_offsets", source_, entry_.name));
  } else if (fault_.empty()) {
    try {
      entry_.dtype = parse_st_dtype(dtype_, entry_.name, source_);
    } catch (const Error& e) {
      fault(e.what());
    }
  }
  index_.entries.push_back(std::move(entry_));
}

uint64_t name_hash(std::string_view name) { return std::hash<std::string_view>{}(name); }

}  // namespace

std::string_view safetensors_dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.name;
  AGF_FAIL("dtype {} has no safetensors name", t);
}

const SafetensorsEntry* SafetensorsIndex::find(std::string_view name) const {
  const uint64_t hash = name_hash(name);
  const auto at = std::lower_bound(by_name.begin(), by_name.end(), name, [&](uint32_t i, std::string_view) {
    const uint64_t h = name_hash(entries[i].name);
    return h != hash ? h < hash : entries[i].name < name;
  });
  return at != by_name.end() && entries[*at].name == name ? &entries[*at] : nullptr;
}

bool looks_like_safetensors(Bytes file) {
  if (file.size() < 10) return false;
  const uint64_t n = load_le<uint64_t>(file.data());
  return n >= 2 && n <= file.size() - 8 && file[8] == '{';
}

SafetensorsIndex parse_safetensors_header(Bytes file, std::string_view source_view) {
  const std::string source(source_view);
  AGF_CHECK(file.size() >= 8, "{}: too short for a safetensors file ({} bytes)", source, file.size());
  const uint64_t n = load_le<uint64_t>(file.data());
  AGF_CHECK(n <= kMaxHeaderBytes, "{}: header length {} exceeds the {} byte limit (corrupt file?)", source, n,
            kMaxHeaderBytes);
  AGF_CHECK(n <= file.size() - 8, "{}: header length {} runs past the end of the file ({} bytes; truncated?)", source,
            n, file.size());
  const std::string_view text = as_chars(file.subspan(8, static_cast<size_t>(n)));
  AGF_CHECK(!text.empty() && text[0] == '{', "{}: the header does not start with '{{'", source);

  SafetensorsIndex index;
  index.data_start = 8 + n;
  HeaderReader reader(source, index);
  reader.read(text);
  // Data order; tensors of no bytes may share an offset, and their names keep the order the same for every file.
  // Writers put tensors in data order, so the sort is seldom needed.
  const auto data_order = [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  };
  if (!std::is_sorted(index.entries.begin(), index.entries.end(), data_order))
    std::sort(index.entries.begin(), index.entries.end(), data_order);
  // Ordered by name hash, then name, entries give find() its binary search, and a name given twice (which a JSON
  // object would silently shadow) sits next to its twin. Comparing hashes first keeps the sort on integers: sorting
  // 1M names themselves took 0.75 s, most of the parse. Names are compared only where hashes tie, so crafted
  // collisions cost string comparisons, never a wrong answer or more than n log n of them.
  std::vector<std::pair<uint64_t, uint32_t>> order(index.entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = {name_hash(index.entries[i].name), static_cast<uint32_t>(i)};
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : index.entries[a.second].name < index.entries[b.second].name;
  });
  index.by_name.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& name = index.entries[order[i].second].name;
    AGF_CHECK(i == 0 || order[i].first != order[i - 1].first || name != index.entries[order[i - 1].second].name,
              "{}: header names '{}' twice", source, name);
    index.by_name[i] = order[i].second;
  }
  AGF_CHECK(reader.first_fault().empty(), "{}", reader.first_fault());

  // The tensors must tile the buffer exactly: each starts where the previous ended, and the last ends at the file's
  // end. That rules out overlaps, gaps and trailing bytes alike.
  uint64_t expect = 0;
  for (const auto& e : index.entries) {
    AGF_CHECK(e.begin == expect && e.end >= e.begin,
              "{}: tensor '{}' has data_offsets [{}, {}], expected to start at {} (overlapping or out of order)",
              source, e.name, e.begin, e.end, expect);
    // Strides too: (0, 2^62, 4) holds no bytes, yet its strides overflow, and a tensor is made with them.
    AGF_CHECK(shape_fits(e.shape, dtype_size(e.dtype)),
              "{}: tensor '{}': shape {} overflows 64 bits (its element count, strides or bytes)", source, e.name,
              shape_str(e.shape));
    const auto nbytes = static_cast<uint64_t>(shape_nbytes(e.shape, dtype_size(e.dtype)));
    AGF_CHECK(nbytes == e.end - e.begin,
              "{}: tensor '{}' ({} {}) needs {} x {} bytes but data_offsets [{}, {}] give {}", source, e.name,
              safetensors_dtype_name(e.dtype), shape_str(e.shape), shape_numel(e.shape), dtype_size(e.dtype),
              e.begin, e.end, e.end - e.begin);
    expect = e.end;
  }
  const uint64_t buffer = file.size() - index.data_start;
  AGF_CHECK(expect == buffer, "{}: the tensors cover {} bytes of a {} byte data buffer ({})", source, expect, buffer,
            expect < buffer ? "trailing bytes" : "truncated");
  return index;
}

namespace {

// Bytes of one entry as a new contiguous host tensor.
Tensor host_tensor(Bytes file, const SafetensorsIndex& index, const SafetensorsEntry& e) {
  Tensor t = empty(e.shape, e.dtype, Device::cpu());
  const size_t nbytes = static_cast<size_t>(e.end - e.begin);
  if (nbytes == 0) return t;
  auto* dst = static_cast<uint8_t*>(t.raw_data());
  std::memcpy(dst, file.data() + index.data_start + e.begin, nbytes);
  if (e.dtype == DType::boolean)  // a C++ bool must be 0 or 1
    for (size_t i = 0; i < nbytes; ++i) dst[i] = dst[i] != 0;
  return t;
}

}  // namespace

SafetensorsFile read_safetensors(Bytes file, std::string_view source, Device device) {
  const SafetensorsIndex index = parse_safetensors_header(file, source);
  SafetensorsFile out;
  out.metadata = index.metadata;
  for (const auto& e : index.entries) {
    Tensor t = host_tensor(file, index, e);
    out.tensors.emplace_back(e.name, device == Device::cpu() ? t : t.to(device));
  }
  return out;
}

SafetensorsFile load_safetensors(const std::filesystem::path& path, Device device) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return read_safetensors(bytes, path.string(), device);
}

LoadIntoReport read_safetensors_into(Bytes file, std::string_view source, const NamedTensors& targets,
                                     const LoadIntoOptions& options) {
  const SafetensorsIndex index = parse_safetensors_header(file, source);
  LoadIntoReport report;
  report.metadata = index.metadata;
  std::vector<bool> used(index.entries.size(), false);
  for (const auto& [name, target] : targets) {
    const SafetensorsEntry* found = index.find(name);
    if (!found) {
      AGF_CHECK(options.allow_missing, "{}: no tensor '{}' in the file", source, name);
      report.missing.push_back(name);
      continue;
    }
    const SafetensorsEntry& e = *found;
    AGF_CHECK(target.defined(), "{}: target for '{}' is an undefined tensor", source, name);
    AGF_CHECK(target.shape() == e.shape && target.dtype() == e.dtype,
              "{}: tensor '{}' is {} {} in the file but the target is {}", source, name, e.dtype, shape_str(e.shape),
              target.describe());
    Tensor mutable_target = target;
    if (target.device().is_cpu() && target.is_contiguous() && target.numel() > 0) {
      auto* dst = static_cast<uint8_t*>(target.raw_data());
      std::memcpy(dst, file.data() + index.data_start + e.begin, static_cast<size_t>(e.end - e.begin));
      if (e.dtype == DType::boolean)
        for (uint64_t i = 0; i < e.end - e.begin; ++i) dst[i] = dst[i] != 0;
      target.storage()->bump_version();  // a write in place, as copy_ would count it
    } else if (target.numel() > 0) {
      mutable_target.copy_(host_tensor(file, index, e));
    }
    used[static_cast<size_t>(&e - index.entries.data())] = true;
    report.loaded.push_back(name);
  }
  for (size_t i = 0; i < index.entries.size(); ++i) {
    if (used[i]) continue;
    AGF_CHECK(options.allow_unexpected, "{}: tensor '{}' is in the file but nothing asks for it", source,
              index.entries[i].name);
    report.unexpected.push_back(index.entries[i].name);
  }
  return report;
}

namespace {

struct Prepared {
  std::vector<std::pair<std::string, Tensor>> tensors;  // host, contiguous, in file order
  std::string header;                                   // padded JSON
};

Prepared prepare(const NamedTensors& tensors, const Metadata& metadata) {
  Prepared p;
  std::set<std::string_view> names;
  for (const auto& [name, t] : tensors) {
    AGF_CHECK(name != "__metadata__", "safetensors: '__metadata__' cannot name a tensor");
    AGF_CHECK(names.insert(name).second, "safetensors: tensor name '{}' given twice", name);
    AGF_CHECK(t.defined(), "safetensors: tensor '{}' is undefined", name);
    safetensors_dtype_name(t.dtype());  // throws for a dtype without a name
    p.tensors.emplace_back(name, t);
  }
  std::stable_sort(p.tensors.begin(), p.tensors.end(), [](const auto& a, const auto& b) {
    const int oa = dtype_order(a.second.dtype()), ob = dtype_order(b.second.dtype());
    return oa != ob ? oa > ob : a.first < b.first;
  });
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (auto& [name, t] : p.tensors) {
    t = t.to(Device::cpu()).contiguous();
    const uint64_t nbytes = t.nbytes();
    header[name] = {{"dtype", safetensors_dtype_name(t.dtype())}, {"shape", t.shape()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  p.header = header.dump();
  p.header.append((8 - p.header.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned
  return p;
}

// write(const void*, size_t) appends bytes to the output.
template <typename Write>
void write_prepared(const Prepared& p, Write&& write) {
  const uint64_t n = p.header.size();
  uint8_t len[8];
  std::memcpy(len, &n, 8);
  write(len, 8);
  write(p.header.data(), p.header.size());
  for (const auto& [name, t] : p.tensors)
    if (t.nbytes() > 0) write(t.raw_data(), t.nbytes());
}

}  // namespace

std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata) {
  const Prepared p = prepare(tensors, metadata);
  std::vector<uint8_t> out;
  write_prepared(p, [&](const void* data, size_t n) {
    const auto* b = static_cast<const uint8_t*>(data);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata) {
  const Prepared p = prepare(tensors, metadata);
  AtomicFile file(path);
  write_prepared(p, [&](const void* data, size_t n) { file.write({static_cast<const uint8_t*>(data), n}); });
  file.commit();
}

}  // namespace agf::io
