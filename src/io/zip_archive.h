#pragma once
// Reader of the zip container that torch.save writes (miniz: stored entries, 64-byte aligned, ZIP64 past 4 GiB).
// Deflated entries (a checkpoint re-zipped by hand) are inflated with zlib. The archive is parsed from its central
// directory; every offset and size is checked against the buffer, and every entry read is checked against its
// CRC-32, so a truncated or corrupted file is an error naming the entry, never a crash.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/byte_reader.h"

namespace agf::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated; anything else is refused when read
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
  uint64_t local_header_offset = 0;
};

// The bytes of one entry: a view into the archive for a stored entry, an owned buffer for a deflated one.
// Move-only so that the view of an owned buffer cannot dangle.
class ZipEntryData {
 public:
  ZipEntryData() = default;
  explicit ZipEntryData(Bytes view) : view_(view) {}
  explicit ZipEntryData(std::vector<uint8_t> owned) : owned_(std::move(owned)), is_owned_(true) {}
  ZipEntryData(ZipEntryData&&) = default;
  ZipEntryData& operator=(ZipEntryData&&) = default;
  ZipEntryData(const ZipEntryData&) = delete;
  ZipEntryData& operator=(const ZipEntryData&) = delete;

  Bytes bytes() const { return is_owned_ ? Bytes(owned_) : view_; }

 private:
  Bytes view_;
  std::vector<uint8_t> owned_;
  bool is_owned_ = false;
};

class ZipArchive {
 public:
  // `data` must outlive the archive; `source` names the file in messages.
  ZipArchive(Bytes data, std::string source);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;  // nullptr when absent
  const std::string& source() const { return source_; }

  // The entry's uncompressed bytes, verified against its size and CRC-32.
  ZipEntryData read(const ZipEntry& entry) const;
  ZipEntryData read(std::string_view name) const;  // an error naming the entry when absent

  // True when the buffer starts like a zip archive (a local file header or an empty archive's end record).
  static bool looks_like_zip(Bytes data);

 private:
  void parse_central_directory();
  Bytes entry_payload(const ZipEntry& e) const;

  Bytes data_;
  std::string source_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;  // name -> position in entries_
};

}  // namespace agf::io
