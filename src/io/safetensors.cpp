#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <unordered_map>

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

uint64_t json_uint(const nlohmann::json& v, const char* field, const std::string& tensor, const std::string& source) {
  AGF_CHECK(v.is_number_unsigned(), "{}: tensor '{}': {} holds {}, not a non-negative integer", source, tensor, field,
            v.dump().substr(0, 40));
  return v.get<uint64_t>();
}

SafetensorsEntry parse_entry(const std::string& name, const nlohmann::json& info, const std::string& source) {
  AGF_CHECK(info.is_object(), "{}: header entry '{}' is not an object", source, name);
  SafetensorsEntry e;
  e.name = name;
  const auto dt = info.find("dtype"), shape = info.find("shape"), offs = info.find("data_offsets");
  AGF_CHECK(dt != info.end() && shape != info.end() && offs != info.end(),
            "{}: tensor '{}' lacks one of dtype, shape, data_offsets", source, name);
  AGF_CHECK(dt->is_string(), "{}: tensor '{}': dtype is not a string", source, name);
  e.dtype = parse_st_dtype(dt->get<std::string>(), name, source);
  AGF_CHECK(shape->is_array(), "{}: tensor '{}': shape is not an array", source, name);
  AGF_CHECK(shape->size() <= static_cast<size_t>(kMaxDims), "{}: tensor '{}' has {} dims ({} at most)", source, name,
            shape->size(), kMaxDims);
  for (const auto& d : *shape) {
    const uint64_t n = json_uint(d, "shape", name, source);
    AGF_CHECK(n <= static_cast<uint64_t>(INT64_MAX), "{}: tensor '{}': dimension {} too large", source, name, n);
    e.shape.push_back(static_cast<int64_t>(n));
  }
  AGF_CHECK(offs->is_array() && offs->size() == 2, "{}: tensor '{}': data_offsets is not [begin, end]", source,
            name);
  e.begin = json_uint((*offs)[0], "data_offsets", name, source);
  e.end = json_uint((*offs)[1], "data_offsets", name, source);
  return e;
}

}  // namespace

std::string_view safetensors_dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.name;
  AGF_FAIL("dtype {} has no safetensors name", t);
}

const SafetensorsEntry* SafetensorsIndex::find(std::string_view name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
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

  // Duplicate names would silently shadow each other in a JSON object; deep nesting has no place in a header.
  std::set<std::string> names;
  const auto check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    AGF_CHECK(depth <= 3, "{}: header JSON nested too deeply", source);
    if (event == nlohmann::json::parse_event_t::key && depth == 1)
      AGF_CHECK(names.insert(parsed.get<std::string>()).second, "{}: header names '{}' twice", source,
                parsed.get<std::string>());
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::exception& e) {
    AGF_FAIL("{}: header is not valid JSON: {}", source, e.what());
  }
  AGF_CHECK(header.is_object(), "{}: header is not a JSON object", source);

  SafetensorsIndex index;
  index.data_start = 8 + n;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      AGF_CHECK(value.is_object(), "{}: __metadata__ is not an object", source);
      for (const auto& [mk, mv] : value.items()) {
        AGF_CHECK(mv.is_string(), "{}: __metadata__ '{}' is not a string", source, mk);
        index.metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    index.entries.push_back(parse_entry(key, value, source));
  }
  std::sort(index.entries.begin(), index.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
            });
  // The tensors must tile the buffer exactly: each starts where the previous ended, and the last ends at the file's
  // end. That rules out overlaps, gaps and trailing bytes alike.
  uint64_t expect = 0;
  for (const auto& e : index.entries) {
    AGF_CHECK(e.begin == expect && e.end >= e.begin,
              "{}: tensor '{}' has data_offsets [{}, {}], expected to start at {} (overlapping or out of order)",
              source, e.name, e.begin, e.end, expect);
    uint64_t numel = 1, nbytes = 0;
    for (int64_t d : e.shape)
      AGF_CHECK(!mul_overflows(numel, static_cast<uint64_t>(d), &numel), "{}: tensor '{}': shape {} overflows",
                source, e.name, shape_str(e.shape));
    AGF_CHECK(!mul_overflows(numel, dtype_size(e.dtype), &nbytes) && nbytes == e.end - e.begin,
              "{}: tensor '{}' ({} {}) needs {} x {} bytes but data_offsets [{}, {}] give {}", source, e.name,
              safetensors_dtype_name(e.dtype), shape_str(e.shape), numel, dtype_size(e.dtype), e.begin, e.end,
              e.end - e.begin);
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
  std::unordered_map<std::string_view, const SafetensorsEntry*> by_name;
  for (const auto& e : index.entries) by_name.emplace(e.name, &e);
  LoadIntoReport report;
  report.metadata = index.metadata;
  std::set<std::string_view> used;
  for (const auto& [name, target] : targets) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      AGF_CHECK(options.allow_missing, "{}: no tensor '{}' in the file", source, name);
      report.missing.push_back(name);
      continue;
    }
    const SafetensorsEntry& e = *it->second;
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
    } else if (target.numel() > 0) {
      mutable_target.copy_(host_tensor(file, index, e));
    }
    used.insert(it->first);
    report.loaded.push_back(name);
  }
  for (const auto& e : index.entries) {
    if (used.count(e.name)) continue;
    AGF_CHECK(options.allow_unexpected, "{}: tensor '{}' is in the file but nothing asks for it", source, e.name);
    report.unexpected.push_back(e.name);
  }
  return report;
}

LoadIntoReport load_safetensors_into(const std::filesystem::path& path, const NamedTensors& targets,
                                     const LoadIntoOptions& options) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return read_safetensors_into(bytes, path.string(), targets, options);
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
