#pragma once
// Whole-file reads. (Files are written through io/atomic_file.h.)
#include <cstdint>
#include <filesystem>
#include <vector>

namespace agf::io {

// The file's bytes; an error names the path when it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace agf::io
