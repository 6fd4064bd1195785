#include "pickle_writer.h"

#include <zlib.h>

#include <cstring>

namespace agf::test {

namespace {

template <typename T>
void append_le(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // the host is little-endian, as io/byte_reader.h checks
  out.insert(out.end(), b, b + sizeof(T));
}

void append(std::vector<uint8_t>& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

}  // namespace

PickleWriter::PickleWriter() : bytes_{0x80, 0x02} {}

PickleWriter& PickleWriter::op(std::string_view raw) {
  append(bytes_, raw);
  return *this;
}

PickleWriter& PickleWriter::global(std::string_view module, std::string_view name) {
  bytes_.push_back('c');
  append(bytes_, module);
  bytes_.push_back('\n');
  append(bytes_, name);
  bytes_.push_back('\n');
  return *this;
}

PickleWriter& PickleWriter::str(std::string_view s) {
  bytes_.push_back('X');
  append_le<uint32_t>(bytes_, static_cast<uint32_t>(s.size()));
  append(bytes_, s);
  return *this;
}

PickleWriter& PickleWriter::integer(int64_t v) {
  if (v >= 0 && v < 256) {
    bytes_.push_back('K');
    bytes_.push_back(static_cast<uint8_t>(v));
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    bytes_.push_back('J');
    append_le<int32_t>(bytes_, static_cast<int32_t>(v));
  } else {
    bytes_.push_back(0x8a);  // LONG1 of 8 bytes, two's complement
    bytes_.push_back(8);
    append_le<int64_t>(bytes_, v);
  }
  return *this;
}

PickleWriter& PickleWriter::put(uint32_t memo) {
  bytes_.push_back('r');
  append_le<uint32_t>(bytes_, memo);
  return *this;
}

PickleWriter& PickleWriter::get(uint32_t memo) {
  bytes_.push_back('j');
  append_le<uint32_t>(bytes_, memo);
  return *this;
}

PickleWriter& PickleWriter::int_tuple(const Shape& values) {
  op("(");
  for (int64_t v : values) integer(v);
  return op("t");
}

PickleWriter& PickleWriter::tensor(std::string_view storage_type, std::string_view key, int64_t numel, int64_t offset,
                                   const Shape& size, const Shape& stride, std::string_view location) {
  global("torch._utils", "_rebuild_tensor_v2").op("(");
  op("(").str("storage").global("torch", storage_type).str(key).str(location).integer(numel).op("tQ");
  integer(offset).int_tuple(size).int_tuple(stride);
  return op("\x89").global("collections", "OrderedDict").op(")RtR");
}

std::vector<uint8_t> state_dict_pickle(const std::vector<HandmadeTensor>& tensors) {
  PickleWriter p;
  p.global("collections", "OrderedDict").op(")R");
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i % 1000 == 0) p.op("(");
    const HandmadeTensor& t = tensors[i];
    p.str(t.name).tensor(t.storage_type, t.key, t.numel, t.offset, t.size, t.stride);
    if (i % 1000 == 999 || i + 1 == tensors.size()) p.op("u");
  }
  return p.op(".").bytes();
}

std::vector<uint8_t> torch_zip(const std::vector<uint8_t>& pickle,
                               const std::map<std::string, std::vector<uint8_t>>& storages) {
  std::vector<std::pair<std::string, const std::vector<uint8_t>*>> entries;
  entries.emplace_back("archive/data.pkl", &pickle);
  static const std::vector<uint8_t> little{'l', 'i', 't', 't', 'l', 'e'};
  entries.emplace_back("archive/byteorder", &little);
  for (const auto& [key, data] : storages) entries.emplace_back("archive/data/" + key, &data);

  std::vector<uint8_t> out, directory;
  for (const auto& [name, data] : entries) {
    const auto crc = static_cast<uint32_t>(::crc32(0L, data->data(), static_cast<uInt>(data->size())));
    const auto size = static_cast<uint32_t>(data->size());
    const auto offset = static_cast<uint32_t>(out.size());
    append_le<uint32_t>(out, 0x04034b50);  // local header: version, flags, method 0 (stored), time, date
    for (uint16_t v : {20, 0, 0, 0, 0}) append_le<uint16_t>(out, v);
    for (uint32_t v : {crc, size, size}) append_le<uint32_t>(out, v);
    append_le<uint16_t>(out, static_cast<uint16_t>(name.size()));
    append_le<uint16_t>(out, 0);  // no extra field
    append(out, name);
    out.insert(out.end(), data->begin(), data->end());
    append_le<uint32_t>(directory, 0x02014b50);  // central header: versions, flags, method, time, date
    for (uint16_t v : {20, 20, 0, 0, 0, 0}) append_le<uint16_t>(directory, v);
    for (uint32_t v : {crc, size, size}) append_le<uint32_t>(directory, v);
    append_le<uint16_t>(directory, static_cast<uint16_t>(name.size()));
    for (uint16_t v : {0, 0, 0, 0}) append_le<uint16_t>(directory, v);  // extra, comment, disk, internal attributes
    append_le<uint32_t>(directory, 0);                                   // external attributes
    append_le<uint32_t>(directory, offset);
    append(directory, name);
  }
  const auto directory_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), directory.begin(), directory.end());
  append_le<uint32_t>(out, 0x06054b50);  // end record: disks, entry counts, directory size and offset, comment
  for (uint16_t v : {0, 0}) append_le<uint16_t>(out, v);
  for (size_t i = 0; i < 2; ++i) append_le<uint16_t>(out, static_cast<uint16_t>(entries.size()));
  append_le<uint32_t>(out, static_cast<uint32_t>(directory.size()));
  append_le<uint32_t>(out, directory_offset);
  append_le<uint16_t>(out, 0);
  return out;
}

}  // namespace agf::test
