#include "io/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

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

namespace {

class FdSink final : public FileSink {
 public:
  FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void write(const void* data, size_t n) override {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      const int err = errno;  // taken at once: formatting the message may overwrite it
      if (w < 0 && err == EINTR) continue;
      // write() returning 0 sets no errno: what errno holds then is some earlier call's.
      AGF_CHECK(w > 0, "{}: write failed: {}", path_, w == 0 ? std::string("no bytes written") : std::strerror(err));
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

void write_file_atomically(const fs::path& path, const std::function<void(FileSink&)>& writer) {
  AGF_CHECK(!path.empty(), "write: empty output path");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  AGF_CHECK(fs::is_directory(dir, ec), "{}: the directory {} does not exist", path.string(), dir.string());
  AGF_CHECK(!fs::is_directory(path, ec), "{}: is a directory", path.string());
  // A per-process, per-call suffix: two writers of the same path never share a temporary file.
  const fs::path tmp =
      dir / fmt::format(".{}.tmp-{}-{:08x}", path.filename().string(), ::getpid(), std::random_device{}());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  const int open_errno = errno;
  AGF_CHECK(fd >= 0, "{}: cannot create the temporary file {}: {}", path.string(), tmp.string(),
            std::strerror(open_errno));
  bool open = true;
  try {
    FdSink sink(fd, path.string());
    writer(sink);
    // Each errno is taken right after its call, before anything else can overwrite it.
    if (::fsync(fd) != 0) {
      const int err = errno;
      AGF_FAIL("{}: fsync failed: {}", path.string(), std::strerror(err));
    }
    open = false;
    if (::close(fd) != 0) {
      const int err = errno;
      AGF_FAIL("{}: close failed: {}", path.string(), std::strerror(err));
    }
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    AGF_FAIL("{}: cannot rename the temporary file into place: {}", path.string(), std::strerror(err));
  }
}

}  // namespace agf::io
