#include "io/file_util.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "tensor/error.h"

namespace agf::io {

namespace fs = std::filesystem;

std::vector<uint8_t> read_file_bytes(const fs::path& path) {
  std::error_code ec;
  AGF_CHECK(fs::is_regular_file(path, ec), "{}: no such file (or not a regular file)", path.string());
  std::ifstream in(path, std::ios::binary);
  AGF_CHECK(in.good(), "{}: cannot open for reading: {}", path.string(), std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  AGF_CHECK(size >= 0, "{}: cannot determine the file size", path.string());
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0) in.read(reinterpret_cast<char*>(bytes.data()), size);
  AGF_CHECK(in.good() || (size == 0 && !in.bad()), "{}: read failed after {} of {} bytes", path.string(),
            in.gcount(), size);
  return bytes;
}

}  // namespace agf::io
