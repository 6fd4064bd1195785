#include "dataset/chunk_codec.h"

#include <zlib.h>

#include <array>
#include <cmath>

#include "tensor/error.h"

namespace agf::dataset {

namespace {

// A run of one byte value at least this long is coded by run length even inside a noise plane (shorter ones cost
// more in block switches than they save).
constexpr size_t kMinRun = 64;
// A plane whose bytes outside runs carry at least this much entropy is stored: Huffman coding could save at most
// 1/16 of it, not worth 0.5 ms a plane.
constexpr double kStoreEntropyBits = 7.5;

constexpr int kStored = 0;  // zlib level 0: stored blocks
constexpr int kRle = 1;     // zlib level 1 under Z_RLE: run lengths (distance-1 matches) + Huffman

// One zlib stream fed in pieces, each with its own block type; the output grows as needed.
class DeflateStream {
 public:
  // The output starts at `capacity` bytes and doubles when full (sized before zlib's state exists, so a failed
  // allocation leaks nothing).
  DeflateStream(int level, int strategy, size_t capacity) : level_(level), strategy_(strategy), out_(capacity) {
    const int rc = deflateInit2(&zs_, level, Z_DEFLATED, 15, 8, strategy);
    AGF_CHECK(rc == Z_OK, "zlib deflateInit2 failed with code {}", rc);
  }
  ~DeflateStream() { deflateEnd(&zs_); }
  DeflateStream(const DeflateStream&) = delete;
  DeflateStream& operator=(const DeflateStream&) = delete;

  void set_level(int level) {
    if (level == level_) return;
    // Pending input is compressed with the old block type (deflateParams flushes with Z_BLOCK).
    for (;;) {
      reserve_output();
      const int rc = deflateParams(&zs_, level, strategy_);
      if (rc == Z_OK) break;
      AGF_CHECK(rc == Z_BUF_ERROR && zs_.avail_out == 0, "zlib deflateParams failed with code {}", rc);
      grow();
    }
    level_ = level;
  }

  void feed(const uint8_t* data, size_t n) { run(data, n, Z_NO_FLUSH); }

  std::vector<uint8_t> finish() {
    run(nullptr, 0, Z_FINISH);
    out_.resize(zs_.total_out);
    return std::move(out_);
  }

 private:
  void run(const uint8_t* data, size_t n, int flush) {
    zs_.next_in = const_cast<Bytef*>(data);
    zs_.avail_in = static_cast<uInt>(n);
    for (;;) {
      reserve_output();
      const int rc = deflate(&zs_, flush);
      if (rc == Z_STREAM_END) return;
      AGF_CHECK(rc == Z_OK || rc == Z_BUF_ERROR, "zlib deflate failed with code {}", rc);
      if (zs_.avail_out == 0) {
        grow();
        continue;
      }
      if (flush != Z_FINISH && zs_.avail_in == 0) return;
      AGF_FAIL("zlib deflate made no progress (code {}, {} bytes of input left)", rc, zs_.avail_in);
    }
  }
  void reserve_output() {
    zs_.next_out = out_.data() + zs_.total_out;
    zs_.avail_out = static_cast<uInt>(out_.size() - zs_.total_out);
  }
  void grow() { out_.resize(out_.size() * 2); }

  z_stream zs_{};
  int level_, strategy_;
  std::vector<uint8_t> out_;
};

struct Run {
  size_t begin, end;
};

// Runs of at least kMinRun equal bytes, and the entropy (bits per byte) of the bytes outside them.
std::vector<Run> find_runs(const uint8_t* p, size_t n, double* literal_entropy) {
  std::vector<Run> runs;
  std::array<size_t, 256> hist{};
  size_t literals = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && p[j] == p[i]) ++j;
    if (j - i >= kMinRun) {
      runs.push_back({i, j});
    } else {
      hist[p[i]] += j - i;
      literals += j - i;
    }
    i = j;
  }
  double h = 0.0;
  for (size_t c : hist)
    if (c > 0) {
      const double q = static_cast<double>(c) / static_cast<double>(literals);
      h -= q * std::log2(q);
    }
  *literal_entropy = h;
  return runs;
}

}  // namespace

void shuffle4(const float* values, size_t count, uint8_t* out) {
  const auto* src = reinterpret_cast<const uint8_t*>(values);
  for (size_t i = 0; i < count; ++i)
    for (size_t b = 0; b < 4; ++b) out[b * count + i] = src[i * 4 + b];
}

std::vector<uint8_t> shuffle_deflate(const float* values, size_t count, int level, size_t initial_capacity) {
  AGF_CHECK(level >= 1 && level <= 9, "deflate level {} outside 1..9", level);
  const size_t nbytes = count * sizeof(float);
  std::vector<uint8_t> shuffled(nbytes);
  shuffle4(values, count, shuffled.data());
  // Stored blocks add 5 bytes per 64 KiB and each change of block type a few more; beyond that the output grows.
  const size_t capacity = initial_capacity > 0 ? initial_capacity : nbytes + nbytes / 1024 + 4096;
  if (level > 1) {
    DeflateStream z(level, Z_DEFAULT_STRATEGY, capacity);
    z.feed(shuffled.data(), nbytes);
    return z.finish();
  }
  DeflateStream z(kRle, Z_RLE, capacity);
  for (size_t b = 0; b < sizeof(float); ++b) {
    const uint8_t* plane = shuffled.data() + b * count;
    double entropy = 0.0;
    const std::vector<Run> runs = find_runs(plane, count, &entropy);
    if (entropy < kStoreEntropyBits) {  // structure worth Huffman coding: the whole plane run-length coded
      z.set_level(kRle);
      z.feed(plane, count);
      continue;
    }
    size_t at = 0;
    for (const Run& r : runs) {
      if (r.begin > at) {
        z.set_level(kStored);
        z.feed(plane + at, r.begin - at);
      }
      z.set_level(kRle);
      z.feed(plane + r.begin, r.end - r.begin);
      at = r.end;
    }
    if (at < count) {
      z.set_level(kStored);
      z.feed(plane + at, count - at);
    }
  }
  return z.finish();
}

}  // namespace agf::dataset
