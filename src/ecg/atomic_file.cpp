#include "ecg/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tensor/error.h"

namespace agf::ecg {

std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  return tmp;
}

void commit_file(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  std::filesystem::rename(from, to, ec);
  if (ec) {
    std::error_code ignored;  // the rename's error is the one to report, not the clean-up's
    std::filesystem::remove(from, ignored);
    AGF_FAIL("cannot rename {} to {}: {}", from.string(), to.string(), ec.message());
  }
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  commit_file(stage_file(path, bytes), path);
}

std::filesystem::path stage_file(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path tmp = temporary_path_for(path);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  AGF_CHECK(f != nullptr, "cannot create {}: {}", tmp.string(), std::strerror(errno));
  // errno is taken right after the call that failed: a successful call may leave a stale value, and a later call
  // (fclose after a failed fwrite, remove) may overwrite it.
  int err = 0;
  if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) err = errno;
  if (std::fclose(f) != 0 && err == 0) err = errno;
  if (err != 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    AGF_FAIL("cannot write {} ({} bytes): {}", tmp.string(), bytes.size(), std::strerror(err));
  }
  return tmp;
}

}  // namespace agf::ecg
