#pragma once
// Bounds-checked reading of untrusted bytes. Every reader of a checkpoint format goes through ByteReader, so that
// no read can leave the buffer and every failure names the source and the offset at fault.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "tensor/error.h"

namespace agf::io {

using Bytes = std::span<const uint8_t>;

// Overflow-checked a + b and a * b (true on overflow): sizes read from a file can be anything.
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

// Little-endian loads from a raw pointer the caller has bounds-checked.
template <typename T>
inline T load_le(const uint8_t* p) {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));  // the host is little-endian (x86-64, aarch64): checked at build time below
  return v;
}
static_assert(std::endian::native == std::endian::little, "agf::io assumes a little-endian host");

class ByteReader {
 public:
  // `what` names the source in messages, e.g. "model.pt: entry 'archive/data.pkl'".
  ByteReader(Bytes data, std::string what) : data_(data), what_(std::move(what)) {}

  size_t pos() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  const std::string& what() const { return what_; }

  void seek(size_t pos) {
    AGF_CHECK(pos <= data_.size(), "{}: offset {} is beyond the end ({} bytes)", what_, pos, data_.size());
    pos_ = pos;
  }

  // Throws naming `field` when fewer than n bytes remain.
  void need(uint64_t n, std::string_view field) const {
    AGF_CHECK(n <= remaining(), "{}: truncated {} at offset {} (needs {} bytes, {} left)", what_, field, pos_, n,
              remaining());
  }

  template <typename T>
  T read_le(std::string_view field) {
    need(sizeof(T), field);
    T v = load_le<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  uint8_t u8(std::string_view field) { return read_le<uint8_t>(field); }
  uint16_t u16(std::string_view field) { return read_le<uint16_t>(field); }
  uint32_t u32(std::string_view field) { return read_le<uint32_t>(field); }
  uint64_t u64(std::string_view field) { return read_le<uint64_t>(field); }

  Bytes bytes(uint64_t n, std::string_view field) {
    need(n, field);
    Bytes out = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  std::string_view chars(uint64_t n, std::string_view field) {
    Bytes b = bytes(n, field);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  void skip(uint64_t n, std::string_view field) { bytes(n, field); }

 private:
  Bytes data_;
  size_t pos_ = 0;
  std::string what_;
};

inline std::string_view as_chars(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace agf::io
