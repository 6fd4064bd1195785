#pragma once
// Whole-file reads and all-or-nothing writes for checkpoint files.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>
#include <vector>

namespace agf::io {

// The file's bytes; an error names the path when it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

// Sink handed to a writer: appends bytes to the temporary file, throwing (with the path) on any I/O failure.
class FileSink {
 public:
  virtual ~FileSink() = default;
  virtual void write(const void* data, size_t n) = 0;
  void write(std::string_view s) { write(s.data(), s.size()); }
};

// Runs `writer` against a temporary file beside `path`, flushes it to disk and renames it over `path`. If the
// writer throws, or any write fails, the temporary file is removed and `path` is left as it was.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(FileSink&)>& writer);

}  // namespace agf::io
