#pragma once
// The compressed form of one record's chunk in a dataset file: HDF5's shuffle filter (byte j of every float
// together) followed by a zlib stream, exactly what HDF5's shuffle + deflate filters decode. Pure and thread-safe,
// so agf-collect's workers compress in parallel and the writer thread only stores.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace agf::dataset {

// Level 1 (the default of agf-collect) is a float-aware choice of deflate block types, not zlib's level 1: a
// z-scored float32 has noise in its three low-order bytes (their planes do not compress, 81% of their size with
// zlib, all of it the padding) and structure in its sign/exponent byte (11%). So, per byte plane, runs of one
// repeated byte (zero padding, a constant lead) and any plane whose other bytes carry less than 7.5 bits of entropy
// per byte are coded with zlib's run-length strategy; the rest go into stored blocks at memcpy speed. Same size as
// zlib's level 1 on preprocessed ECGs, a fraction of the CPU, and stored blocks also inflate at memcpy speed.
// Levels 2-9: zlib's match search at that level over the whole shuffled chunk. `initial_capacity` (0: a size that
// fits) is where the output buffer starts before it grows; the tests start it tiny to exercise the growth.
std::vector<uint8_t> shuffle_deflate(const float* values, size_t count, int level, size_t initial_capacity = 0);

// HDF5's shuffle filter for 4-byte elements: out[b * count + i] = byte b of element i.
void shuffle4(const float* values, size_t count, uint8_t* out);

}  // namespace agf::dataset
