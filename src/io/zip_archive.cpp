#include "io/zip_archive.h"

#include <zlib.h>

#include <algorithm>

namespace agf::io {

namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndRecordSize = 22;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;
// Deflate cannot expand data more than about 1032:1; a header claiming more is corrupt (or a zip bomb).
constexpr uint64_t kMaxDeflateRatio = 1032;

uint32_t crc32_of(Bytes b) {
  return static_cast<uint32_t>(::crc32_z(::crc32_z(0L, Z_NULL, 0), b.data(), b.size()));
}

// Reads the ZIP64 extended-information extra field: it holds, in this order, exactly those of the four fields
// whose 32-bit (16-bit for the disk) value in the header is saturated.
void apply_zip64_extra(Bytes extra, ZipEntry& e, bool need_size, bool need_csize, bool need_offset,
                       const std::string& what) {
  ByteReader r(extra, what);
  while (r.remaining() >= 4) {
    const uint16_t id = r.u16("extra field id");
    const uint16_t len = r.u16("extra field length");
    Bytes body = r.bytes(len, "extra field");
    if (id != kZip64ExtraId) continue;
    ByteReader z(body, what + " ZIP64 extra field");
    if (need_size) e.size = z.u64("ZIP64 uncompressed size");
    if (need_csize) e.compressed_size = z.u64("ZIP64 compressed size");
    if (need_offset) e.local_header_offset = z.u64("ZIP64 local header offset");
    return;
  }
  AGF_FAIL("{}: sizes saturated at 0xFFFFFFFF but no ZIP64 extra field", what);
}

std::vector<uint8_t> inflate_entry(Bytes compressed, uint64_t expected_size, const std::string& what) {
  uint64_t cap = 0;
  AGF_CHECK(!mul_overflows(compressed.size(), kMaxDeflateRatio, &cap) && expected_size <= cap + 64,
            "{}: claims {} bytes uncompressed from {} compressed: impossible for deflate", what, expected_size,
            compressed.size());
  z_stream zs{};
  AGF_CHECK(::inflateInit2(&zs, -MAX_WBITS) == Z_OK, "{}: zlib inflateInit2 failed", what);
  struct End {
    z_stream* s;
    ~End() { ::inflateEnd(s); }
  } end{&zs};
  // Grow the output as it is produced rather than trusting the header's size up front.
  // One byte of room past the expected size lets the stream's end be seen even when the data fills it exactly.
  const uint64_t limit = expected_size + 1;
  std::vector<uint8_t> out(static_cast<size_t>(std::min<uint64_t>(limit, 1 << 20)));
  size_t in_pos = 0, out_pos = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out_pos == out.size()) {
      AGF_CHECK(out.size() < limit, "{}: inflates to more than the {} bytes its header gives", what, expected_size);
      out.resize(static_cast<size_t>(std::min<uint64_t>(limit, out.size() * 2)));
    }
    const size_t in_chunk = std::min<size_t>(compressed.size() - in_pos, 1u << 30);
    const size_t out_chunk = std::min<size_t>(out.size() - out_pos, 1u << 30);
    zs.next_in = const_cast<Bytef*>(compressed.data() + in_pos);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_chunk);
    rc = ::inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc == Z_BUF_ERROR && in_pos == compressed.size() && zs.avail_out != 0)
      AGF_FAIL("{}: deflate stream truncated after {} bytes of output", what, out_pos);
    AGF_CHECK(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "{}: corrupt deflate stream ({})", what,
              zs.msg ? zs.msg : "zlib error");
    AGF_CHECK(rc != Z_BUF_ERROR || out_pos == out.size(), "{}: corrupt deflate stream (no progress)", what);
  }
  AGF_CHECK(out_pos == expected_size, "{}: inflates to {} bytes but its header gives {}", what, out_pos,
            expected_size);
  out.resize(out_pos);
  return out;
}

}  // namespace

bool ZipArchive::looks_like_zip(Bytes data) {
  if (data.size() < 4) return false;
  const uint32_t sig = load_le<uint32_t>(data.data());
  return sig == kLocalHeaderSig || sig == kEndSig;
}

ZipArchive::ZipArchive(Bytes data, std::string source) : data_(data), source_(std::move(source)) {
  parse_central_directory();
}

void ZipArchive::parse_central_directory() {
  const size_t n = data_.size();
  AGF_CHECK(n >= kEndRecordSize, "{}: not a zip archive ({} bytes; truncated?)", source_, n);
  // The end record sits at the end, followed only by its comment (at most 65535 bytes): scan backwards.
  size_t end = SIZE_MAX;
  const size_t lowest = n > kEndRecordSize + 0xFFFF ? n - kEndRecordSize - 0xFFFF : 0;
  for (size_t p = n - kEndRecordSize;; --p) {
    if (load_le<uint32_t>(data_.data() + p) == kEndSig &&
        p + kEndRecordSize + load_le<uint16_t>(data_.data() + p + 20) <= n) {
      end = p;
      break;
    }
    if (p == lowest) break;
  }
  AGF_CHECK(end != SIZE_MAX, "{}: no zip end-of-central-directory record (truncated, or not a zip archive)",
            source_);
  ByteReader r(data_, source_);
  r.seek(end + 4);
  const uint16_t disk = r.u16("end record"), cd_disk = r.u16("end record");
  const uint16_t count_here = r.u16("end record"), count16 = r.u16("end record");
  const uint32_t cd_size32 = r.u32("end record"), cd_offset32 = r.u32("end record");
  uint64_t count = count16, cd_size = cd_size32, cd_offset = cd_offset32;
  if (count16 == 0xFFFF || cd_size32 == 0xFFFFFFFF || cd_offset32 == 0xFFFFFFFF) {
    AGF_CHECK(end >= 20, "{}: ZIP64 end record locator missing (truncated?)", source_);
    r.seek(end - 20);
    AGF_CHECK(r.u32("ZIP64 locator") == kZip64LocatorSig, "{}: ZIP64 end record locator missing at offset {}",
              source_, end - 20);
    r.skip(4, "ZIP64 locator");
    const uint64_t z64_end = r.u64("ZIP64 locator");
    AGF_CHECK(z64_end < n, "{}: ZIP64 end record offset {} beyond the end ({} bytes; truncated?)", source_, z64_end,
              n);
    r.seek(static_cast<size_t>(z64_end));
    AGF_CHECK(r.u32("ZIP64 end record") == kZip64EndSig, "{}: bad ZIP64 end record signature at offset {}",
              source_, z64_end);
    r.skip(8 + 2 + 2, "ZIP64 end record");
    const uint32_t disk64 = r.u32("ZIP64 end record"), cd_disk64 = r.u32("ZIP64 end record");
    const uint64_t count_here64 = r.u64("ZIP64 end record");
    count = r.u64("ZIP64 end record");
    cd_size = r.u64("ZIP64 end record");
    cd_offset = r.u64("ZIP64 end record");
    AGF_CHECK(disk64 == 0 && cd_disk64 == 0 && count_here64 == count, "{}: multi-disk zip archives are not supported",
              source_);
  } else {
    AGF_CHECK(disk == 0 && cd_disk == 0 && count_here == count16, "{}: multi-disk zip archives are not supported",
              source_);
  }
  uint64_t cd_end = 0;
  AGF_CHECK(!add_overflows(cd_offset, cd_size, &cd_end) && cd_end <= n,
            "{}: central directory (offset {}, {} bytes) runs past the end of the file ({} bytes; truncated?)",
            source_, cd_offset, cd_size, n);
  AGF_CHECK(count <= cd_size / kCentralHeaderSize, "{}: {} entries cannot fit a central directory of {} bytes",
            source_, count, cd_size);

  entries_.reserve(static_cast<size_t>(count));
  r.seek(static_cast<size_t>(cd_offset));
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = r.pos();
    AGF_CHECK(r.u32("central directory header") == kCentralHeaderSig,
              "{}: bad central directory header signature at offset {} (entry {})", source_, at, i);
    ZipEntry e;
    r.skip(4, "central directory header");  // versions
    e.flags = r.u16("central directory header");
    e.method = r.u16("central directory header");
    r.skip(4, "central directory header");  // time, date
    e.crc32 = r.u32("central directory header");
    const uint32_t csize = r.u32("central directory header"), usize = r.u32("central directory header");
    const uint16_t name_len = r.u16("central directory header"), extra_len = r.u16("central directory header");
    const uint16_t comment_len = r.u16("central directory header");
    r.skip(2 + 2 + 4, "central directory header");  // disk start, attributes
    const uint32_t offset = r.u32("central directory header");
    e.name = std::string(r.chars(name_len, "entry name"));
    Bytes extra = r.bytes(extra_len, "entry extra field");
    r.skip(comment_len, "entry comment");
    AGF_CHECK(r.pos() <= cd_end, "{}: central directory entry {} ('{}') runs past the directory", source_, i, e.name);
    e.compressed_size = csize;
    e.size = usize;
    e.local_header_offset = offset;
    if (csize == 0xFFFFFFFF || usize == 0xFFFFFFFF || offset == 0xFFFFFFFF)
      apply_zip64_extra(extra, e, usize == 0xFFFFFFFF, csize == 0xFFFFFFFF, offset == 0xFFFFFFFF,
                        fmt::format("{}: entry '{}'", source_, e.name));
    AGF_CHECK(e.local_header_offset < n, "{}: entry '{}' starts at offset {}, beyond the end ({} bytes; truncated?)",
              source_, e.name, e.local_header_offset, n);
    entries_.push_back(std::move(e));
  }
  for (size_t i = 0; i < entries_.size(); ++i)
    AGF_CHECK(index_.emplace(entries_[i].name, i).second, "{}: duplicate zip entry '{}'", source_, entries_[i].name);
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second];
}

Bytes ZipArchive::entry_payload(const ZipEntry& e) const {
  ByteReader r(data_, fmt::format("{}: entry '{}'", source_, e.name));
  r.seek(static_cast<size_t>(std::min<uint64_t>(e.local_header_offset, data_.size())));
  AGF_CHECK(r.u32("local header") == kLocalHeaderSig, "{}: entry '{}': bad local header signature at offset {}",
            source_, e.name, e.local_header_offset);
  r.skip(kLocalHeaderSize - 4 - 4, "local header");
  const uint16_t name_len = r.u16("local header"), extra_len = r.u16("local header");
  AGF_CHECK(r.chars(name_len, "local entry name") == e.name,
            "{}: entry '{}': local header names another entry (corrupt archive)", source_, e.name);
  r.skip(extra_len, "local extra field");
  AGF_CHECK(e.compressed_size <= r.remaining(),
            "{}: entry '{}' ({} bytes at offset {}) runs past the end of the file (truncated?)", source_, e.name,
            e.compressed_size, r.pos());
  return r.bytes(e.compressed_size, "entry data");
}

ZipEntryData ZipArchive::read(const ZipEntry& e) const {
  const std::string what = fmt::format("{}: entry '{}'", source_, e.name);
  AGF_CHECK((e.flags & 0x1) == 0, "{}: encrypted zip entries are not supported", what);
  Bytes payload = entry_payload(e);
  ZipEntryData out;
  if (e.method == 0) {
    AGF_CHECK(e.size == e.compressed_size, "{}: stored entry with {} bytes but an uncompressed size of {}", what,
              e.compressed_size, e.size);
    out = ZipEntryData(payload);
  } else if (e.method == 8) {
    out = ZipEntryData(inflate_entry(payload, e.size, what));
  } else {
    AGF_FAIL("{}: compression method {} not supported (stored or deflated only)", what, e.method);
  }
  const uint32_t crc = crc32_of(out.bytes());
  AGF_CHECK(crc == e.crc32, "{}: CRC-32 mismatch (file says {:08x}, data gives {:08x}): corrupt archive", what,
            e.crc32, crc);
  return out;
}

ZipEntryData ZipArchive::read(std::string_view name) const {
  const ZipEntry* e = find(name);
  AGF_CHECK(e != nullptr, "{}: no entry '{}' in the archive", source_, name);
  return read(*e);
}

}  // namespace agf::io
