#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "tensor/error.h"

namespace agf::io {

namespace fs = std::filesystem;

namespace {

// errno is read right after the call that failed and passed here, before formatting can overwrite it.
std::string os_error(int err) { return std::strerror(err); }

uint64_t random_suffix() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  return rng();
}

fs::path folder_of(const fs::path& target) { return target.has_parent_path() ? target.parent_path() : fs::path("."); }

void check_output_target(const fs::path& target) {
  AGF_CHECK(!target.empty() && target.has_filename(), "'{}' is not a file name to write", target.string());
  std::error_code ec;
  const fs::path dir = folder_of(target);
  AGF_CHECK(fs::is_directory(dir, ec), "{}: the folder {} does not exist", target.string(), dir.string());
  AGF_CHECK(!fs::is_directory(target, ec), "{}: is a folder", target.string());
}

// Syncs a folder so that a rename in it survives a crash. File systems that cannot sync a folder say EINVAL.
void sync_folder(const fs::path& dir, const fs::path& target) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the rename is done; a folder we cannot open we cannot sync either
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  AGF_CHECK(rc == 0 || err == EINVAL, "{}: syncing its folder after the rename failed: {}", target.string(),
            os_error(err));
}

}  // namespace

AtomicFile::AtomicFile(fs::path target, Durability durability)
    : target_(std::move(target)), durability_(durability) {
  check_output_target(target_);
  // Names stay within NAME_MAX: a long target name is shortened in the temporary's (it only has to be unique).
  std::string stem = target_.filename().string();
  if (stem.size() > 200) stem.resize(200);
  int err = 0;
  for (int attempt = 0; attempt < 16; ++attempt) {
    temp_ = folder_of(target_) / fmt::format(".{}.{}.{:016x}.tmp", stem, ::getpid(), random_suffix());
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    err = errno;
    if (fd_ >= 0 || err != EEXIST) break;
  }
  AGF_CHECK(fd_ >= 0, "{}: cannot create a temporary file beside it ({}): {}", target_.string(), temp_.string(),
            os_error(err));
  registration_ = std::make_unique<TemporaryRegistration>(temp_.string());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(std::span<const uint8_t> bytes) {
  AGF_CHECK(fd_ >= 0 && !committed_, "{}: write after commit", target_.string());
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    const int err = errno;
    if (w < 0 && err == EINTR) continue;
    // write() returning 0 sets no errno: what errno holds then is some earlier call's.
    AGF_CHECK(w > 0, "{}: write failed: {}", target_.string(),
              w == 0 ? std::string("no bytes written") : os_error(err));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::write(std::string_view text) {
  write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void AtomicFile::commit() {
  AGF_CHECK(!committed_, "{}: committed twice", target_.string());
  // On any failure the destructor removes the temporary; the target is untouched until the rename.
  const int sync_rc = durability_ == Durability::full ? ::fsync(fd_) : 0;
  const int sync_err = errno;
  const int close_rc = ::close(fd_);
  const int close_err = errno;
  fd_ = -1;
  AGF_CHECK(sync_rc == 0, "{}: fsync of the temporary file failed: {}", target_.string(), os_error(sync_err));
  AGF_CHECK(close_rc == 0, "{}: closing the temporary file failed: {}", target_.string(), os_error(close_err));
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    AGF_FAIL("{}: cannot rename the temporary file into place: {}", target_.string(), os_error(err));
  }
  committed_ = true;
  registration_.reset();
  if (durability_ == Durability::full) sync_folder(folder_of(target_), target_);
}

void write_file_atomically(const fs::path& target, std::span<const uint8_t> bytes, Durability durability) {
  AtomicFile f(target, durability);
  f.write(bytes);
  f.commit();
}

void write_file_atomically(const fs::path& target, std::string_view text, Durability durability) {
  AtomicFile f(target, durability);
  f.write(text);
  f.commit();
}

void sync_file_system(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const int open_err = errno;
  AGF_CHECK(fd >= 0, "{}: cannot open it to sync its file system: {}", path.string(), os_error(open_err));
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  AGF_CHECK(rc == 0, "{}: syncing its file system failed: {}", path.string(), os_error(err));
}

AtomicFile& AtomicFileSet::add(fs::path target) {
  files_.push_back(std::make_unique<AtomicFile>(std::move(target)));
  return *files_.back();
}

void AtomicFileSet::commit_all() {
  for (size_t i = 0; i < files_.size(); ++i) {
    try {
      files_[i]->commit();
    } catch (...) {
      std::error_code ec;
      for (size_t j = i; j < files_.size(); ++j) fs::remove(files_[j]->target(), ec);
      files_.clear();  // removes the temporaries not committed
      throw;
    }
  }
  files_.clear();
}

// ---- output locks ----

fs::path lock_path_for(const fs::path& target) {
  return folder_of(target) / fmt::format(".{}.lock", target.filename().string());
}

OutputLock::OutputLock(fs::path lock_file, std::string what) : path_(std::move(lock_file)) {
  // The file may be removed by its owner between our open and our flock: then the lock we got is on a file nobody
  // else will ever open, so it is checked to still be the one at path_ and taken again if not.
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    const int open_err = errno;
    AGF_CHECK(fd_ >= 0, "{}: cannot create its lock file {}: {}", what, path_.string(), os_error(open_err));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char buf[32] = {};
      const ssize_t got = ::pread(fd_, buf, sizeof buf - 1, 0);
      ::close(fd_);
      fd_ = -1;
      std::string owner;
      for (ssize_t i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; ++i) owner += buf[i];
      AGF_CHECK(err != EWOULDBLOCK, "{} is being written by another run ({}lock {}): wait for it to finish or write "
                "elsewhere", what, owner.empty() ? "" : fmt::format("pid {}, ", owner), path_.string());
      AGF_FAIL("{}: cannot lock {}: {}", what, path_.string(), os_error(err));
    }
    struct stat held {}, now {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      // The pid only serves the message a second run prints; the lock holds without it.
      const std::string pid = std::to_string(::getpid());
      if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  AGF_FAIL("{}: could not take the lock {} (it kept being replaced)", what, path_.string());
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // Removed while still held, so that no other run can take the old file's lock in between.
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::string plain_file_name_problem(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name == "." || name == "..") return fmt::format("'{}' names a folder, not a file", name);
  if (name.find('/') != std::string_view::npos) return "a name with '/' would write outside the output folder";
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "a name with a control character";
  return "";
}

}  // namespace agf::io
