#pragma once
// safetensors, the native checkpoint format: an 8-byte little-endian header length N, N bytes of JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the tensors' bytes, offsets
// relative to the start of that buffer. Reading validates as the reference implementation does (header within
// the file, offsets contiguous and non-overlapping, sizes matching dtype x shape, the buffer exactly covered);
// writing pads the header with spaces to a multiple of 8 and orders tensors as the reference does (larger dtypes
// first, then by name), so the same tensors always give the same bytes.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_reader.h"
#include "io/torch_checkpoint.h"  // NamedTensors
#include "tensor/tensor.h"

namespace agf::io {

// Free-form string pairs stored in the header: config JSON, step, RNG state, ...
using Metadata = std::map<std::string, std::string>;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range in the data buffer
};

struct SafetensorsIndex {
  std::vector<SafetensorsEntry> entries;  // in data order
  Metadata metadata;
  uint64_t data_start = 0;  // file offset of the data buffer (8 + N)
  std::vector<uint32_t> by_name;  // positions in entries by (name hash, name): find's binary search
  const SafetensorsEntry* find(std::string_view name) const;  // nullptr when absent
};

// ---- reading ----
// A real checkpoint holds hundreds to tens of thousands of tensors (the largest mixture-of-experts LLMs reach about
// 100k over all their shards). The cap leaves ten times that, and bounds what a hostile header can make a reader
// hold: the 100 MB header limit alone admits about 2M minimal entries, each ~150 bytes in the index, and a tensor
// each when the file is read. A header listing more is refused, naming both numbers.
inline constexpr size_t kSafetensorsMaxEntries = size_t{1} << 20;

// Parses and validates the header of a whole file held in memory. `source` names it in messages.
SafetensorsIndex parse_safetensors_header(Bytes file, std::string_view source);
bool looks_like_safetensors(Bytes file);

struct SafetensorsFile {
  NamedTensors tensors;  // in data order, contiguous, on the device asked for
  Metadata metadata;
};
SafetensorsFile read_safetensors(Bytes file, std::string_view source, Device device = Device::cpu());
SafetensorsFile load_safetensors(const std::filesystem::path& path, Device device = Device::cpu());

// Loading into preallocated tensors (on any device), matched by name; shapes and dtypes must agree exactly.
struct LoadIntoOptions {
  bool allow_missing = false;    // a target the file lacks is an error unless allowed (then listed)
  bool allow_unexpected = true;  // a file tensor no target asks for is listed, not an error
};
struct LoadIntoReport {
  std::vector<std::string> loaded, missing, unexpected;
  Metadata metadata;
};
LoadIntoReport read_safetensors_into(Bytes file, std::string_view source, const NamedTensors& targets,
                                     const LoadIntoOptions& options = {});

// ---- writing ----
std::vector<uint8_t> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata = {});
// All or nothing: a temporary file renamed over `path` once complete.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata = {});

// "F32", "BF16", ... as in the header; the reverse is an error naming the tensor for a dtype the engine lacks.
std::string_view safetensors_dtype_name(DType t);

}  // namespace agf::io
